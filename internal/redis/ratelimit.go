package redis

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/latchkey/latchkey"
	goredis "github.com/redis/go-redis/v9"
)

// ttlMargin is how long, in seconds, a window counter outlives its window:
// a margin for instances whose clocks disagree by less than a minute.
const ttlMargin = 60

// creditsTTL is how long an unused credit balance stays in Redis. Past it,
// the next verification seeds it again from the store, which the
// write-behind flushes have kept up to date.
const creditsTTL = 7 * 24 * time.Hour

// maxLuaInt bounds the numbers handed to the script: Lua numbers are
// doubles, exact up to 2^53. A larger limit is as good as unlimited.
const maxLuaInt = 1 << 53

// spendScript decides a verification's rate limit and credits together, in
// one atomic step however many instances call it, and spends only if both
// pass.
//
// KEYS[1] is the window counter (used when ARGV[1] = 1), KEYS[2] the credit
// balance, a hash of b (baseline: when the credits were last set or
// refilled, unix µs) and r (remaining), used when ARGV[5] = 1.
//
// ARGV: 1 has rate limit, 2 tokens, 3 limit, 4 counter TTL ms, 5 has
// credits, 6 the store's baseline, 7 the store's remaining, 8 cost, 9 the
// baseline the caller computed the refill from (-1: no refill), 10 when
// that refill is due (µs), 11 refill amount, 12 now (µs), 13 balance TTL ms,
// 14 debt (credits the caller spent while Redis was unreachable), 15 the
// baseline the debt was spent against (-1: none).
//
// The store's balance replaces Redis's when its baseline is newer (an
// admin set the credits, or Redis lost the balance): exactly once, since
// the baseline then matches. Otherwise a debt spent against the same
// baseline is taken off first (a replaced balance already holds it). When
// the refill was computed from another
// baseline than Redis holds, the script answers {…, 2} and spends nothing:
// the caller computes the refill from the baseline returned and asks again.
//
// Returns {window count, rate ok, credits ok, remaining, baseline, status}
// with status 0 decided, 1 decided and refilled, 2 ask again, 3 ask again
// without the debt (the replaced balance holds it).
var spendScript = goredis.NewScript(`
local hasRL, tokens, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local hasCR, cost = tonumber(ARGV[5]), tonumber(ARGV[8])
local count, rlOK = 0, 1
if hasRL == 1 then
  count = tonumber(redis.call('GET', KEYS[1]) or '0')
  if tokens > limit - count then rlOK = 0 end
end
local rem, base, crOK, status = 0, 0, 1, 0
if hasCR == 1 then
  local seedBase, seedRem = tonumber(ARGV[6]), tonumber(ARGV[7])
  local h = redis.call('HMGET', KEYS[2], 'b', 'r')
  local replaced = false
  if (not h[1]) or tonumber(h[1]) < seedBase then
    base, rem, replaced = seedBase, seedRem, true
    redis.call('HSET', KEYS[2], 'b', base, 'r', rem)
  else
    base, rem = tonumber(h[1]), tonumber(h[2])
  end
  local refillFrom = tonumber(ARGV[9])
  if refillFrom >= 0 and refillFrom ~= base then
    if replaced then return {count, rlOK, 0, rem, base, 3} end
    return {count, rlOK, 0, rem, base, 2}
  end
  local debt = tonumber(ARGV[14])
  if debt > 0 and not replaced and tonumber(ARGV[15]) == base then
    rem = math.max(rem - debt, 0)
    redis.call('HSET', KEYS[2], 'r', rem)
  end
  if refillFrom >= 0 then
    local now = tonumber(ARGV[12])
    if now >= tonumber(ARGV[10]) then
      base, rem, status = now, tonumber(ARGV[11]), 1
      redis.call('HSET', KEYS[2], 'b', base, 'r', rem)
    end
  end
  if cost > rem then crOK = 0 end
  redis.call('PEXPIRE', KEYS[2], ARGV[13])
end
if rlOK == 1 and crOK == 1 then
  if hasRL == 1 and tokens > 0 then
    count = redis.call('INCRBY', KEYS[1], tokens)
    redis.call('PEXPIRE', KEYS[1], ARGV[4])
  end
  if hasCR == 1 and cost > 0 then
    rem = redis.call('HINCRBY', KEYS[2], 'r', -cost)
  end
end
return {count, rlOK, crOK, rem, base, status}
`)

// spendResult is spendScript's answer.
type spendResult struct {
	count, remaining, base int64
	rateOK, creditsOK      bool
	refilled, askAgain     bool
	replaced               bool // with askAgain: the balance was replaced, debt and all
}

