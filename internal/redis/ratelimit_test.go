package redis_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/redis"

	"github.com/latchkey/latchkey/internal/testenv"
)

var ctx = context.Background()

// MustRedisURL returns LATCHKEY_TEST_REDIS_URL, or skips (fails under
// CI=true) without it.
func MustRedisURL(tb testing.TB) string { tb.Helper(); return testenv.RedisURL(tb) }

// MustClient opens a client on url under prefix.
func MustClient(tb testing.TB, url, prefix string) *redis.Client {
	tb.Helper()
	c, err := redis.Open(ctx, url, redis.Options{Prefix: prefix})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// newPrefix returns a fresh counter prefix, so tests share nothing.
func newPrefix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "lktest-" + hex.EncodeToString(b[:])
}

// MustLimiter opens a limiter on LATCHKEY_TEST_REDIS_URL under a fresh
// prefix, with a fallback that fails the test if it is asked.
func MustLimiter(tb testing.TB) (*redis.RateLimiter, string) {
	tb.Helper()
	prefix := newPrefix()
	return MustClient(tb, MustRedisURL(tb), prefix).RateLimiter("rl", refuseFallback{tb}), prefix
}

// refuseFallback is a fallback that must not be asked.
type refuseFallback struct{ tb testing.TB }

func (f refuseFallback) Take(context.Context, int64, latchkey.RateLimit, int64, time.Time) (latchkey.RateLimitState, bool, error) {
	f.tb.Error("the fallback limiter was asked while Redis was up")
	return latchkey.RateLimitState{}, false, nil
}

// TestTake checks the sliding window grants the limit and refuses past it, with the state a caller reports.
func TestTake(t *testing.T) {
	l, _ := MustLimiter(t)
	rl := latchkey.RateLimit{Limit: 3, WindowSeconds: 60}
	now := time.Date(2026, 12, 1, 10, 0, 30, 0, time.UTC)
	wantReset := time.Date(2026, 12, 1, 10, 1, 0, 0, time.UTC)
	steps := []struct {
		name          string
		cost          int64
		at            time.Time
		granted       bool
		wantRemaining int64
	}{
		{"first", 1, now, true, 2},
		{"two more", 2, now, true, 0},
		{"over", 1, now, false, 0},
		{"peek at the limit", 0, now, true, 0},
		{"too big for a fresh window", 4, now.Add(time.Minute), false, 3},
		{"next window", 1, now.Add(time.Minute), true, 2},
	}
	for _, st := range steps {
		state, granted, err := l.Take(ctx, 1, rl, st.cost, st.at)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if granted != st.granted || state.Remaining != st.wantRemaining || state.Limit != 3 {
			t.Errorf("%s: got granted %v %+v, want granted %v remaining %d", st.name, granted, state, st.granted, st.wantRemaining)
		}
	}
	if state, _, _ := l.Take(ctx, 1, rl, 0, now); !state.ResetAt.Equal(wantReset) {
		t.Errorf("reset_at: got %v, want %v (the window's end, aligned to the minute)", state.ResetAt, wantReset)
	}
	// Another key, or another window length of the same key, counts apart.
	if _, granted, _ := l.Take(ctx, 2, rl, 3, now); !granted {
		t.Error("key 2: got refused, want its own window")
	}
	if _, granted, _ := l.Take(ctx, 1, latchkey.RateLimit{Limit: 3, WindowSeconds: 3600}, 3, now); !granted {
		t.Error("key 1, hour window: got refused, want its own counter")
	}
	// A limit lowered inside the window: peeks are refused, remaining is 0.
	state, granted, err := l.Take(ctx, 1, latchkey.RateLimit{Limit: 1, WindowSeconds: 60}, 0, now)
	if err != nil || granted || state.Remaining != 0 {
		t.Errorf("lowered limit: got granted %v %+v %v, want refused with 0 remaining", granted, state, err)
	}
	// Unlimited in practice: a limit beyond what Lua counts exactly.
	if _, granted, err := l.Take(ctx, 3, latchkey.RateLimit{Limit: 1 << 62, WindowSeconds: 60}, 1, now); err != nil || !granted {
		t.Errorf("huge limit: got %v %v, want granted", granted, err)
	}
}

// TestTakeInvalid checks a zero window or a negative cost is refused as invalid.
func TestTakeInvalid(t *testing.T) {
	l, _ := MustLimiter(t)
	for _, tt := range []struct {
		rl   latchkey.RateLimit
		cost int64
	}{
		{latchkey.RateLimit{Limit: 1, WindowSeconds: 0}, 1},
		{latchkey.RateLimit{Limit: 1, WindowSeconds: 60}, -1},
	} {
		if _, _, err := l.Take(ctx, 1, tt.rl, tt.cost, time.Now()); latchkey.ErrorCode(err) != latchkey.EINVALID {
			t.Errorf("%+v cost %d: got %v, want invalid", tt.rl, tt.cost, err)
		}
	}
}

// TestSharedAcrossInstances takes tokens of one key through two limiters
// (two instances) from many goroutines at once: exactly the limit is
// granted, whichever instance asks.
func TestSharedAcrossInstances(t *testing.T) {
	a, prefix := MustLimiter(t)
	b := MustClient(t, MustRedisURL(t), prefix).RateLimiter("rl", refuseFallback{t})
	const limit, workers, each = 50, 8, 20
	rl := latchkey.RateLimit{Limit: limit, WindowSeconds: 3600}
	now := time.Now()
	got := countGrants(t, workers, each, func(w int) (bool, error) {
		l := []*redis.RateLimiter{a, b}[w%2]
		_, ok, err := l.Take(ctx, 7, rl, 1, now)
		return ok, err
	})
	if got != limit {
		t.Fatalf("granted %d tokens across two instances, want exactly the limit %d", got, limit)
	}
}

// countGrants calls try(w) each times from each of workers goroutines at
// once, w naming the goroutine, and counts the calls that granted: the
// shape of every exactness case across instances. An error fails t.
func countGrants(t *testing.T, workers, each int, try func(w int) (bool, error)) int64 {
	var granted atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				ok, err := try(w)
				if err != nil {
					t.Error(err)
					return
				}
				if ok {
					granted.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return granted.Load()
}

// TestOpenErrors checks Open refuses a URL of another scheme and a Redis that is not there.
func TestOpenErrors(t *testing.T) {
	if _, err := redis.Open(ctx, "http://127.0.0.1:6379", redis.Options{}); err == nil {
		t.Error("an http:// URL: got no error")
	}
	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := redis.Open(short, "redis://127.0.0.1:1/0", redis.Options{}); err == nil {
		t.Error("nothing listening: got no error")
	}
}

// A URL that does not parse is refused without repeating it: it may hold a
// password.
func TestOpenDoesNotRepeatTheURL(t *testing.T) {
	_, err := redis.Open(ctx, "redis://default:Sup3r%Secret@127.0.0.1:6379/0", redis.Options{})
	if err == nil || strings.Contains(err.Error(), "Sup3r") {
		t.Fatalf("got %v, want an error without the password", err)
	}
}

// BenchmarkTake measures one rate-limit check through Redis: the round trip
// a limited verification adds when instances share counters.
func BenchmarkTake(b *testing.B) {
	l, _ := MustLimiter(b)
	rl := latchkey.RateLimit{Limit: 1 << 40, WindowSeconds: 3600}
	now := time.Now()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, ok, err := l.Take(ctx, 1, rl, 1, now); err != nil || !ok {
				b.Errorf("got %v, %v", ok, err)
				return
			}
		}
	})
}
