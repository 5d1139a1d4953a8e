// The reads of verification: FindKeyBySecret and FindVerifyKey.

package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/latchkey/latchkey"
)

// Secrets are looked up by their SHA-256 only; the secret itself never
// reaches this package.

var _ latchkey.VerifyStore = (*Store)(nil)

// FindKeyBySecret returns the key of the account owning the secret with this
// hash, whether or not that secret's rotation grace has ended.
// Errors: not_found (unknown hash, or a key of another account).
func (s *Store) FindKeyBySecret(ctx context.Context, accountID int64, hash latchkey.SecretHash) (*latchkey.Key, error) {
	return readTx(ctx, s, func(tx *Tx) (*latchkey.Key, error) {
		return keyOf(ctx, tx, tx.queryRow(ctx, `SELECT `+keyColumns+`
			FROM key_secrets s JOIN keys k ON k.id = s.key_id
			WHERE s.hash = ? AND k.account_id = ?`, hash[:], accountID), "find key by secret", "key not found")
	})
}

// FindVerifyKey loads what verification needs of the key owning the secret
// with this hash, of any account: the key, the secret's end of grace, the
// permissions, the devices and the credits. Errors: not_found.
func (s *Store) FindVerifyKey(ctx context.Context, hash latchkey.SecretHash) (*latchkey.VerifyKey, error) {
	return readTx(ctx, s, func(tx *Tx) (*latchkey.VerifyKey, error) {
		var secretExpiresAt sql.NullInt64
		k, err := scanKey(scanAlso{tx.queryRowCached(ctx, findVerifyKeyQuery, hash[:]), []any{&secretExpiresAt}})
		if errors.Is(err, sql.ErrNoRows) {
			return nil, latchkey.Errorf(latchkey.ENOTFOUND, "key not found")
		} else if err != nil {
			return nil, fmt.Errorf("find verify key: %w", err)
		}
		if err := loadPermissions(ctx, tx, []*latchkey.Key{k}); err != nil {
			return nil, err
		}
		devices, err := findDevices(ctx, tx, k.ID)
		if err != nil {
			return nil, err
		}
		vk := &latchkey.VerifyKey{
			KeyID:           k.ID,
			AccountID:       k.AccountID,
			Kind:            k.Kind,
			Name:            k.Name,
			OwnerEmail:      k.OwnerEmail,
			Enabled:         k.Enabled,
			ExpiresAt:       k.ExpiresAt,
			RevokedAt:       k.RevokedAt,
			SecretExpiresAt: timePtr(secretExpiresAt),
			Permissions:     k.Permissions,
			RateLimit:       k.RateLimit,
			MaxDevices:      k.MaxDevices,
			Devices:         make([]string, len(devices)),
			Credits:         k.Credits,
			Meta:            k.Meta,
		}
		for i, d := range devices {
			vk.Devices[i] = d.DeviceID
		}
		return vk, nil
	})
}

// findVerifyKeyQuery reads a key and its secret's end of grace by the
// secret's hash.
const findVerifyKeyQuery = `SELECT ` + keyColumns + `, s.expires_at
	FROM key_secrets s JOIN keys k ON k.id = s.key_id
	WHERE s.hash = ?`

// scanAlso scans a row into a key's columns plus extra destinations.
type scanAlso struct {
	row   row
	extra []any
}

func (s scanAlso) Scan(dest ...any) error { return s.row.Scan(append(dest, s.extra...)...) }
