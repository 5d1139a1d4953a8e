package redis_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/redis"
)

// spend runs one Spend that Redis must decide.
func spend(t *testing.T, k *redis.Counters, sp latchkey.Spend) latchkey.Spend {
	t.Helper()
	decided, err := k.Spend(ctx, &sp)
	if err != nil || !decided {
		t.Fatalf("spend: got decided=%v %v", decided, err)
	}
	return sp
}

func ptr[T any](v T) *T { return &v }

// Credits and the rate limit are decided together: nothing is spent unless
// both pass.
func TestCountersAllOrNothing(t *testing.T) {
	k := MustClient(t, MustRedisURL(t), newPrefix()).Counters(false)
	now := time.Now().UTC()
	base := now.Add(-time.Hour).Truncate(time.Microsecond)
	credits := &latchkey.Credits{Remaining: 2, RefilledAt: &base}
	rl := &latchkey.RateLimit{Limit: 3, WindowSeconds: 3600}
	ask := func(cost int64) latchkey.Spend {
		return spend(t, k, latchkey.Spend{KeyID: 9, Now: now, RateLimit: rl, Tokens: 1, Credits: credits, Cost: cost})
	}
	if sp := ask(1); !sp.RateOK || !sp.CreditsOK || sp.Remaining != 1 || sp.Rate.Remaining != 2 {
		t.Fatalf("first: got %+v", sp)
	}
	// Too expensive: refused for credits, and no rate-limit token is spent.
	if sp := ask(5); !sp.RateOK || sp.CreditsOK || sp.Remaining != 1 || sp.Rate.Remaining != 2 {
		t.Fatalf("over the credits: got %+v, want nothing spent", sp)
	}
	if sp := ask(1); !sp.CreditsOK || sp.Remaining != 0 || sp.Rate.Remaining != 1 {
		t.Fatalf("last credit: got %+v", sp)
	}
	if sp := ask(1); sp.CreditsOK || sp.Rate.Remaining != 1 {
		t.Fatalf("no credits left: got %+v, want refused with the token kept", sp)
	}
	// A peek spends nothing and reports.
	if sp := spend(t, k, latchkey.Spend{KeyID: 9, Now: now, RateLimit: rl, Credits: credits}); !sp.CreditsOK || sp.Remaining != 0 || sp.Rate.Remaining != 1 {
		t.Fatalf("peek: got %+v", sp)
	}
}

// A balance set by an admin (a newer baseline in the store's snapshot)
// replaces the shared one exactly once, however many instances ask with it.
func TestCountersAdminBalanceReplacesOnce(t *testing.T) {
	url, prefix := MustRedisURL(t), newPrefix()
	a := MustClient(t, url, prefix).Counters(false)
	b := MustClient(t, url, prefix).Counters(false)
	now := time.Now().UTC().Truncate(time.Microsecond)
	old := now.Add(-time.Hour)
	oldSnap := &latchkey.Credits{Remaining: 100, RefilledAt: &old}
	for i := 0; i < 10; i++ {
		spend(t, a, latchkey.Spend{KeyID: 1, Now: now, Credits: oldSnap, Cost: 1})
	}
	set := now.Add(-time.Minute)
	newSnap := &latchkey.Credits{Remaining: 5, RefilledAt: &set}
	if sp := spend(t, b, latchkey.Spend{KeyID: 1, Now: now, Credits: newSnap, Cost: 1}); sp.Remaining != 4 || !sp.SpentBase.Equal(set) {
		t.Fatalf("first spend after the admin's change: got remaining %d base %v, want 4 and the new baseline", sp.Remaining, sp.SpentBase)
	}
	// Another instance with the same new snapshot does not reset it again,
	// and one still holding the old snapshot spends from the shared balance.
	if sp := spend(t, a, latchkey.Spend{KeyID: 1, Now: now, Credits: newSnap, Cost: 1}); sp.Remaining != 3 {
		t.Fatalf("second instance with the new snapshot: got %d, want 3", sp.Remaining)
	}
	if sp := spend(t, a, latchkey.Spend{KeyID: 1, Now: now, Credits: oldSnap, Cost: 1}); sp.Remaining != 2 || !sp.SpentBase.Equal(set) {
		t.Fatalf("instance with the old snapshot: got %d base %v, want 2 against the new baseline", sp.Remaining, sp.SpentBase)
	}
}

// A due refill happens once, on whichever instance asks first; an instance
// that computed it from an older baseline learns the new one.
func TestCountersRefillOnce(t *testing.T) {
	url, prefix := MustRedisURL(t), newPrefix()
	a := MustClient(t, url, prefix).Counters(false)
	b := MustClient(t, url, prefix).Counters(false)
	start := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	snap := &latchkey.Credits{Remaining: 1, RefillAmount: ptr[int64](10), RefillInterval: latchkey.RefillHour, RefilledAt: &start}
	if sp := spend(t, a, latchkey.Spend{KeyID: 2, Now: start.Add(time.Minute), Credits: snap, Cost: 1}); sp.Remaining != 0 || sp.Refilled {
		t.Fatalf("before the refill: got %+v", sp)
	}
	later := start.Add(61 * time.Minute)
	sp := spend(t, a, latchkey.Spend{KeyID: 2, Now: later, Credits: snap, Cost: 1})
	if !sp.Refilled || sp.Remaining != 9 || !sp.SpentBase.Equal(later) {
		t.Fatalf("refill due: got %+v, want refilled to 10 then 9", sp)
	}
	// b still holds the old snapshot and baseline: no second refill.
	sp = spend(t, b, latchkey.Spend{KeyID: 2, Now: later.Add(time.Second), Credits: snap, Cost: 1})
	if sp.Refilled || sp.Remaining != 8 || !sp.SpentBase.Equal(later) {
		t.Fatalf("second instance: got %+v, want 8 with no second refill", sp)
	}
}

