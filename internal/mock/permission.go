package mock

import (
	"context"

	"github.com/latchkey/latchkey"
)

var _ latchkey.PermissionService = (*PermissionService)(nil)

// PermissionService is a mock of latchkey.PermissionService.
type PermissionService struct {
	FindPermissionsFn  func(ctx context.Context, accountID int64) ([]*latchkey.Permission, error)
	CreatePermissionFn func(ctx context.Context, p *latchkey.Permission) error
	DeletePermissionFn func(ctx context.Context, accountID int64, name string) error
}

// FindPermissions calls FindPermissionsFn.
func (s *PermissionService) FindPermissions(ctx context.Context, accountID int64) ([]*latchkey.Permission, error) {
	return s.FindPermissionsFn(ctx, accountID)
}

// CreatePermission calls CreatePermissionFn.
func (s *PermissionService) CreatePermission(ctx context.Context, p *latchkey.Permission) error {
	return s.CreatePermissionFn(ctx, p)
}

// DeletePermission calls DeletePermissionFn.
func (s *PermissionService) DeletePermission(ctx context.Context, accountID int64, name string) error {
	return s.DeletePermissionFn(ctx, accountID, name)
}
