// Tests of RateLimiter.

package inmem_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/inmem"
)

func take(tb testing.TB, l *inmem.RateLimiter, keyID int64, rl latchkey.RateLimit, cost int64, now time.Time) (latchkey.RateLimitState, bool) {
	tb.Helper()
	st, ok, err := l.Take(context.Background(), keyID, rl, cost, now)
	if err != nil {
		tb.Fatalf("take: %v", err)
	}
	return st, ok
}

func TestRateLimiter_Window(t *testing.T) {
	l := inmem.NewRateLimiter()
	rl := latchkey.RateLimit{Limit: 3, WindowSeconds: 3600}
	t0 := time.Date(2026, 3, 1, 12, 34, 56, 789, time.UTC) // window 12:00–13:00
	reset := time.Date(2026, 3, 1, 13, 0, 0, 0, time.UTC)
	tests := []struct {
		at        time.Duration
		cost      int64
		ok        bool
		remaining int64
		reset     time.Time
	}{
		{0, 1, true, 2, reset},
		{time.Minute, 0, true, 2, reset}, // peek
		{time.Minute, 2, true, 0, reset},
		{2 * time.Minute, 1, false, 0, reset},
		{2 * time.Minute, 0, true, 0, reset},                                // zero tokens are always there
		{25*time.Minute + 4*time.Second, 1, true, 2, reset.Add(time.Hour)},  // 13:00:00 is a new window
		{25*time.Minute + 4*time.Second, 5, false, 2, reset.Add(time.Hour)}, // more than the limit: not counted
	}
	for i, tt := range tests {
		st, ok := take(t, l, 1, rl, tt.cost, t0.Add(tt.at))
		if ok != tt.ok || st.Remaining != tt.remaining || !st.ResetAt.Equal(tt.reset) || st.Limit != 3 {
			t.Fatalf("step %d: got %+v ok=%v, want remaining %d reset %v ok=%v", i, st, ok, tt.remaining, tt.reset, tt.ok)
		}
	}
}

func TestRateLimiter_EpochAligned(t *testing.T) {
	l := inmem.NewRateLimiter()
	rl := latchkey.RateLimit{Limit: 1, WindowSeconds: 7}
	now := time.Unix(1_000_003, 500_000_000) // 1,000,003 = 7·142,857 + 4
	st, _ := take(t, l, 1, rl, 1, now)
	if want := time.Unix(1_000_006, 0); !st.ResetAt.Equal(want) {
		t.Fatalf("got reset %v, want %v", st.ResetAt, want)
	}
	if _, ok := take(t, l, 1, rl, 1, time.Unix(1_000_005, 999_999_999)); ok {
		t.Fatal("got a second token in one window")
	}
	if _, ok := take(t, l, 1, rl, 1, time.Unix(1_000_006, 0)); !ok {
		t.Fatal("got no token in the next window")
	}
}

func TestRateLimiter_Separate(t *testing.T) {
	l := inmem.NewRateLimiter()
	now := time.Unix(1_700_000_000, 0)
	hour := latchkey.RateLimit{Limit: 1, WindowSeconds: 3600}
	take(t, l, 1, hour, 1, now)
	if _, ok := take(t, l, 2, hour, 1, now); !ok {
		t.Fatal("keys share a counter")
	}
	// A changed window length starts its own counter.
	if _, ok := take(t, l, 1, latchkey.RateLimit{Limit: 1, WindowSeconds: 60}, 1, now); !ok {
		t.Fatal("window lengths share a counter")
	}
	// A lowered limit reports no tokens left, never a negative count, and
	// refuses even a peek while the window is over it.
	take(t, l, 3, latchkey.RateLimit{Limit: 5, WindowSeconds: 3600}, 4, now)
	if st, ok := take(t, l, 3, latchkey.RateLimit{Limit: 2, WindowSeconds: 3600}, 0, now); st.Remaining != 0 || ok {
		t.Fatalf("got %+v ok=%v, want 0 remaining, refused", st, ok)
	}
	if _, ok := take(t, l, 4, latchkey.RateLimit{Limit: 0, WindowSeconds: 60}, 1, now); ok {
		t.Fatal("a zero limit granted a token")
	}
}

func TestRateLimiter_Invalid(t *testing.T) {
	l := inmem.NewRateLimiter()
	for _, tt := range []struct {
		rl   latchkey.RateLimit
		cost int64
	}{{latchkey.RateLimit{Limit: 1}, 1}, {latchkey.RateLimit{Limit: 1, WindowSeconds: 60}, -1}} {
		if _, _, err := l.Take(context.Background(), 1, tt.rl, tt.cost, time.Now()); latchkey.ErrorCode(err) != latchkey.EINVALID {
			t.Fatalf("got %v, want invalid", err)
		}
	}
}

// Counters of ended windows are dropped: memory follows the active keys.
func TestRateLimiter_DropsStaleWindows(t *testing.T) {
	l := inmem.NewRateLimiter()
	now := time.Unix(1_700_000_000, 0)
	rl := latchkey.RateLimit{Limit: 10, WindowSeconds: 60}
	for id := range int64(1000) {
		take(t, l, id, rl, 1, now)
	}
	// Peeks and refusals add nothing.
	take(t, l, 5000, rl, 0, now)
	take(t, l, 5001, latchkey.RateLimit{Limit: 0, WindowSeconds: 60}, 1, now)
	if n := l.Len(); n != 1000 {
		t.Fatalf("got %d counters, want 1000", n)
	}
	// Every key again in later windows: still one counter each.
	for w := range int64(5) {
		for id := range int64(1000) {
			take(t, l, id, rl, 1, now.Add(time.Duration(w+1)*time.Minute))
		}
	}
	if n := l.Len(); n != 1000 {
		t.Fatalf("got %d counters, want 1000", n)
	}
	// Once their window has ended, idle keys' counters go.
	later := now.Add(time.Hour)
	for id := range int64(10_000) {
		take(t, l, 1_000_000+id, latchkey.RateLimit{Limit: 10, WindowSeconds: 86400}, 0, later)
	}
	take(t, l, 1_000_000, rl, 1, later)
	take(t, l, 1_000_001, rl, 1, later.Add(time.Minute)) // past the sweep interval
	if n := l.Len(); n > 2 {
		t.Fatalf("got %d counters, want at most 2 (the stale ones dropped)", n)
	}
}

func TestRateLimiter_Concurrent(t *testing.T) {
	l := inmem.NewRateLimiter()
	now := time.Unix(1_700_000_000, 0)
	rl := latchkey.RateLimit{Limit: 1000, WindowSeconds: 60}
	var wg sync.WaitGroup
	var mu sync.Mutex
	granted := 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := 0
			for range 500 {
				if _, ok, _ := l.Take(context.Background(), 1, rl, 1, now); ok {
					n++
				}
			}
			mu.Lock()
			granted += n
			mu.Unlock()
		}()
	}
	wg.Wait()
	if granted != 1000 {
		t.Fatalf("got %d tokens granted, want exactly 1000", granted)
	}
}
