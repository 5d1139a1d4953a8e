// The Verifier: its settings, construction, and the verification itself
// (Verify, Authenticate, the device, rate-limit and shared-counter checks).

package inmem

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/latchkey/latchkey"
)

var _ latchkey.Verifier = (*Verifier)(nil)

// Defaults of the Verifier's settings.
const (
	DefaultFlushInterval = time.Second
	DefaultFlushTimeout  = 10 * time.Second
	DefaultFlushBatch    = 2000
	DefaultNegativeTTL   = 5 * time.Second
	DefaultNegativeMax   = 100_000
	DefaultMaxEntries    = 1 << 21
	DefaultMaxAge        = 60 * time.Second
	DefaultLoadTimeout   = 5 * time.Second
	// maxRefreshes bounds the background refreshes of snapshots past
	// MaxAge under way at once; past it, a stale snapshot waits its turn.
	maxRefreshes = 16
	// flushWeight is the flush's share of flushGate: all of it.
	flushWeight = 1 << 30
	// refreshTimeout bounds one background refresh of a snapshot past
	// MaxAge; refreshRetry is how long a failed one waits to be tried again.
	refreshTimeout = 10 * time.Second
	refreshRetry   = time.Second
)

// Verifier is the single-node verify hot path (ARCHITECTURE.md): a cache of
// VerifyKeys by secret hash in front of a VerifyStore, a negative cache of
// unknown hashes, and write-behind buffers of last_used_at, usage counts
// and credit spend that Run flushes about once a second and Close flushes
// at shutdown. Subscribe Invalidate to the store's change feed so that a
// mutation takes effect on the very next verification.
//
// It is safe for concurrent use.
type Verifier struct {
	// FlushInterval is how often Run flushes the write-behind buffers.
	FlushInterval time.Duration
	// FlushTimeout bounds one flush started by Run.
	FlushTimeout time.Duration
	// FlushBatch bounds the keys one store.FlushUsage call writes.
	FlushBatch int
	// NegativeTTL is how long a well-formed but unknown secret answers
	// NOT_FOUND without a store lookup (any invalidation also ends it).
	NegativeTTL time.Duration
	// NegativeMax bounds the negative cache.
	NegativeMax int
	// MaxEntries bounds the cache, in secrets; past it, arbitrary entries
	// are evicted (and reloaded when next used).
	MaxEntries int
	// LoadTimeout bounds a cache miss: waiting for a flush to finish and
	// reading the store. Set it before the first verification.
	LoadTimeout time.Duration
	// MaxAge is how long a cached snapshot is trusted without a fresh
	// read, a second line behind the change feed: a verification of an
	// older one starts a refresh in the background and is answered from
	// the snapshot meanwhile, so verifies never wait for it, and a store
	// that cannot be reached leaves cached keys verifying. Set it before
	// the first verification.
	MaxAge time.Duration

	// Shared, when set, decides rate limits and credits for every instance
	// at once; the limiter and the in-memory credits count only while it
	// cannot be reached. Set it before the first verification.
	Shared latchkey.SharedCounters

	store   latchkey.VerifyStore
	limiter latchkey.RateLimiter
	clock   latchkey.Clock
	logger  *slog.Logger

	entries [entryShards]entryShard
	keys    [keyShards]keyShard
	dirty   [keyShards]dirtyShard
	neg     [negShards]negShard
	inval   invalLog

	loadsMu sync.Mutex
	loads   map[latchkey.SecretHash]*load

	// flushGate keeps loads from the store (weight 1 each) apart from
	// flushes (the whole weight), so a load never reads the store between
	// the moment a flush takes credit spend out of memory and the moment
	// the store has it. A load waiting for it gives up with its ctx.
	flushGate *semaphore.Weighted
	// refreshSlots bounds the background refreshes under way at once.
	refreshSlots chan struct{}
	pool         sync.Pool // of *pending
}

