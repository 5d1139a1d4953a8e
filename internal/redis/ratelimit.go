// Package redis holds the counters several latchkey instances share: the
// rate-limit windows of keys, in Redis, so that a key's limit holds across
// every instance serving it. It imports the root package and go-redis only.
package redis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	neturl "net/url"
	"strconv"
	"sync"
	"time"

	"github.com/latchkey/latchkey"
	goredis "github.com/redis/go-redis/v9"
)

var _ latchkey.RateLimiter = (*RateLimiter)(nil)

// ttlMargin is how long, in seconds, a counter outlives its window.
const ttlMargin = 60

// maxLuaInt bounds the numbers handed to the script: Lua numbers are
// doubles, exact up to 2^53. A larger limit is as good as unlimited.
const maxLuaInt = 1 << 53

// takeScript spends ARGV[1] tokens of the window counter KEYS[1] if they fit
// under the limit ARGV[2] (cost 0 only reads it), sets the counter to expire
// in ARGV[3] ms and returns {count after the call, 1 if granted}.
// One script, so that the read, the check and the increment are one atomic
// step however many instances call it.
var takeScript = goredis.NewScript(`
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
local cost = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
if cost <= limit - count then
  if cost > 0 then
    count = redis.call('INCRBY', KEYS[1], cost)
    redis.call('PEXPIRE', KEYS[1], ARGV[3])
  end
  return {count, 1}
end
return {count, 0}
`)

// RateLimiter counts tokens in fixed windows aligned to the Unix epoch, with
// the semantics of inmem.RateLimiter (the single-instance limiter), one Redis
// counter per key, window length and window start, expiring a minute after
// its window ends: cost tokens are granted when count+cost ≤ limit, and only
// granted tokens are counted; cost 0 only reads the window, and is granted
// unless the window is over its limit; Remaining is max(limit−count, 0)
// after the call; ResetAt is the end of the window.
//
// It is safe for concurrent use.
type RateLimiter struct {
	client *goredis.Client
	prefix string
	logger *slog.Logger

	mu       sync.Mutex
	lastWarn time.Time // of the last logged failure
	unlogged int       // failures since, not logged
}

// warnEvery bounds how often failures reaching Redis are logged.
const warnEvery = 10 * time.Second

// Open connects to the Redis server at url (redis:// or rediss://) and
// checks that it answers. Counters are named under prefix ("latchkey" when
// empty), so several deployments can share a server. Failures to reach
// Redis, and go-redis's own messages, are logged to logger (nil: nowhere);
// callers see only that the counters are unavailable.
func Open(ctx context.Context, url, prefix string, logger *slog.Logger) (*RateLimiter, error) {
	opts, err := goredis.ParseURL(url)
	if err != nil {
		// url.Error quotes the whole URL, password included: keep only
		// what went wrong.
		var ue *neturl.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("redis url: %v", err)
	}
	if prefix == "" {
		prefix = "latchkey"
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	} else {
		goredis.SetLogger(slogPrinter{logger}) // process-wide: the last Open wins
	}
	c := goredis.NewClient(opts)
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		return nil, fmt.Errorf("connect to redis at %s: %w", opts.Addr, err)
	}
	return &RateLimiter{client: c, prefix: prefix, logger: logger}, nil
}

// slogPrinter hands go-redis's log lines to slog, so they keep the
// server's log format.
type slogPrinter struct{ l *slog.Logger }

func (p slogPrinter) Printf(ctx context.Context, format string, v ...any) {
	p.l.Warn("redis client", "detail", fmt.Sprintf(format, v...))
}

// unavailable logs why Redis could not be used, at most once per
// warnEvery, and returns the error callers see, which names no address.
func (l *RateLimiter) unavailable(cause error) error {
	l.mu.Lock()
	now := time.Now()
	if now.Sub(l.lastWarn) >= warnEvery {
		l.logger.Warn("rate-limit counters unavailable", "err", cause, "failures_not_logged", l.unlogged)
		l.lastWarn, l.unlogged = now, 0
	} else {
		l.unlogged++
	}
	l.mu.Unlock()
	return latchkey.Errorf(latchkey.EUNAVAILABLE, "rate-limit counters unavailable; try again shortly")
}

// Close closes the connections.
func (l *RateLimiter) Close() error { return l.client.Close() }

// Ping reports whether Redis answers, for readiness checks.
func (l *RateLimiter) Ping(ctx context.Context) error {
	if err := l.client.Ping(ctx).Err(); err != nil {
		return l.unavailable(err)
	}
	return nil
}

// Take spends cost tokens of the key's current window at now if
// count+cost ≤ rl.Limit and reports the window's state afterwards and
// whether the tokens were granted. Cost 0 peeks. Errors: invalid (a window
// of zero or negative length, or a negative cost), unavailable (Redis does
// not answer).
func (l *RateLimiter) Take(ctx context.Context, keyID int64, rl latchkey.RateLimit, cost int64, now time.Time) (latchkey.RateLimitState, bool, error) {
	if rl.WindowSeconds <= 0 || cost < 0 {
		return latchkey.RateLimitState{}, false, latchkey.Errorf(latchkey.EINVALID, "rate limit window must be positive and cost not negative")
	}
	start := windowStart(now.Unix(), rl.WindowSeconds)
	end := start + rl.WindowSeconds
	limit := min(rl.Limit, maxLuaInt)
	key := l.prefix + ":rl:" + strconv.FormatInt(keyID, 10) + ":" + strconv.FormatInt(rl.WindowSeconds, 10) + ":" + strconv.FormatInt(start, 10)
	// The counter lives until a minute after its window ends, by this
	// instance's clock: a TTL, so Redis's clock does not matter, with a
	// margin for instances whose clocks disagree by less than a minute.
	ttl := (end-now.Unix()+ttlMargin)*1000 - int64(now.Nanosecond()/1e6)
	res, err := takeScript.Run(ctx, l.client, []string{key}, min(cost, maxLuaInt), limit, ttl).Int64Slice()
	if err != nil {
		if ctx.Err() != nil { // the caller gave up: nothing to report
			return latchkey.RateLimitState{}, false, latchkey.Errorf(latchkey.EUNAVAILABLE, "request cancelled")
		}
		return latchkey.RateLimitState{}, false, l.unavailable(err)
	}
	if len(res) != 2 {
		return latchkey.RateLimitState{}, false, fmt.Errorf("rate-limit script answered %v", res)
	}
	count, granted := res[0], res[1] == 1
	return latchkey.RateLimitState{
		Limit:     rl.Limit,
		Remaining: max(rl.Limit-count, 0),
		ResetAt:   time.Unix(end, 0).UTC(),
	}, granted, nil
}

// windowStart truncates sec to a multiple of ws, rounding down.
func windowStart(sec, ws int64) int64 {
	m := sec % ws
	if m < 0 {
		m += ws
	}
	return sec - m
}
