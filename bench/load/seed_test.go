package main

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/sqldb"

	"github.com/latchkey/latchkey/internal/testenv"
)

// newStore makes a migrated, bootstrapped store at dsn as latchkey's first
// start does, and closes it.
func newStore(tb testing.TB, dsn string) string {
	tb.Helper()
	ctx := context.Background()
	s, err := sqldb.Open(ctx, dsn, latchkey.SystemClock)
	if err != nil {
		tb.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		tb.Fatal(err)
	}
	if _, err := s.Bootstrap(ctx); err != nil {
		tb.Fatal(err)
	}
	return dsn
}

// sqliteDSN is a fresh SQLite file.
func sqliteDSN(tb testing.TB) string {
	return filepath.Join(tb.TempDir(), "latchkey.db")
}

// postgresDSN is a fresh schema in LATCHKEY_TEST_POSTGRES_URL, dropped when
// the test ends, made the way the load tool makes its own. Without the URL
// the test is skipped, or fails under CI=true.
func postgresDSN(tb testing.TB) string {
	tb.Helper()
	base := testenv.PostgresURL(tb)
	ctx := context.Background()
	pg, err := openPostgresServer(ctx, base)
	if err != nil {
		tb.Fatal(err)
	}
	schema, dsn, err := pg.newSchema(ctx)
	if err != nil {
		pg.Close()
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := pg.dropSchema(schema); err != nil {
			tb.Error(err)
		}
		pg.Close()
	})
	return dsn
}

// TestSeedKeys checks that seeded keys are real keys to latchkey's store,
// on SQLite and on PostgreSQL: found by the SHA-256 of their secret, of the
// default account, active.
func TestSeedKeys(t *testing.T) {
	for _, db := range []struct {
		name string
		dsn  func(testing.TB) string
	}{{"sqlite", sqliteDSN}, {"postgres", postgresDSN}} {
		t.Run(db.name, func(t *testing.T) {
			dsn := newStore(t, db.dsn(t))
			ctx := context.Background()
			st, err := seedKeys(ctx, dsn, 1234, 10, 500)
			if err != nil {
				t.Fatal(err)
			}
			if len(st.sample) != 10 {
				t.Fatalf("kept %d secrets, want 10", len(st.sample))
			}
			s, err := sqldb.Open(ctx, dsn, latchkey.SystemClock)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			ids := map[int64]bool{}
			for _, secret := range st.sample {
				if !latchkey.CheckSecret(secret) {
					t.Fatalf("bad checksum in %q", secret)
				}
				vk, err := s.FindVerifyKey(ctx, latchkey.HashSecret(secret))
				if err != nil {
					t.Fatalf("seeded secret not found: %v", err)
				}
				if vk.Kind != latchkey.KindAPI || !vk.Enabled || vk.RevokedAt != nil || ids[vk.KeyID] {
					t.Fatalf("odd seeded key %+v", vk)
				}
				ids[vk.KeyID] = true
			}
			// The ids continue after the bootstrap root key, and the next
			// key created through the store gets a fresh one.
			acct, err := s.FindAccountByName(ctx, latchkey.DefaultAccountName)
			if err != nil {
				t.Fatal(err)
			}
			k, _, err := s.CreateKey(ctx, acct.ID, &latchkey.KeyCreate{Kind: latchkey.KindAPI, Name: "after seeding"})
			if err != nil {
				t.Fatal(err)
			}
			if k.ID != 1236 {
				t.Fatalf("key created after seeding has id %d, want 1236", k.ID)
			}
		})
	}
}

// BenchmarkSeedKeys measures seeding, per key.
func BenchmarkSeedKeys(b *testing.B) {
	path := newStore(b, sqliteDSN(b))
	b.ResetTimer()
	if _, err := seedKeys(context.Background(), path, b.N, 1, 100_000); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkNewSecret is the secret generation part of seeding.
func BenchmarkNewSecret(b *testing.B) {
	for b.Loop() {
		latchkey.NewSecret("lk")
	}
}
