package mock

import (
	"context"
	"time"

	"github.com/latchkey/latchkey"
)

var (
	_ latchkey.VerifyStore = (*VerifyStore)(nil)
	_ latchkey.ChangeFeed  = (*ChangeFeed)(nil)
	_ latchkey.RateLimiter = (*RateLimiter)(nil)
	_ latchkey.Verifier    = (*Verifier)(nil)
)

// VerifyStore is a mock of latchkey.VerifyStore.
type VerifyStore struct {
	FindVerifyKeyFn func(ctx context.Context, hash latchkey.SecretHash) (*latchkey.VerifyKey, error)
	AddDeviceFn     func(ctx context.Context, keyID int64, deviceID string, max int64) error
	FlushUsageFn    func(ctx context.Context, b *latchkey.UsageBatch) error
}

// FindVerifyKey calls FindVerifyKeyFn.
func (s *VerifyStore) FindVerifyKey(ctx context.Context, hash latchkey.SecretHash) (*latchkey.VerifyKey, error) {
	return s.FindVerifyKeyFn(ctx, hash)
}

// AddDevice calls AddDeviceFn.
func (s *VerifyStore) AddDevice(ctx context.Context, keyID int64, deviceID string, max int64) error {
	return s.AddDeviceFn(ctx, keyID, deviceID, max)
}

// FlushUsage calls FlushUsageFn.
func (s *VerifyStore) FlushUsage(ctx context.Context, b *latchkey.UsageBatch) error {
	return s.FlushUsageFn(ctx, b)
}

// ChangeFeed is a mock of latchkey.ChangeFeed.
type ChangeFeed struct {
	SubscribeFn func(fn func(latchkey.KeyChange)) (cancel func())
}

// Subscribe calls SubscribeFn.
func (f *ChangeFeed) Subscribe(fn func(latchkey.KeyChange)) (cancel func()) {
	return f.SubscribeFn(fn)
}

// RateLimiter is a mock of latchkey.RateLimiter.
type RateLimiter struct {
	TakeFn func(ctx context.Context, keyID int64, rl latchkey.RateLimit, cost int64, now time.Time) (latchkey.RateLimitState, bool, error)
}

// Take calls TakeFn.
func (l *RateLimiter) Take(ctx context.Context, keyID int64, rl latchkey.RateLimit, cost int64, now time.Time) (latchkey.RateLimitState, bool, error) {
	return l.TakeFn(ctx, keyID, rl, cost, now)
}

// Verifier is a mock of latchkey.Verifier.
type Verifier struct {
	VerifyFn       func(ctx context.Context, accountID int64, req *latchkey.VerifyRequest) (*latchkey.VerifyResult, error)
	AuthenticateFn func(ctx context.Context, secret string) (*latchkey.VerifyKey, error)
}

// Verify calls VerifyFn.
func (v *Verifier) Verify(ctx context.Context, accountID int64, req *latchkey.VerifyRequest) (*latchkey.VerifyResult, error) {
	return v.VerifyFn(ctx, accountID, req)
}

// Authenticate calls AuthenticateFn.
func (v *Verifier) Authenticate(ctx context.Context, secret string) (*latchkey.VerifyKey, error) {
	return v.AuthenticateFn(ctx, secret)
}