// NewVerifier returns a verifier reading through to store and counting
// rate limits with limiter. A nil clock is the system clock; a nil logger
// discards.
func NewVerifier(store latchkey.VerifyStore, limiter latchkey.RateLimiter, clock latchkey.Clock, logger *slog.Logger) *Verifier {
	if clock == nil {
		clock = latchkey.SystemClock
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	v := &Verifier{
		FlushInterval: DefaultFlushInterval,
		FlushTimeout:  DefaultFlushTimeout,
		FlushBatch:    DefaultFlushBatch,
		NegativeTTL:   DefaultNegativeTTL,
		NegativeMax:   DefaultNegativeMax,
		MaxEntries:    DefaultMaxEntries,
		MaxAge:        DefaultMaxAge,
		LoadTimeout:   DefaultLoadTimeout,
		flushGate:     semaphore.NewWeighted(flushWeight),
		refreshSlots:  make(chan struct{}, maxRefreshes),
		store:         store,
		limiter:       limiter,
		clock:         clock,
		logger:        logger,
		loads:         make(map[latchkey.SecretHash]*load),
	}
	v.pool.New = func() any { return new(pending) }
	for i := range v.entries {
		v.entries[i].m = make(map[latchkey.SecretHash]*entry)
	}
	for i := range v.keys {
		v.keys[i].m = make(map[int64]*keyState)
	}
	for i := range v.neg {
		v.neg[i].m = make(map[latchkey.SecretHash]negEntry)
	}
	return v
}

// resultBox holds a result and what its pointers point to, so that a
// verification allocates once.
type resultBox struct {
	res     latchkey.VerifyResult
	rl      latchkey.RateLimitState
	credits int64
	// method and path are the gateway's original request, recorded as the
	// key's last request when the verification is valid.
	method, path string
}

func notFound() *latchkey.VerifyResult {
	return &latchkey.VerifyResult{Code: latchkey.CodeNotFound}
}

// Verify checks a key of the account in check order: NOT_FOUND (bad
// checksum, unknown, another account's or a root key), REVOKED, EXPIRED,
// DISABLED, INSUFFICIENT_PERMISSIONS, DEVICE_LIMIT_EXCEEDED, RATE_LIMITED,
// USAGE_EXCEEDED, VALID; the first failure wins and nothing is spent unless
// every earlier check passed. The result may share the cached key's
// permissions, meta, owner email and expiry: callers must not modify them.
// Errors: invalid (a bad request, as req.Validate reports it), or the
// store's or limiter's error.
func (v *Verifier) Verify(ctx context.Context, accountID int64, req *latchkey.VerifyRequest) (*latchkey.VerifyResult, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	if !latchkey.CheckSecret(req.Key) {
		return notFound(), nil
	}
	h := latchkey.HashSecret(req.Key)
	e, err := v.lookup(ctx, h)
	if err == errNotFound {
		return notFound(), nil
	} else if err != nil {
		return nil, err
	}
	now := v.clock()
	v.refreshIfStale(h, e, now)
	vk := &e.vk
	if vk.AccountID != accountID || vk.Kind == latchkey.KindRoot {
		return notFound(), nil
	}

	cost := req.CostOrDefault()
	b := &resultBox{res: latchkey.VerifyResult{
		KeyID:       vk.KeyID,
		AccountID:   vk.AccountID,
		Name:        vk.Name,
		OwnerEmail:  vk.OwnerEmail,
		Permissions: vk.Permissions,
		ExpiresAt:   vk.ExpiresAt,
		Meta:        vk.Meta,
	}, method: req.Method, path: req.Path}

	code := latchkey.CodeValid
	switch vk.StatusAt(now) {
	case latchkey.StatusRevoked:
		code = latchkey.CodeRevoked
	case latchkey.StatusExpired:
		code = latchkey.CodeExpired
	case latchkey.StatusDisabled:
		code = latchkey.CodeDisabled
	}
	if code == latchkey.CodeValid && !latchkey.HasPermissions(vk.Permissions, req.Permissions) {
		code = latchkey.CodeInsufficientPermission
	}
	if code == latchkey.CodeValid && req.DeviceID != "" && vk.MaxDevices > 0 {
		c, err := v.checkDevice(ctx, e, req.DeviceID)
		if err != nil {
			return nil, err
		} else if c == latchkey.CodeNotFound {
			return notFound(), nil
		}
		code = c
	}
	if v.Shared != nil {
		if decided, err := v.spendShared(ctx, e, code, cost, now, b); err != nil {
			return nil, err
		} else if decided {
			return &b.res, nil
		}
	}
	if vk.RateLimit != nil {
		// One token per verification; a peek when the request costs
		// nothing, an earlier check failed, or the credits cannot cover
		// the cost (nothing is spent unless every check passes), to
		// report the window.
		var tokens int64
		covered := true
		if code == latchkey.CodeValid && cost > 0 {
			if covered = !e.credits || e.ks.creditsCover(cost, now); covered {
				tokens = 1
			}
		}
		st, ok, err := v.limiter.Take(ctx, vk.KeyID, *vk.RateLimit, tokens, now)
		if err != nil {
			return nil, fmt.Errorf("rate limit: %w", err)
		}
		b.rl = st
		b.res.RateLimit = &b.rl
		if code == latchkey.CodeValid && (!ok || !covered && st.Remaining < 1) {
			// Refused, or, peeking for want of credits, no room for the
			// token: the rate limit is checked first.
			code = latchkey.CodeRateLimited
		}
	}
	code = v.settle(e.ks, code, cost, now, b, v.Shared != nil)
	b.res.Code = code
	b.res.Valid = code == latchkey.CodeValid
	return &b.res, nil
}

// settle does the last check, credits, and records the outcome in the
// write-behind buffers, under the key's lock.
//
// owed says the shared counters are set but could not be reached: credits
// spent here are then also owed to them (keyState.debt).
func (v *Verifier) settle(ks *keyState, code latchkey.VerifyCode, cost int64, now time.Time, b *resultBox, owed bool) latchkey.VerifyCode {
	ks.mu.Lock()
	p := ks.p
	if p == nil {
		p = v.pool.Get().(*pending)
		ks.p = p
	}
	if ks.hasCredits {
		rem := ks.credits.Remaining
		if ks.refills && !now.Before(ks.refillDue) {
			var refilledAt *time.Time
			if rem, refilledAt = ks.credits.Refill(now); refilledAt != nil {
				ks.credits.Remaining = rem
				ks.credits.RefilledAt = refilledAt
				ks.scheduleRefill()
				p.refilledAt = refilledAt
				p.spent = 0 // the store resets to the refill amount first
				if owed {
					// A newer baseline than the counters have: they take
					// this balance as it is, debt included.
					ks.debt, ks.debtBase = 0, refilledAt
				}
			}
		}
		if code == latchkey.CodeValid {
			if rem < cost {
				code = latchkey.CodeUsageExceeded
			} else if cost > 0 {
				rem -= cost
				ks.credits.Remaining = rem
				p.spent += cost
				if owed {
					ks.debt, ks.debtBase = ks.debt+cost, ks.credits.RefilledAt
				}
			}
		}
		b.credits = rem
		b.res.CreditsRemaining = &b.credits
	}
	v.record(ks, p, code, now, b)
	ks.mu.Unlock()
	return code
}

// spendShared decides the rate limit and credits of a verification that
// passed or failed the earlier checks with code through the shared
// counters, and records its outcome, unless the key has neither or the
// counters cannot be reached (false).
func (v *Verifier) spendShared(ctx context.Context, e *entry, code latchkey.VerifyCode, cost int64, now time.Time, b *resultBox) (bool, error) {
	ks := e.ks
	sp := latchkey.Spend{KeyID: e.vk.KeyID, Now: now, RateLimit: e.vk.RateLimit}
	// The credits as last known here (the store's snapshot, then the
	// shared counters' answers, less what was spent here meanwhile): what
	// Redis starts from if it has lost the balance, or takes if it is newer.
	var seed latchkey.Credits
	var debt int64
	ks.mu.Lock()
	if ks.hasCredits {
		seed = ks.credits
		sp.Credits, sp.Base = &seed, ks.sharedBase
		sp.Debt, sp.DebtBase, debt = ks.debt, ks.debtBase, ks.debt
	}
	ks.mu.Unlock()
	if sp.RateLimit == nil && sp.Credits == nil {
		return false, nil
	}
	if code == latchkey.CodeValid && cost > 0 {
		// One token per verification, and the cost in credits; a peek
		// when the request costs nothing or an earlier check failed.
		sp.Tokens, sp.Cost = 1, cost
	}
	decided, err := v.Shared.Spend(ctx, &sp)
	if err != nil {
		return false, fmt.Errorf("shared counters: %w", err)
	} else if !decided {
		return false, nil
	}
	if sp.RateLimit != nil {
		b.rl = sp.Rate
		b.res.RateLimit = &b.rl
	}
	if code == latchkey.CodeValid {
		switch {
		case sp.RateLimit != nil && !sp.RateOK:
			code = latchkey.CodeRateLimited
		case sp.Credits != nil && !sp.CreditsOK:
			code = latchkey.CodeUsageExceeded
		}
	}

	ks.mu.Lock()
	p := ks.p
	if p == nil {
		p = v.pool.Get().(*pending)
		ks.p = p
	}
	if sp.Credits != nil {
		b.credits = sp.Remaining
		b.res.CreditsRemaining = &b.credits
		if base := sp.SpentBase; base != nil && ks.hasCredits {
			if !sameTime(p.base, base) {
				if p.base != nil {
					// A refill or a balance newer than the one spent
					// against: the older spend is moot.
					p.spent = 0
				}
				p.base = base
				if seed.RefillAmount != nil {
					// Whichever instance's flush comes first applies
					// the refill; the others find it done.
					p.refilledAt = base
				}
			}
			ks.sharedBase = base
			ks.debt -= debt // paid, or moot: the counters have it either way
			ks.credits.Remaining, ks.credits.RefilledAt = sp.Remaining, base
			ks.scheduleRefill()
			if code == latchkey.CodeValid {
				p.spent += sp.Cost
			}
		}
	}
	v.record(ks, p, code, now, b)
	ks.mu.Unlock()
	b.res.Code = code
	b.res.Valid = code == latchkey.CodeValid
	return true, nil
}

// checkDevice applies the device limit: a known device passes; a new one
// fails without a store call when the key already has its maximum, else
// the store registers it (the only synchronous write of a verification).
func (v *Verifier) checkDevice(ctx context.Context, e *entry, dev string) (latchkey.VerifyCode, error) {
	ks, max := e.ks, e.vk.MaxDevices
	ks.mu.Lock()
	known, n := ks.hasDevice(dev), len(ks.devices)
	ks.mu.Unlock()
	if known {
		return latchkey.CodeValid, nil
	} else if int64(n) >= max {
		return latchkey.CodeDeviceLimitExceeded, nil
	}
	err := v.store.AddDevice(ctx, e.vk.KeyID, dev, max)
	switch latchkey.ErrorCode(err) {
	case "":
		ks.mu.Lock()
		ks.addDevice(dev)
		ks.mu.Unlock()
		return latchkey.CodeValid, nil
	case latchkey.ECONFLICT:
		return latchkey.CodeDeviceLimitExceeded, nil
	case latchkey.ENOTFOUND: // the key is gone
		v.Invalidate(latchkey.KeyChange{AccountID: e.vk.AccountID, KeyID: e.vk.KeyID})
		return latchkey.CodeNotFound, nil
	}
	return "", fmt.Errorf("add device: %w", err)
}

// Authenticate returns the cached key behind a secret of any kind and
// account; the caller checks its kind, status (StatusAt) and permissions.
// The key is shared with the cache and must not be modified; its Devices
// and Credits are not kept (verification tracks them apart). Errors: unauthorized (bad checksum or unknown secret), or
// the store's error.
func (v *Verifier) Authenticate(ctx context.Context, secret string) (*latchkey.VerifyKey, error) {
	if !latchkey.CheckSecret(secret) {
		return nil, latchkey.Errorf(latchkey.EUNAUTHORIZED, "invalid credential")
	}
	h := latchkey.HashSecret(secret)
	e, err := v.lookup(ctx, h)
	if err == errNotFound {
		return nil, latchkey.Errorf(latchkey.EUNAUTHORIZED, "invalid credential")
	} else if err != nil {
		return nil, err
	}
	v.refreshIfStale(h, e, v.clock())
	return &e.vk, nil
}

// refreshIfStale starts a background reload of a snapshot cached for
// longer than MaxAge, unless a load of the secret is already under way.
// The reload replaces the entry, or evicts the key when the store no
// longer has the secret.
func (v *Verifier) refreshIfStale(h latchkey.SecretHash, e *entry, now time.Time) {
	if v.MaxAge <= 0 || now.UnixNano() < e.staleAt.Load() {
		return
	}
	e.staleAt.Store(now.Add(refreshRetry).UnixNano()) // one refresh at a time
	select {
	case v.refreshSlots <- struct{}{}:
	default:
		return // enough under way; this one is tried again after refreshRetry
	}
	v.loadsMu.Lock()
	if _, busy := v.loads[h]; busy {
		v.loadsMu.Unlock()
		<-v.refreshSlots
		return
	}
	l := &load{done: make(chan struct{})}
	v.loads[h] = l
	v.loadsMu.Unlock()
	go func() {
		defer func() {
			v.loadsMu.Lock()
			delete(v.loads, h)
			v.loadsMu.Unlock()
			close(l.done)
			<-v.refreshSlots
		}()
		ctx, cancel := context.WithTimeout(context.Background(), refreshTimeout)
		defer cancel()
		l.e, l.err = v.fetch(ctx, h, true)
		switch {
		case l.err == errNotFound: // the secret is gone
			v.Invalidate(latchkey.KeyChange{AccountID: e.vk.AccountID, KeyID: e.vk.KeyID})
		case l.err != nil:
			v.logger.Debug("refreshing a cached key failed; serving the cached snapshot", "key_id", e.vk.KeyID, "err", l.err)
		}
	}()
}

// errNotFound is lookup's answer for an unknown secret; it never leaves
// the package.
var errNotFound = latchkey.Errorf(latchkey.ENOTFOUND, "key not found")
