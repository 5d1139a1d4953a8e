package main

import (
	"fmt"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/latchkey/latchkey/internal/testenv"
)

// TestEndToEndPostgres runs the end-to-end walk on PostgreSQL.
func TestEndToEndPostgres(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	ts := MustStartServer(t, Config{DatabaseURL: dsn})
	if ts.RootKey == "" {
		t.Fatal("first start printed no root key")
	}
	k := ts.mustCreate(t, map[string]any{"name": "pg", "credits": map[string]any{"remaining": 2}, "max_devices": 1})
	wantCode(t, ts.verify(t, map[string]any{"key": k.Secret, "device_id": "a"}), "VALID")
	wantCode(t, ts.verify(t, map[string]any{"key": k.Secret, "device_id": "b"}), "DEVICE_LIMIT_EXCEEDED")
	wantCode(t, ts.verify(t, map[string]any{"key": k.Secret, "device_id": "a"}), "VALID")
	wantCode(t, ts.verify(t, map[string]any{"key": k.Secret, "device_id": "a"}), "USAGE_EXCEEDED")
	ts.do(t, "POST", fmt.Sprintf("/v1/keys/%d/revoke", k.ID), map[string]any{}, nil)
	wantCode(t, ts.verify(t, map[string]any{"key": k.Secret}), "REVOKED")
}

// TestRevokeReachesOtherInstances runs three servers on one PostgreSQL: a
// key verified (and so cached) on every one is revoked on the first, and
// the others obey within a bounded time, which is logged.
func TestRevokeReachesOtherInstances(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	a := MustStartServer(t, Config{DatabaseURL: dsn})
	b := MustStartServer(t, Config{DatabaseURL: dsn})
	c := MustStartServer(t, Config{DatabaseURL: dsn})
	if b.RootKey != "" || c.RootKey != "" {
		t.Fatal("a second instance on a bootstrapped store printed a root key")
	}
	b.RootKey, c.RootKey = a.RootKey, a.RootKey
	k := a.mustCreate(t, map[string]any{"name": "shared"})
	for _, s := range []*testServer{a, b, c} {
		wantCode(t, s.verify(t, map[string]any{"key": k.Secret}), "VALID")
	}
	start := time.Now()
	a.do(t, "POST", fmt.Sprintf("/v1/keys/%d/revoke", k.ID), map[string]any{"reason": "x"}, nil)
	wantCode(t, a.verify(t, map[string]any{"key": k.Secret}), "REVOKED")
	for i, s := range []*testServer{b, c} {
		deadline := time.Now().Add(10 * time.Second)
		for s.verify(t, map[string]any{"key": k.Secret}).Code != "REVOKED" {
			if time.Now().After(deadline) {
				t.Fatalf("instance %d still accepts the key 10 s after the revoke", i+2)
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Logf("instance %d obeyed the revoke %v after it was acknowledged", i+2, time.Since(start))
	}
}

// TestRateLimitAcrossInstances runs two servers on one PostgreSQL with
// shared Redis counters: a key's rate limit holds across both, whichever
// instance answers.
func TestRateLimitAcrossInstances(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	redisURL := testenv.RedisURL(t)
	a := MustStartServer(t, Config{DatabaseURL: dsn, RedisURL: redisURL})
	b := MustStartServer(t, Config{DatabaseURL: dsn, RedisURL: redisURL})
	b.RootKey = a.RootKey
	k := a.mustCreate(t, map[string]any{"name": "shared limit", "rate_limit": map[string]any{"limit": 4, "window_seconds": 3600}})
	var got []string
	for i := range 6 {
		s := a
		if i%2 == 1 {
			s = b
		}
		got = append(got, s.verify(t, map[string]any{"key": k.Secret}).Code)
	}
	want := []string{"VALID", "VALID", "VALID", "VALID", "RATE_LIMITED", "RATE_LIMITED"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("verifications alternating between two instances: got %v, want %v", got, want)
	}
	for _, s := range []*testServer{a, b} {
		if st := s.do(t, "GET", "/readyz", nil, nil); st != 200 {
			t.Errorf("readyz with Redis: got %d, want 200", st)
		}
	}
}
