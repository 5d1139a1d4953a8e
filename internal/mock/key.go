package mock

import (
	"context"
	"time"

	"github.com/latchkey/latchkey"
)

var _ latchkey.KeyService = (*KeyService)(nil)

// KeyService is a mock of latchkey.KeyService.
type KeyService struct {
	CreateKeyFn       func(ctx context.Context, accountID int64, c *latchkey.KeyCreate) (*latchkey.Key, string, error)
	FindKeyByIDFn     func(ctx context.Context, accountID, id int64) (*latchkey.Key, error)
	FindKeyBySecretFn func(ctx context.Context, accountID int64, hash latchkey.SecretHash) (*latchkey.Key, error)
	FindKeysFn        func(ctx context.Context, f latchkey.KeyFilter) ([]*latchkey.Key, string, error)
	UpdateKeyFn       func(ctx context.Context, accountID, id int64, u *latchkey.KeyUpdate) (*latchkey.Key, error)
	DeleteKeyFn       func(ctx context.Context, accountID, id int64) error
	RevokeKeyFn       func(ctx context.Context, accountID, id int64, reason string) (*latchkey.Key, error)
	RotateKeyFn       func(ctx context.Context, accountID, id int64, grace time.Duration) (*latchkey.Key, string, error)
	FindDevicesFn     func(ctx context.Context, accountID, keyID int64) ([]*latchkey.Device, error)
	DeleteDeviceFn    func(ctx context.Context, accountID, keyID int64, deviceID string) error
	FindUsageFn       func(ctx context.Context, accountID, keyID int64, f latchkey.UsageFilter) ([]*latchkey.UsageBucket, error)
}

// CreateKey calls CreateKeyFn.
func (s *KeyService) CreateKey(ctx context.Context, accountID int64, c *latchkey.KeyCreate) (*latchkey.Key, string, error) {
	return s.CreateKeyFn(ctx, accountID, c)
}

// FindKeyByID calls FindKeyByIDFn.
func (s *KeyService) FindKeyByID(ctx context.Context, accountID, id int64) (*latchkey.Key, error) {
	return s.FindKeyByIDFn(ctx, accountID, id)
}

// FindKeyBySecret calls FindKeyBySecretFn.
func (s *KeyService) FindKeyBySecret(ctx context.Context, accountID int64, hash latchkey.SecretHash) (*latchkey.Key, error) {
	return s.FindKeyBySecretFn(ctx, accountID, hash)
}

// FindKeys calls FindKeysFn.
func (s *KeyService) FindKeys(ctx context.Context, f latchkey.KeyFilter) ([]*latchkey.Key, string, error) {
	return s.FindKeysFn(ctx, f)
}

// UpdateKey calls UpdateKeyFn.
func (s *KeyService) UpdateKey(ctx context.Context, accountID, id int64, u *latchkey.KeyUpdate) (*latchkey.Key, error) {
	return s.UpdateKeyFn(ctx, accountID, id, u)
}

// DeleteKey calls DeleteKeyFn.
func (s *KeyService) DeleteKey(ctx context.Context, accountID, id int64) error {
	return s.DeleteKeyFn(ctx, accountID, id)
}

// RevokeKey calls RevokeKeyFn.
func (s *KeyService) RevokeKey(ctx context.Context, accountID, id int64, reason string) (*latchkey.Key, error) {
	return s.RevokeKeyFn(ctx, accountID, id, reason)
}

// RotateKey calls RotateKeyFn.
func (s *KeyService) RotateKey(ctx context.Context, accountID, id int64, grace time.Duration) (*latchkey.Key, string, error) {
	return s.RotateKeyFn(ctx, accountID, id, grace)
}

// FindDevices calls FindDevicesFn.
func (s *KeyService) FindDevices(ctx context.Context, accountID, keyID int64) ([]*latchkey.Device, error) {
	return s.FindDevicesFn(ctx, accountID, keyID)
}

// DeleteDevice calls DeleteDeviceFn.
func (s *KeyService) DeleteDevice(ctx context.Context, accountID, keyID int64, deviceID string) error {
	return s.DeleteDeviceFn(ctx, accountID, keyID, deviceID)
}

// FindUsage calls FindUsageFn.
func (s *KeyService) FindUsage(ctx context.Context, accountID, keyID int64, f latchkey.UsageFilter) ([]*latchkey.UsageBucket, error) {
	return s.FindUsageFn(ctx, accountID, keyID, f)
}