// Across two instances and many goroutines, a key with N credits and a
// limit of M verifications admits exactly min(N, M).
func TestCountersExactAcrossInstances(t *testing.T) {
	url, prefix := MustRedisURL(t), newPrefix()
	ks := []*redis.Counters{MustClient(t, url, prefix).Counters(false), MustClient(t, url, prefix).Counters(false)}
	now := time.Now().UTC()
	base := now.Add(-time.Hour).Truncate(time.Microsecond)
	for _, tt := range []struct {
		name    string
		limit   int64
		credits int64
	}{{"credits bind", 100, 20}, {"rate binds", 15, 100}} {
		t.Run(tt.name, func(t *testing.T) {
			id := time.Now().UnixNano()
			snap := &latchkey.Credits{Remaining: tt.credits, RefilledAt: &base}
			rl := &latchkey.RateLimit{Limit: tt.limit, WindowSeconds: 3600}
			ok := countGrants(t, 8, 20, func(w int) (bool, error) {
				sp := latchkey.Spend{KeyID: id, Now: now, RateLimit: rl, Tokens: 1, Credits: snap, Cost: 1}
				decided, err := ks[w%2].Spend(ctx, &sp)
				if err == nil && !decided {
					t.Error("Spend left the decision to the caller with Redis up")
				}
				return decided && sp.RateOK && sp.CreditsOK, err
			})
			if want := min(tt.limit, tt.credits); ok != want {
				t.Fatalf("admitted %d, want exactly %d", ok, want)
			}
		})
	}
}

// Credits spent by an instance while Redis was unreachable (its debt) come
// off the shared balance once, when Redis is back; a balance the instance
// seeds anew already holds them.
func TestCountersDebt(t *testing.T) {
	k := MustClient(t, MustRedisURL(t), newPrefix()).Counters(false)
	now := time.Now().UTC().Truncate(time.Microsecond)
	base := now.Add(-time.Hour)
	snap := &latchkey.Credits{Remaining: 100, RefilledAt: &base}
	if sp := spend(t, k, latchkey.Spend{KeyID: 3, Now: now, Credits: snap, Cost: 10}); sp.Remaining != 90 {
		t.Fatalf("first: got %d, want 90", sp.Remaining)
	}
	// 50 spent while Redis was down, against the same baseline.
	if sp := spend(t, k, latchkey.Spend{KeyID: 3, Now: now, Credits: snap, Cost: 1, Debt: 50, DebtBase: &base}); sp.Remaining != 39 {
		t.Fatalf("with a debt of 50: got %d, want 39", sp.Remaining)
	}
	// A debt against another baseline (an admin has set the credits since) is moot.
	older := base.Add(-time.Hour)
	if sp := spend(t, k, latchkey.Spend{KeyID: 3, Now: now, Credits: snap, Cost: 1, Debt: 5, DebtBase: &older}); sp.Remaining != 38 {
		t.Fatalf("with a debt against an older baseline: got %d, want 38", sp.Remaining)
	}
	// Redis lost the balance: seeded from what the instance knows, debt included.
	known := &latchkey.Credits{Remaining: 20, RefilledAt: &base}
	if sp := spend(t, k, latchkey.Spend{KeyID: 4, Now: now, Credits: known, Cost: 1, Debt: 7, DebtBase: &base}); sp.Remaining != 19 {
		t.Fatalf("seeded anew with a debt: got %d, want 19 (the seed holds the debt)", sp.Remaining)
	}
}

// BenchmarkSpendConcurrent measures Spend from 32 goroutines at once, as a
// server under load calls it (a rate limit and credits on one key each).
func BenchmarkSpendConcurrent(b *testing.B) {
	k := MustClient(b, MustRedisURL(b), newPrefix()).Counters(false)
	now := time.Now().UTC()
	base := now.Add(-time.Hour).Truncate(time.Microsecond)
	rl := &latchkey.RateLimit{Limit: 1 << 40, WindowSeconds: 3600}
	var id atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		key := id.Add(1)
		snap := &latchkey.Credits{Remaining: 1 << 40, RefilledAt: &base}
		for pb.Next() {
			sp := latchkey.Spend{KeyID: key, Now: now, RateLimit: rl, Tokens: 1, Credits: snap, Cost: 1}
			if decided, err := k.Spend(ctx, &sp); err != nil || !decided || !sp.RateOK || !sp.CreditsOK {
				b.Errorf("got decided=%v %+v %v", decided, sp, err)
				return
			}
		}
	})
}
