// RecentSecretHashes: what a server warms its cache with at start.

package sqldb

import (
	"context"
	"fmt"

	"github.com/latchkey/latchkey"
)

// RecentSecretHashes returns the hashes of at most n live secrets (not past
// their rotation grace) of the keys used most recently, most recent first:
// the keys a new instance is likely to be asked about first. Keys never
// used are not among them. It reads outside the request path, once at
// start; on a large store it sorts every used key. Errors: invalid
// (negative n), unavailable.
func (s *Store) RecentSecretHashes(ctx context.Context, n int) ([]latchkey.SecretHash, error) {
	if n < 0 {
		return nil, latchkey.Errorf(latchkey.EINVALID, "recent secret hashes: n must not be negative, got %d", n)
	}
	if n == 0 {
		return []latchkey.SecretHash{}, nil
	}
	return readTx(ctx, s, func(tx *Tx) ([]latchkey.SecretHash, error) {
		rows, err := tx.query(ctx, `SELECT s.hash FROM keys k JOIN key_secrets s ON s.key_id = k.id
			WHERE k.last_used_at IS NOT NULL AND (s.expires_at IS NULL OR s.expires_at > ?)
			ORDER BY k.last_used_at DESC, s.key_id DESC LIMIT ?`, micros(tx.now), n)
		return collect(rows, err, "recent secret hashes", func(r scanner) (latchkey.SecretHash, error) {
			var h latchkey.SecretHash
			var b []byte
			if err := r.Scan(&b); err != nil {
				return h, err
			}
			if len(b) != len(h) {
				return h, fmt.Errorf("a stored secret hash has %d bytes, want %d", len(b), len(h))
			}
			copy(h[:], b)
			return h, nil
		})
	})
}
