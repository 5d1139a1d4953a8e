package redis

import (
	"context"
	"strconv"
	"time"

	"github.com/latchkey/latchkey"
)

// Counters are the keys' rate limits and credit balances, shared by every
// instance through Redis and decided together by one atomic script (see
// spendScript). The database's balance is reconciled by each instance's
// write-behind flush of what it spent.
//
// While Redis is down, Spend reports that it did not decide, and the
// verifier counts on its own; with FailClosed it decides instead that
// every limited key is refused.
//
// It is safe for concurrent use.
type Counters struct {
	c *Client
	// FailClosed refuses keys with a rate limit (RATE_LIMITED) or credits
	// (USAGE_EXCEEDED) while Redis is down, instead of counting per
	// instance.
	FailClosed bool
}

var _ latchkey.SharedCounters = (*Counters)(nil)

// Counters returns the keys' shared counters.
func (c *Client) Counters(failClosed bool) *Counters {
	return &Counters{c: c, FailClosed: failClosed}
}

// Spend decides the verification sp: it takes sp.Tokens of the rate limit
// and spends sp.Cost credits only if the window has room and the balance
// covers the cost, refilling the balance first when a refill is due.
// Errors: invalid (bad window or negative amounts), unavailable (the
// caller's request was cancelled).
func (k *Counters) Spend(ctx context.Context, sp *latchkey.Spend) (bool, error) {
	if sp.Tokens < 0 || sp.Cost < 0 || (sp.RateLimit != nil && sp.RateLimit.WindowSeconds <= 0) {
		return false, latchkey.Errorf(latchkey.EINVALID, "rate limit window must be positive and amounts not negative")
	}
	if !k.c.Up() {
		return k.failClosed(sp), nil
	}
	rlKey := k.c.prefix + ":cr:" + strconv.FormatInt(sp.KeyID, 10) // unused without a rate limit
	crKey := rlKey
	var hasRL, limit, ttl, end int64
	if rl := sp.RateLimit; rl != nil {
		hasRL, limit = 1, min(rl.Limit, maxLuaInt)
		rlKey, end, ttl = k.c.window("rl", sp.KeyID, *rl, sp.Now)
	}
	var hasCR, seedBase, seedRem, refillAmount, debt int64
	refillFrom, refillDue, debtBase := int64(-1), int64(0), int64(-1)
	base := sp.Base
	if c := sp.Credits; c != nil {
		hasCR, seedRem = 1, min(c.Remaining, maxLuaInt)
		if c.RefilledAt != nil {
			seedBase = c.RefilledAt.UnixMicro()
		}
		if base == nil {
			base = c.RefilledAt
		}
		if sp.Debt > 0 {
			debt, debtBase = min(sp.Debt, maxLuaInt), 0
			if sp.DebtBase != nil {
				debtBase = sp.DebtBase.UnixMicro()
			}
		}
	}
	for attempt := 0; ; attempt++ {
		if c := sp.Credits; c != nil && c.RefillAmount != nil && c.RefillInterval != "" {
			refillAmount = min(*c.RefillAmount, maxLuaInt)
			if base == nil {
				refillFrom, refillDue = 0, 0 // never refilled: due at once
			} else {
				refillFrom, refillDue = base.UnixMicro(), c.RefillInterval.Next(*base).UnixMicro()
			}
		}
		res, err := k.c.run(ctx, []string{rlKey, crKey},
			hasRL, min(sp.Tokens, maxLuaInt), limit, ttl,
			hasCR, seedBase, seedRem, min(sp.Cost, maxLuaInt), refillFrom, refillDue, refillAmount,
			sp.Now.UnixMicro(), creditsTTL.Milliseconds(), debt, debtBase)
		if err != nil {
			if ctx.Err() != nil {
				return false, err
			}
			return k.failClosed(sp), nil
		}
		b := time.UnixMicro(res.base).UTC()
		if res.askAgain && attempt < 2 {
			base = &b // another instance refilled, or an admin set the credits
			if res.replaced {
				debt = 0
			}
			continue
		}
		sp.RateOK, sp.CreditsOK = res.rateOK, res.creditsOK && !res.askAgain
		if hasRL == 1 {
			sp.Rate = latchkey.RateLimitState{Limit: sp.RateLimit.Limit, WindowSeconds: sp.RateLimit.WindowSeconds,
				Remaining: max(sp.RateLimit.Limit-res.count, 0), ResetAt: time.Unix(end, 0).UTC()}
		}
		if hasCR == 1 {
			sp.Remaining, sp.SpentBase, sp.Refilled = res.remaining, &b, res.refilled
		}
		return true, nil
	}
}

// failClosed answers sp while Redis is down: undecided, or, failing
// closed, refused.
func (k *Counters) failClosed(sp *latchkey.Spend) bool {
	if !k.FailClosed {
		return false
	}
	sp.RateOK, sp.CreditsOK = sp.RateLimit == nil, sp.Credits == nil
	if rl := sp.RateLimit; rl != nil {
		end := windowStart(sp.Now.Unix(), rl.WindowSeconds) + rl.WindowSeconds
		sp.Rate = latchkey.RateLimitState{Limit: rl.Limit, WindowSeconds: rl.WindowSeconds, Remaining: 0, ResetAt: time.Unix(end, 0).UTC()}
	}
	if sp.Credits != nil {
		sp.Remaining = 0
	}
	return true
}