// window returns the window counter's name, the end of the window holding
// now (unix seconds) and the counter's TTL in milliseconds.
func (c *Client) window(ns string, keyID int64, rl latchkey.RateLimit, now time.Time) (key string, end, ttlMS int64) {
	start := windowStart(now.Unix(), rl.WindowSeconds)
	end = start + rl.WindowSeconds
	key = c.prefix + ":" + ns + ":" + strconv.FormatInt(keyID, 10) + ":" + strconv.FormatInt(rl.WindowSeconds, 10) + ":" + strconv.FormatInt(start, 10)
	// The counter lives until a minute after its window ends, by this
	// instance's clock: a TTL, so Redis's clock does not matter.
	ttlMS = (end-now.Unix()+ttlMargin)*1000 - int64(now.Nanosecond()/1e6)
	return key, end, ttlMS
}

// RateLimiter counts tokens in fixed windows aligned to the Unix epoch in
// Redis, with the semantics of the in-memory limiter, for every instance at
// once: cost tokens are granted when count+cost ≤ limit, and only granted
// tokens are counted; cost 0 only reads the window, and is granted unless
// the window is over its limit; Remaining is max(limit−count, 0) after the
// call; ResetAt is the end of the window. While Redis is down it asks its
// fallback instead.
//
// It is safe for concurrent use.
type RateLimiter struct {
	c        *Client
	ns       string
	fallback latchkey.RateLimiter
}

var _ latchkey.RateLimiter = (*RateLimiter)(nil)

// RateLimiter returns a limiter whose counters are named under ns (so
// that, say, the sign-in throttle and the keys' limits never share one),
// asking fallback while Redis is down.
func (c *Client) RateLimiter(ns string, fallback latchkey.RateLimiter) *RateLimiter {
	return &RateLimiter{c: c, ns: ns, fallback: fallback}
}

// Take spends cost tokens of the key's current window at now if
// count+cost ≤ rl.Limit and reports the window's state afterwards and
// whether the tokens were granted. Cost 0 peeks. Errors: invalid (a window
// of zero or negative length, or a negative cost), unavailable (the
// caller's request was cancelled).
func (l *RateLimiter) Take(ctx context.Context, keyID int64, rl latchkey.RateLimit, cost int64, now time.Time) (latchkey.RateLimitState, bool, error) {
	if rl.WindowSeconds <= 0 || cost < 0 {
		return latchkey.RateLimitState{}, false, latchkey.Errorf(latchkey.EINVALID, "rate limit window must be positive and cost not negative")
	}
	if !l.c.Up() {
		return l.fallback.Take(ctx, keyID, rl, cost, now)
	}
	key, end, ttl := l.c.window(l.ns, keyID, rl, now)
	res, err := l.c.run(ctx, []string{key, key}, 1, min(cost, maxLuaInt), min(rl.Limit, maxLuaInt), ttl, 0, 0, 0, 0, -1, 0, 0, 0, 0, 0, -1)
	if err != nil {
		if ctx.Err() != nil {
			return latchkey.RateLimitState{}, false, err
		}
		return l.fallback.Take(ctx, keyID, rl, cost, now)
	}
	return latchkey.RateLimitState{
		Limit:         rl.Limit,
		WindowSeconds: rl.WindowSeconds,
		Remaining:     max(rl.Limit-res.count, 0),
		ResetAt:       time.Unix(end, 0).UTC(),
	}, res.rateOK, nil
}

// run runs spendScript. Errors: unavailable (Redis did not answer; it is
// then marked down), internal (an answer of the wrong shape).
func (c *Client) run(ctx context.Context, keys []string, args ...any) (spendResult, error) {
	v, err := spendScript.Run(ctx, c.rdb, keys, args...).Int64Slice()
	if err != nil {
		return spendResult{}, c.failed(ctx, err)
	}
	if len(v) != 6 {
		return spendResult{}, fmt.Errorf("spend script answered %v", v)
	}
	return spendResult{
		count: v[0], rateOK: v[1] == 1, creditsOK: v[2] == 1, remaining: v[3], base: v[4],
		refilled: v[5] == 1, askAgain: v[5] == 2 || v[5] == 3, replaced: v[5] == 3,
	}, nil
}

// windowStart truncates sec to a multiple of ws, rounding down.
func windowStart(sec, ws int64) int64 {
	m := sec % ws
	if m < 0 {
		m += ws
	}
	return sec - m
}
