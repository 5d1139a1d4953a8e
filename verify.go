package latchkey

import (
	"context"
	"encoding/json"
	"strings"
	"time"
)

// VerifyCode is the outcome of a verification.
type VerifyCode string

// Verification codes, in the order they are checked; the first failure wins.
const (
	CodeNotFound               VerifyCode = "NOT_FOUND" // includes a bad checksum
	CodeRevoked                VerifyCode = "REVOKED"
	CodeExpired                VerifyCode = "EXPIRED" // key expired, or old secret past its grace
	CodeDisabled               VerifyCode = "DISABLED"
	CodeInsufficientPermission VerifyCode = "INSUFFICIENT_PERMISSIONS"
	CodeDeviceLimitExceeded    VerifyCode = "DEVICE_LIMIT_EXCEEDED"
	CodeRateLimited            VerifyCode = "RATE_LIMITED"
	CodeUsageExceeded          VerifyCode = "USAGE_EXCEEDED"
	CodeValid                  VerifyCode = "VALID"
)

// VerifyCodes lists every code in check order.
var VerifyCodes = []VerifyCode{CodeNotFound, CodeRevoked, CodeExpired, CodeDisabled,
	CodeInsufficientPermission, CodeDeviceLimitExceeded, CodeRateLimited, CodeUsageExceeded, CodeValid}

// Limits of what a verification may carry, checked by VerifyRequest.Validate
// and by every layer that sees the same values first (the store, the SDK's
// middleware, the gateway endpoint).
const (
	MaxKeyLen      = 256 // bytes of a presented secret
	MaxDeviceIDLen = 200 // bytes of a device id
)

// VerifyRequest is the body of POST /v1/keys/verify.
type VerifyRequest struct {
	Key         string   `json:"key"`
	Permissions []string `json:"permissions"`
	DeviceID    string   `json:"device_id"`
	Cost        *int64   `json:"cost"` // credits to spend; nil means 1, 0 peeks

	// Method and Path are the request a gateway holds (its query left
	// out), set by the gateway endpoint, never by a verify body: a valid
	// verification records them as the key's last request.
	Method, Path string `json:"-"`
}

// MaxRequestLen bounds a key's recorded last request ("METHOD /path"), in
// bytes; a longer path is cut.
const MaxRequestLen = 512

