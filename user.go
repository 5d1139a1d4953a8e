package latchkey

import (
	"context"
	"time"
)

// Role is what a user may do in one account.
type Role string

// Roles.
const (
	RoleAdmin  Role = "admin"  // reads and writes everything of the account
	RoleMember Role = "member" // reads only
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == RoleAdmin || r == RoleMember }

// Permits reports whether the role grants a root-key permission in its
// account: an admin every one, a member (and any other role) only the read
// ones, keys:read and audit:read.
func (r Role) Permits(perm string) bool {
	if r == RoleAdmin {
		return true
	}
	return perm == PermKeysRead || perm == PermAuditRead
}

// User is a person who signs in to the admin UI and APIs. The password
// hash is never part of it.
type User struct {
	ID        int64     `json:"id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	// Disabled users keep their data but may not sign in; their sessions
	// neither refresh nor survive the deactivation. DisabledAt is when.
	Disabled   bool       `json:"disabled"`
	DisabledAt *time.Time `json:"disabled_at,omitempty"`
}

// Validate names the bad field of a user.
func (u *User) Validate() error {
	if err := ValidateEmail("email", u.Email); err != nil {
		return err
	}
	return validateText("name", u.Name, 200)
}

// UserUpdate changes a user; a nil field keeps its value. PasswordHash is
// a new hash (argon2id PHC string) from the caller, never a password.
type UserUpdate struct {
	Name         *string
	Disabled     *bool
	PasswordHash *string
}

// Validate names the bad field of an update.
func (u *UserUpdate) Validate() error {
	if u.Name != nil {
		return validateText("name", *u.Name, 200)
	}
	return nil
}

// Password length bounds: long enough to resist guessing, short enough to
// bound the cost of hashing one.
const (
	MinPasswordLen = 12
	MaxPasswordLen = 256
)

// ValidatePassword checks a new password's length: MinPasswordLen to
// MaxPasswordLen bytes.
func ValidatePassword(pw string) error {
	if len(pw) < MinPasswordLen {
		return FieldError("password", "must be at least %d characters", MinPasswordLen)
	}
	if len(pw) > MaxPasswordLen {
		return FieldError("password", "must be at most %d bytes", MaxPasswordLen)
	}
	return nil
}

// Membership gives a user a role in an account.
type Membership struct {
	AccountID int64     `json:"account_id"`
	UserID    int64     `json:"user_id"`
	Role      Role      `json:"role"`
	CreatedAt time.Time `json:"created_at"`
}

// Member is a user with their role in one account.
type Member struct {
	User
	Role Role `json:"role"`
}

// PasswordHasher hashes and checks passwords (argon2id in production).
type PasswordHasher interface {
	// Hash returns an encoded hash of the password with its parameters.
	Hash(password string) (string, error)
	// Verify reports whether the password matches the encoded hash.
	Verify(encoded, password string) (bool, error)
}

// UserService manages users and their memberships.
type UserService interface {
	// CreateUser stores a user with an already hashed password.
	// Errors: invalid, conflict (email taken).
	CreateUser(ctx context.Context, u *User, passwordHash string) error
	// CreateMember stores a user with an already hashed password and their
	// role in the account, in one transaction: both or neither.
	// Errors: invalid, conflict (email taken), not_found (account).
	CreateMember(ctx context.Context, accountID int64, u *User, passwordHash string, role Role) error
	// FindUserByID returns a user. Errors: not_found.
	FindUserByID(ctx context.Context, id int64) (*User, error)
	// FindUserByEmail returns a user, disabled or not, and their password
	// hash. Errors: not_found.
	FindUserByEmail(ctx context.Context, email string) (*User, string, error)
	// FindMembers lists an account's users with their roles.
	FindMembers(ctx context.Context, accountID int64) ([]*Member, error)
	// FindMemberships lists a user's accounts, oldest membership first.
	FindMemberships(ctx context.Context, userID int64) ([]*Membership, error)
	// SetMembership gives the user the role in the account, adding or
	// changing the membership. Errors: invalid, not_found (user or account),
	// conflict (demoting the account's last admin).
	SetMembership(ctx context.Context, accountID, userID int64, role Role) error
	// CountUsers reports how many users exist (the setup link works only at 0).
	CountUsers(ctx context.Context) (int64, error)
	// FindUsers lists every user by id (the operator's listing).
	FindUsers(ctx context.Context) ([]*User, error)
	// UpdateUser applies u and returns the user as stored. Disabling a user
	// or changing their password revokes every session of theirs in the
	// same transaction. Errors: invalid, not_found.
	UpdateUser(ctx context.Context, id int64, u *UserUpdate) (*User, error)
	// RemoveMember ends the user's membership of the account. Errors:
	// not_found (not a member), conflict (the account's last admin).
	RemoveMember(ctx context.Context, accountID, userID int64) error
}

// SetupService completes the first start: the one-time setup link creates
// the first user, admin of the default account.
type SetupService interface {
	// CompleteSetup spends the setup token and creates u with the hash as
	// admin of the default account, in one transaction: of concurrent calls
	// with one token exactly one succeeds. Errors: unauthorized (unknown,
	// expired or used token: one message for all three), conflict (a user
	// exists already), invalid (u).
	CompleteSetup(ctx context.Context, token string, u *User, passwordHash string) (*User, error)
}

// SessionFamily is one sign-in: the refresh tokens rotated from it share it,
// and revoking it ends every token of the family.
type SessionFamily struct {
	ID        string     `json:"id"` // random, URL-safe
	UserID    int64      `json:"user_id"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt time.Time  `json:"expires_at"`
	RevokedAt *time.Time `json:"revoked_at"`
	IP        string     `json:"ip"`
	UserAgent string     `json:"user_agent"`
}

// RefreshReplayWindow is how long after its rotation a refresh token may be
// presented again and answered with the same successor: two tabs that
// refresh at once, or a retried request whose answer was lost. Presented
// later, it is reuse and revokes its family.
const RefreshReplayWindow = 10 * time.Second

// SessionService keeps session families and their rotating refresh tokens.
// Only SHA-256 hashes of refresh tokens are stored.
type SessionService interface {
	// CreateSession opens a family for the user and returns it with its
	// first refresh token.
	CreateSession(ctx context.Context, userID int64, ttl time.Duration, ip, userAgent string) (*SessionFamily, string, error)
	// RefreshSession exchanges the family's current refresh token for a new
	// one, derived from it under key (the server's secret key, the same on
	// every instance, at least 32 bytes). The same token presented again
	// within RefreshReplayWindow of its rotation gets the same new token
	// (or, if that was rotated too meanwhile, the newest of its line) and
	// revokes nothing; presented after the window, it revokes the whole
	// family. Errors: unauthorized (unknown, reused, expired or revoked).
	RefreshSession(ctx context.Context, refreshToken string, key []byte) (*SessionFamily, string, error)
	// FindSessionFamily returns a family. Errors: not_found.
	FindSessionFamily(ctx context.Context, id string) (*SessionFamily, error)
	// RevokeSessionFamily ends a family at once. Errors: not_found.
	RevokeSessionFamily(ctx context.Context, id string) error
	// RevokeUserSessions ends every live family of the user ("sign out
	// everywhere") and reports how many it ended. Errors: not_found (user).
	RevokeUserSessions(ctx context.Context, userID int64) (int64, error)
}
