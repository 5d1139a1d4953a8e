package mock

import (
	"context"
	"time"

	"github.com/latchkey/latchkey"
)

var (
	_ latchkey.UserService    = (*UserService)(nil)
	_ latchkey.SetupService   = (*SetupService)(nil)
	_ latchkey.SessionService = (*SessionService)(nil)
	_ latchkey.PasswordHasher = (*PasswordHasher)(nil)
)

// UserService is a mock of latchkey.UserService.
type UserService struct {
	CreateUserFn      func(ctx context.Context, u *latchkey.User, passwordHash string) error
	CreateMemberFn    func(ctx context.Context, accountID int64, u *latchkey.User, passwordHash string, role latchkey.Role) error
	FindUserByIDFn    func(ctx context.Context, id int64) (*latchkey.User, error)
	FindUserByEmailFn func(ctx context.Context, email string) (*latchkey.User, string, error)
	FindMembersFn     func(ctx context.Context, accountID int64) ([]*latchkey.Member, error)
	FindMembershipsFn func(ctx context.Context, userID int64) ([]*latchkey.Membership, error)
	SetMembershipFn   func(ctx context.Context, accountID, userID int64, role latchkey.Role) error
	CountUsersFn      func(ctx context.Context) (int64, error)
	FindUsersFn       func(ctx context.Context) ([]*latchkey.User, error)
	UpdateUserFn      func(ctx context.Context, id int64, u *latchkey.UserUpdate) (*latchkey.User, error)
	RemoveMemberFn    func(ctx context.Context, accountID, userID int64) error
}

// CreateUser calls CreateUserFn.
func (s *UserService) CreateUser(ctx context.Context, u *latchkey.User, passwordHash string) error {
	return s.CreateUserFn(ctx, u, passwordHash)
}

// CreateMember calls CreateMemberFn.
func (s *UserService) CreateMember(ctx context.Context, accountID int64, u *latchkey.User, passwordHash string, role latchkey.Role) error {
	return s.CreateMemberFn(ctx, accountID, u, passwordHash, role)
}

// FindUserByID calls FindUserByIDFn.
func (s *UserService) FindUserByID(ctx context.Context, id int64) (*latchkey.User, error) {
	return s.FindUserByIDFn(ctx, id)
}

// FindUserByEmail calls FindUserByEmailFn.
func (s *UserService) FindUserByEmail(ctx context.Context, email string) (*latchkey.User, string, error) {
	return s.FindUserByEmailFn(ctx, email)
}

// FindMembers calls FindMembersFn.
func (s *UserService) FindMembers(ctx context.Context, accountID int64) ([]*latchkey.Member, error) {
	return s.FindMembersFn(ctx, accountID)
}

// FindMemberships calls FindMembershipsFn.
func (s *UserService) FindMemberships(ctx context.Context, userID int64) ([]*latchkey.Membership, error) {
	return s.FindMembershipsFn(ctx, userID)
}

// SetMembership calls SetMembershipFn.
func (s *UserService) SetMembership(ctx context.Context, accountID, userID int64, role latchkey.Role) error {
	return s.SetMembershipFn(ctx, accountID, userID, role)
}

// CountUsers calls CountUsersFn.
func (s *UserService) CountUsers(ctx context.Context) (int64, error) {
	return s.CountUsersFn(ctx)
}

// FindUsers calls FindUsersFn.
func (s *UserService) FindUsers(ctx context.Context) ([]*latchkey.User, error) {
	return s.FindUsersFn(ctx)
}

// UpdateUser calls UpdateUserFn.
func (s *UserService) UpdateUser(ctx context.Context, id int64, u *latchkey.UserUpdate) (*latchkey.User, error) {
	return s.UpdateUserFn(ctx, id, u)
}

// RemoveMember calls RemoveMemberFn.
func (s *UserService) RemoveMember(ctx context.Context, accountID, userID int64) error {
	return s.RemoveMemberFn(ctx, accountID, userID)
}

// SetupService is a mock of latchkey.SetupService.
type SetupService struct {
	CompleteSetupFn func(ctx context.Context, token string, u *latchkey.User, passwordHash string) (*latchkey.User, error)
}

// CompleteSetup calls CompleteSetupFn.
func (s *SetupService) CompleteSetup(ctx context.Context, token string, u *latchkey.User, passwordHash string) (*latchkey.User, error) {
	return s.CompleteSetupFn(ctx, token, u, passwordHash)
}

// SessionService is a mock of latchkey.SessionService.
type SessionService struct {
	CreateSessionFn       func(ctx context.Context, userID int64, ttl time.Duration, ip, userAgent string) (*latchkey.SessionFamily, string, error)
	RefreshSessionFn      func(ctx context.Context, refreshToken string) (*latchkey.SessionFamily, string, error)
	FindSessionFamilyFn   func(ctx context.Context, id string) (*latchkey.SessionFamily, error)
	RevokeSessionFamilyFn func(ctx context.Context, id string) error
	RevokeUserSessionsFn  func(ctx context.Context, userID int64) (int64, error)
}

// CreateSession calls CreateSessionFn.
func (s *SessionService) CreateSession(ctx context.Context, userID int64, ttl time.Duration, ip, userAgent string) (*latchkey.SessionFamily, string, error) {
	return s.CreateSessionFn(ctx, userID, ttl, ip, userAgent)
}

// RefreshSession calls RefreshSessionFn. The key is not passed on: a
// mock's successor tokens are its own business.
func (s *SessionService) RefreshSession(ctx context.Context, refreshToken string, key []byte) (*latchkey.SessionFamily, string, error) {
	return s.RefreshSessionFn(ctx, refreshToken)
}

// FindSessionFamily calls FindSessionFamilyFn.
func (s *SessionService) FindSessionFamily(ctx context.Context, id string) (*latchkey.SessionFamily, error) {
	return s.FindSessionFamilyFn(ctx, id)
}

// RevokeSessionFamily calls RevokeSessionFamilyFn.
func (s *SessionService) RevokeSessionFamily(ctx context.Context, id string) error {
	return s.RevokeSessionFamilyFn(ctx, id)
}

// RevokeUserSessions calls RevokeUserSessionsFn.
func (s *SessionService) RevokeUserSessions(ctx context.Context, userID int64) (int64, error) {
	return s.RevokeUserSessionsFn(ctx, userID)
}

// PasswordHasher is a mock of latchkey.PasswordHasher.
type PasswordHasher struct {
	HashFn   func(password string) (string, error)
	VerifyFn func(encoded, password string) (bool, error)
}

// Hash calls HashFn.
func (h *PasswordHasher) Hash(password string) (string, error) { return h.HashFn(password) }

// Verify calls VerifyFn.
func (h *PasswordHasher) Verify(encoded, password string) (bool, error) {
	return h.VerifyFn(encoded, password)
}
