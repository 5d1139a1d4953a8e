package sqldb_test

import (
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/sqldb"
)

// Benchmarks of the SQLite store (go test -bench . ./internal/sqldb/).
// Writes fsync the WAL on every commit (synchronous=FULL), so their numbers
// depend on the disk the temp directory is on.

// benchStore is a SQLite store with one account for the benchmarks.
func benchStore(b *testing.B) (*sqldb.Store, *latchkey.Account) {
	b.Helper()
	s := MustOpen(b, filepath.Join(b.TempDir(), "bench.db"), nil)
	a := MustCreateAccount(b, s, "bench")
	MustCreatePermission(b, s, a.ID, "read", "write")
	return s, a
}

// BenchmarkCreateKey measures one writer creating keys.
func BenchmarkCreateKey(b *testing.B) {
	s, a := benchStore(b)
	c := &latchkey.KeyCreate{Name: "bench", Permissions: []string{"read"}}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := s.CreateKey(ctx, a.ID, c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCreateKeyParallel measures writers contending for the write lock.
func BenchmarkCreateKeyParallel(b *testing.B) {
	s, a := benchStore(b)
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, _, err := s.CreateKey(ctx, a.ID, &latchkey.KeyCreate{Name: "bench", Permissions: []string{"read"}}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkUpdateKeyParallel(b *testing.B) {
	s, a := benchStore(b)
	benchRenames(b, s, a.ID)
}

// benchRenames renames one of 64 keys of the account per op, from 4
// goroutines per CPU.
func benchRenames(b *testing.B, s *sqldb.Store, accountID int64) {
	var ids []int64
	for i := 0; i < 64; i++ {
		k, _ := MustCreateKey(b, s, accountID, nil)
		ids = append(ids, k.ID)
	}
	var n atomic.Int64
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			u := &latchkey.KeyUpdate{Name: ptr(fmt.Sprint(i))}
			if _, err := s.UpdateKey(ctx, accountID, ids[int(i)%len(ids)], u); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkFindVerifyKeyParallel measures the verify path's cold lookup from many readers.
func BenchmarkFindVerifyKeyParallel(b *testing.B) {
	s, a := benchStore(b)
	var hashes []latchkey.SecretHash
	for i := 0; i < 64; i++ {
		k, secret := MustCreateKey(b, s, a.ID, &latchkey.KeyCreate{Permissions: []string{"read", "write"}})
		if err := s.AddDevice(ctx, k.ID, "d", 0); err != nil {
			b.Fatal(err)
		}
		hashes = append(hashes, latchkey.HashSecret(secret))
	}
	var n atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.FindVerifyKey(ctx, hashes[int(n.Add(1))%len(hashes)]); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkFindKeysPage measures listing one page of keys.
func BenchmarkFindKeysPage(b *testing.B) {
	s, a := benchStore(b)
	for i := 0; i < 200; i++ {
		MustCreateKey(b, s, a.ID, &latchkey.KeyCreate{Name: fmt.Sprint("key ", i), Permissions: []string{"read"}})
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if keys, _, err := s.FindKeys(ctx, latchkey.KeyFilter{AccountID: a.ID}); err != nil || len(keys) != 50 {
			b.Fatal(len(keys), err)
		}
	}
}

// BenchmarkFlushUsage measures one write-behind flush of n keys, each with
// last_used_at, a credit spend and one usage counter: what a second of
// verifications spread over n distinct keys costs the store.
func BenchmarkFlushUsage(b *testing.B) {
	for _, n := range []int{100, 10_000} {
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			s, a := benchStore(b)
			batch := &latchkey.UsageBatch{}
			now := time.Now()
			for i := 0; i < n; i++ {
				k, _ := MustCreateKey(b, s, a.ID, &latchkey.KeyCreate{Credits: &latchkey.Credits{Remaining: 1 << 40}})
				batch.Keys = append(batch.Keys, latchkey.KeyUsage{KeyID: k.ID, LastUsedAt: now, CreditsSpent: 1})
				batch.Counts = append(batch.Counts, latchkey.UsageCount{KeyID: k.ID, Minute: now, Code: latchkey.CodeValid, Count: 3})
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				now = now.Add(time.Millisecond)
				for j := range batch.Keys {
					batch.Keys[j].LastUsedAt = now
				}
				if err := s.FlushUsage(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/key")
		})
	}
}
