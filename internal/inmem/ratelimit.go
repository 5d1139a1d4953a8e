// RateLimiter, the single-node fixed-window rate limiter.

package inmem

import (
	"context"
	"sync"
	"time"

	"github.com/latchkey/latchkey"
)

var _ latchkey.RateLimiter = (*RateLimiter)(nil)

const (
	limiterShards = 64
	// sweepEvery is how often, in seconds of the callers' clock, a shard
	// drops the counters of windows that have ended.
	sweepEvery = 10
)

// RateLimiter counts tokens in fixed windows aligned to the Unix epoch: the
// window of a time is [now truncated to window_seconds, + window_seconds),
// with one counter per key and window length. It keeps, per key and window
// length, only the counter of the current window, and drops counters of
// ended windows, so memory is bounded by the keys active within their
// window.
//
// Semantics, chosen so that a Redis implementation (INCRBY with EXPIRE on
// a key named after key id, window length and window start) can match
// them: cost tokens are granted when count+cost ≤ limit, and only granted
// tokens are counted; cost 0 only reads the window, and is granted unless
// the window is over its limit (as after the limit was lowered); Remaining
// is max(limit−count, 0) after the call; ResetAt is the end of the window.
//
// The zero value is ready to use. It is safe for concurrent use.
type RateLimiter struct {
	shards [limiterShards]limiterShard
}

type limiterKey struct {
	keyID         int64
	windowSeconds int64
}

type limiterWindow struct {
	start int64 // Unix seconds
	count int64
}

type limiterShard struct {
	mu        sync.Mutex
	windows   map[limiterKey]limiterWindow
	nextSweep int64
	_         [32]byte // keep shards on separate cache lines
}

// NewRateLimiter returns an empty rate limiter.
func NewRateLimiter() *RateLimiter { return &RateLimiter{} }

// Take spends cost tokens of the key's current window at now if
// count+cost ≤ rl.Limit and reports the window's state afterwards and
// whether the tokens were granted. Cost 0 peeks. Errors: invalid (a
// window of zero or negative length, or a negative cost).
func (l *RateLimiter) Take(ctx context.Context, keyID int64, rl latchkey.RateLimit, cost int64, now time.Time) (latchkey.RateLimitState, bool, error) {
	if rl.WindowSeconds <= 0 || cost < 0 {
		return latchkey.RateLimitState{}, false, latchkey.Errorf(latchkey.EINVALID, "rate limit window must be positive and cost not negative")
	}
	sec := now.Unix()
	start := windowStart(sec, rl.WindowSeconds)
	k := limiterKey{keyID: keyID, windowSeconds: rl.WindowSeconds}
	sh := &l.shards[shardOfKey(keyID, limiterShards)]

	sh.mu.Lock()
	if sh.windows == nil {
		sh.windows = make(map[limiterKey]limiterWindow)
	}
	if sec >= sh.nextSweep {
		sh.sweep(sec)
	}
	w := sh.windows[k]
	if w.start != start {
		w = limiterWindow{start: start}
	}
	granted := cost <= rl.Limit-w.count
	if granted && cost > 0 {
		w.count += cost
		sh.windows[k] = w
	}
	count := w.count
	sh.mu.Unlock()

	remaining := rl.Limit - count
	if remaining < 0 {
		remaining = 0 // the limit was lowered inside the window
	}
	return latchkey.RateLimitState{
		Limit:         rl.Limit,
		WindowSeconds: rl.WindowSeconds,
		Remaining:     remaining,
		ResetAt:       time.Unix(start+rl.WindowSeconds, 0).UTC(),
	}, granted, nil
}

// Len returns how many window counters the limiter holds.
func (l *RateLimiter) Len() int {
	n := 0
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		n += len(sh.windows)
		sh.mu.Unlock()
	}
	return n
}

// sweep drops the counters of windows that ended by sec.
func (sh *limiterShard) sweep(sec int64) {
	for k, w := range sh.windows {
		if w.start+k.windowSeconds <= sec {
			delete(sh.windows, k)
		}
	}
	sh.nextSweep = sec + sweepEvery
}

// windowStart truncates sec to a multiple of ws, rounding down.
func windowStart(sec, ws int64) int64 {
	m := sec % ws
	if m < 0 {
		m += ws
	}
	return sec - m
}
