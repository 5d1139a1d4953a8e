package main

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/sqldb"
)

// newStore makes a migrated, bootstrapped SQLite store as latchkey's first
// start does, and closes it.
func newStore(t testing.TB) string {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "latchkey.db")
	s, err := sqldb.Open(ctx, path, latchkey.SystemClock)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestSeedKeys checks that seeded keys are real keys to latchkey's store:
// found by the SHA-256 of their secret, of the default account, active.
func TestSeedKeys(t *testing.T) {
	path := newStore(t)
	ctx := context.Background()
	st, err := seedKeys(ctx, path, 1234, 10, 500)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.sample) != 10 {
		t.Fatalf("kept %d secrets, want 10", len(st.sample))
	}
	s, err := sqldb.Open(ctx, path, latchkey.SystemClock)
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
	// The ids continue after the bootstrap root key, and the next key
	// created through the store gets a fresh one.
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
}

// BenchmarkSeedKeys measures seeding, per key.
func BenchmarkSeedKeys(b *testing.B) {
	path := newStore(b)
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
