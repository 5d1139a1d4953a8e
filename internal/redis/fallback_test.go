package redis_test

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/faults"
	"github.com/latchkey/latchkey/internal/redis"
)

// countingFallback grants everything and counts how often it was asked.
type countingFallback struct{ n atomic.Int64 }

func (f *countingFallback) Take(_ context.Context, _ int64, rl latchkey.RateLimit, _ int64, _ time.Time) (latchkey.RateLimitState, bool, error) {
	f.n.Add(1)
	return latchkey.RateLimitState{Limit: rl.Limit, Remaining: rl.Limit}, true, nil
}

// MustProxiedClient opens a client that reaches Redis through a proxy the
// test can break.
func MustProxiedClient(t *testing.T) (*redis.Client, *faults.Proxy) {
	t.Helper()
	p, proxied, err := faults.ProxyURL(MustRedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	c, err := redis.Open(ctx, proxied, redis.Options{Prefix: newPrefix(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, p
}

// waitUp waits until the client's Up() is want, failing after four seconds.
func waitUp(t *testing.T, c *redis.Client, want bool) {
	t.Helper()
	for i := 0; i < 200; i++ {
		if c.Up() == want {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("Up() never became %v", want)
}

// MustBreakableLimiter returns a limiter of 2 an hour on a proxied client,
// with a counting fallback, after one take on Redis, with the proxy set to
// mode: the start of every fallback case.
func MustBreakableLimiter(t *testing.T, mode faults.Mode) (*redis.Client, *faults.Proxy, *countingFallback, func(now time.Time) (bool, error)) {
	t.Helper()
	c, p := MustProxiedClient(t)
	fb := &countingFallback{}
	l := c.RateLimiter("rl", fb)
	rl := latchkey.RateLimit{Limit: 2, WindowSeconds: 3600}
	take := func(now time.Time) (bool, error) {
		_, ok, err := l.Take(ctx, 1, rl, 1, now)
		return ok, err
	}
	if ok, err := take(time.Now()); err != nil || !ok {
		t.Fatalf("first take: got %v, %v", ok, err)
	}
	if err := p.SetMode(mode); err != nil {
		t.Fatal(err)
	}
	return c, p, fb, take
}

// While Redis does not answer, the limiter asks its fallback at once (after
// the one call that found Redis gone) and is back on Redis once it answers.
func TestRateLimiterFallsBackAndReturns(t *testing.T) {
	c, p, fb, take := MustBreakableLimiter(t, faults.Refuse)
	now := time.Now()
	for i := 0; i < 5; i++ {
		if ok, err := take(now); err != nil || !ok {
			t.Fatalf("take with Redis down: got %v, %v, want the fallback's grant", ok, err)
		}
	}
	if c.Up() {
		t.Fatal("Up() with Redis refused: got true")
	}
	if n := fb.n.Load(); n != 5 {
		t.Fatalf("fallback asked %d times, want 5", n)
	}
	if err := p.Heal(); err != nil {
		t.Fatal(err)
	}
	waitUp(t, c, true)
	// Back on Redis: one token was spent there before the outage.
	if ok, err := take(now); err != nil || !ok {
		t.Fatalf("take after heal: got %v, %v", ok, err)
	}
	if ok, _ := take(now); ok {
		t.Fatal("third token after heal: granted, want refused by the shared window")
	}
	if n := fb.n.Load(); n != 5 {
		t.Fatalf("fallback asked %d times after heal, want still 5", n)
	}
}

// A partition (no answer at all) is cut short by the call's timeout.
func TestRateLimiterPartitionFallsBack(t *testing.T) {
	c, p, fb, take := MustBreakableLimiter(t, faults.Partition)
	start := time.Now()
	if ok, err := take(time.Now()); err != nil || !ok {
		t.Fatalf("take during a partition: got %v, %v, want the fallback's grant", ok, err)
	}
	t.Logf("a partitioned call fell back after %v", time.Since(start).Round(time.Millisecond))
	if fb.n.Load() != 1 || c.Up() {
		t.Fatalf("fallback asked %d times, up %v; want 1, false", fb.n.Load(), c.Up())
	}
	p.Heal()
	waitUp(t, c, true)
}

// Failing closed, limited keys are refused while Redis is down; open, the
// counters leave the decision to the caller.
func TestCountersWhileDown(t *testing.T) {
	c, p := MustProxiedClient(t)
	rl := &latchkey.RateLimit{Limit: 5, WindowSeconds: 60}
	if err := p.Refuse(); err != nil {
		t.Fatal(err)
	}
	sp := latchkey.Spend{KeyID: 1, Now: time.Now(), RateLimit: rl, Tokens: 1, Cost: 1}
	if decided, err := c.Counters(false).Spend(ctx, &sp); err != nil || decided {
		t.Fatalf("open, Redis down: got decided=%v %v, want undecided", decided, err)
	}
	waitUp(t, c, false)
	sp = latchkey.Spend{KeyID: 1, Now: time.Now(), RateLimit: rl, Tokens: 1, Credits: &latchkey.Credits{Remaining: 9}, Cost: 1}
	decided, err := c.Counters(true).Spend(ctx, &sp)
	if err != nil || !decided || sp.RateOK || sp.CreditsOK {
		t.Fatalf("failing closed, Redis down: got decided=%v rateOK=%v creditsOK=%v %v, want both refused", decided, sp.RateOK, sp.CreditsOK, err)
	}
}