// LastRequest is how a key's last request is recorded: "METHOD /path",
// at most MaxRequestLen bytes, valid UTF-8; "" without a method.
func LastRequest(method, path string) string {
	if method == "" {
		return ""
	}
	s := method + " " + path
	if len(s) > MaxRequestLen {
		s = s[:MaxRequestLen]
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// Validate names the bad field of a verification request.
func (r *VerifyRequest) Validate() error {
	if r.Key == "" {
		return FieldError("key", "is required")
	}
	if len(r.Key) > MaxKeyLen {
		return FieldError("key", "must be at most %d bytes", MaxKeyLen)
	}
	if r.Cost != nil && *r.Cost < 0 {
		return FieldError("cost", "must not be negative")
	}
	if len(r.DeviceID) > MaxDeviceIDLen {
		return FieldError("device_id", "must be at most %d bytes", MaxDeviceIDLen)
	}
	if len(r.Permissions) > 100 {
		return FieldError("permissions", "must list at most 100 names")
	}
	return nil
}

// CostOrDefault returns the credits the request spends.
func (r *VerifyRequest) CostOrDefault() int64 {
	if r.Cost == nil {
		return 1
	}
	return *r.Cost
}

// RateLimitState is a key's rate-limit window after a verification.
type RateLimitState struct {
	Limit         int64     `json:"limit"`
	WindowSeconds int64     `json:"window_seconds"`
	Remaining     int64     `json:"remaining"`
	ResetAt       time.Time `json:"reset_at"`
}

// VerifyResult answers a verification. Only Valid and Code are set for
// NOT_FOUND; the key's fields are set for every other code.
type VerifyResult struct {
	Valid            bool            `json:"valid"`
	Code             VerifyCode      `json:"code"`
	KeyID            int64           `json:"key_id,omitempty"`
	AccountID        int64           `json:"account_id,omitempty"`
	Name             string          `json:"name,omitempty"`
	OwnerEmail       *string         `json:"owner_email,omitempty"`
	Permissions      []string        `json:"permissions,omitempty"`
	ExpiresAt        *time.Time      `json:"expires_at,omitempty"`
	Meta             json.RawMessage `json:"meta,omitempty"`
	RateLimit        *RateLimitState `json:"rate_limit,omitempty"`
	CreditsRemaining *int64          `json:"credits_remaining,omitempty"`
}

// VerifyKey is what verification needs to know of a key and one of its
// secrets: the snapshot the verify cache holds, loaded by secret hash.
type VerifyKey struct {
	KeyID           int64
	AccountID       int64
	Kind            KeyKind
	Name            string
	OwnerEmail      *string
	Enabled         bool
	ExpiresAt       *time.Time
	RevokedAt       *time.Time
	SecretExpiresAt *time.Time // end of this secret's rotation grace
	Permissions     []string
	RateLimit       *RateLimit
	MaxDevices      int64
	Devices         []string
	Credits         *Credits
	Meta            json.RawMessage
}

// StatusAt derives the status of the key through this secret: an old
// secret past its grace makes the key read as expired.
func (k *VerifyKey) StatusAt(now time.Time) Status {
	s := KeyStatus(k.Enabled, k.ExpiresAt, k.RevokedAt, now)
	if s != StatusRevoked && k.SecretExpiresAt != nil && !k.SecretExpiresAt.After(now) {
		return StatusExpired
	}
	return s
}

// KeyUsage is the write-behind state of one key: when it was last used
// and the credits spent since the last flush (after RefilledAt, when set).
//
// CreditsBase is the Credits.RefilledAt of the snapshot the spend was
// counted against. Setting credits stamps RefilledAt too, so when the
// stored RefilledAt is later than the base an admin (or another instance's
// refill) has reset the counter since, and the store drops the spend: the
// newer absolute value wins over spend counted against an older one.
type KeyUsage struct {
	KeyID        int64
	LastUsedAt   time.Time
	LastRequest  string // of the use at LastUsedAt, when a gateway told it
	CreditsSpent int64
	RefilledAt   *time.Time
	CreditsBase  *time.Time
}

// UsageCount is a count of verifications of one key with one outcome in
// one minute.
type UsageCount struct {
	KeyID  int64
	Minute time.Time
	Code   VerifyCode
	Count  int64
}

// UsageBatch is what the verifier writes behind, about once a second.
type UsageBatch struct {
	Keys   []KeyUsage
	Counts []UsageCount
}

// VerifyStore is the storage the verifier reads through its cache and
// writes behind to.
type VerifyStore interface {
	// FindVerifyKey loads the key owning the secret with this hash.
	// Errors: not_found.
	FindVerifyKey(ctx context.Context, hash SecretHash) (*VerifyKey, error)
	// AddDevice registers a device for a key unless the key already has max
	// (0 = unlimited) devices; registering a known device is a no-op.
	// Errors: conflict (limit reached), not_found (key gone).
	AddDevice(ctx context.Context, keyID int64, deviceID string, max int64) error
	// FlushUsage applies a write-behind batch: last_used_at (never moved
	// back), credits spent (never below zero; a refill first when RefilledAt
	// is later than the stored one) and usage counts (added).
	FlushUsage(ctx context.Context, b *UsageBatch) error
}

// KeyChange says a key's verifiable state may have changed. All says that
// any key may have changed (an instance missed changes it can no longer
// replay): a cache must then forget every key.
type KeyChange struct {
	AccountID int64
	KeyID     int64
	All       bool
}

// FeedStatus is an instance's view of the change feed across instances.
type FeedStatus struct {
	Shared     bool      // false: one instance serves the store, nothing to hear
	Connected  bool      // the feed's connection is up
	Applied    int64     // number of the last change applied
	Head       int64     // newest change number seen in the store
	LastHeard  time.Time // when the store last answered on the feed's connection
	Replays    int64     // catch-ups that applied changes from the change log
	CacheDrops int64     // times the log no longer reached back and caches were dropped
}

// ChangeFeed tells subscribers about committed key mutations: on this
// instance at once, and, for stores that support it, on every instance.
type ChangeFeed interface {
	// Subscribe calls fn for every change until cancel is called.
	Subscribe(fn func(KeyChange)) (cancel func())
}

// RateLimiter counts verifications against a key's rate limit.
type RateLimiter interface {
	// Take spends cost tokens of the key's window at now if they are
	// available (cost 0 only peeks) and reports the window's state and
	// whether the tokens were granted.
	Take(ctx context.Context, keyID int64, rl RateLimit, cost int64, now time.Time) (RateLimitState, bool, error)
}

// SharedCounters decide one verification's rate limit and credits together
// and atomically for every instance serving a store (ARCHITECTURE.md,
// "Counters shared by several instances"): the rate limit is granted and
// the credits are spent only if both checks pass.
type SharedCounters interface {
	// Spend decides sp and fills in its answer. It reports false, with no
	// error, when the counters cannot be reached and the caller is to count
	// on its own (per instance) instead.
	Spend(ctx context.Context, sp *Spend) (decided bool, err error)
}

// Spend is one verification's question to the SharedCounters, and their
// answer.
type Spend struct {
	KeyID     int64
	Now       time.Time
	RateLimit *RateLimit // nil: no rate limit
	Tokens    int64      // rate-limit tokens to take if every check passes (0 peeks)
	Credits   *Credits   // the store's snapshot of the credits; nil: unlimited
	// Base is the credits baseline (RefilledAt) the caller last heard of,
	// for refills; nil: the snapshot's.
	Base *time.Time
	Cost int64 // credits to spend if every check passes (0 peeks)
	// Debt is what this instance spent while the counters could not be
	// reached, against the baseline DebtBase: taken off the shared balance
	// first, when that still has the same baseline.
	Debt     int64
	DebtBase *time.Time

	// The answer.
	Rate      RateLimitState
	RateOK    bool       // the rate limit grants the tokens (or, peeking, is not over)
	CreditsOK bool       // the credits cover the cost
	Remaining int64      // credits left after the call
	SpentBase *time.Time // the baseline the answer counts against
	Refilled  bool       // this call refilled the credits, at Now
}

// Verifier is the hot path.
type Verifier interface {
	// Verify checks a key of the account (ARCHITECTURE.md, "The verify path"). It returns an
	// error only for a bad request (invalid) or a failing store.
	Verify(ctx context.Context, accountID int64, req *VerifyRequest) (*VerifyResult, error)
	// Authenticate finds the key behind a bearer secret of any kind and
	// account, through the same cache. Errors: unauthorized (unknown secret).
	Authenticate(ctx context.Context, secret string) (*VerifyKey, error)
}
