package sqldb_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
)

// TestRecentSecretHashes: the live secrets of the keys used most recently,
// most recent first; never-used keys and secrets past their grace are not
// among them.
func TestRecentSecretHashes(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			if b.skip != "" {
				t.Skip(b.skip)
			}
			e, s, a := MustAcme(t, b)
			var hashes []latchkey.SecretHash
			var ids []int64
			for i := 0; i < 4; i++ {
				k, secret := MustCreateKey(t, s, a.ID, nil)
				ids, hashes = append(ids, k.ID), append(hashes, latchkey.HashSecret(secret))
			}
			// Key 3 rotated with no grace: its old secret has ended, the
			// new one is live.
			_, fresh, err := s.RotateKey(ctx, a.ID, ids[3], 0)
			if err != nil {
				t.Fatal(err)
			}
			e.clock.Add(time.Second)
			now := e.clock.Now()
			batch := &latchkey.UsageBatch{Keys: []latchkey.KeyUsage{
				{KeyID: ids[0], LastUsedAt: now.Add(-3 * time.Minute)},
				{KeyID: ids[2], LastUsedAt: now.Add(-1 * time.Minute)},
				{KeyID: ids[3], LastUsedAt: now.Add(-2 * time.Minute)},
			}}
			if err := s.FlushUsage(ctx, batch); err != nil {
				t.Fatal(err)
			}
			got, err := s.RecentSecretHashes(ctx, 10)
			if err != nil {
				t.Fatal(err)
			}
			want := []latchkey.SecretHash{hashes[2], latchkey.HashSecret(fresh), hashes[0]}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("got %x\nwant %x", got, want)
			}
			if got, _ := s.RecentSecretHashes(ctx, 1); len(got) != 1 || got[0] != hashes[2] {
				t.Errorf("n=1: got %x, want the most recent", got)
			}
			_, err = s.RecentSecretHashes(ctx, -1)
			wantCode(t, err, latchkey.EINVALID)
		})
	}
}
