package latchkey

import (
	"context"
	"time"
)

// DefaultAccountName is the account that exists from the first start.
const DefaultAccountName = "default"

// Account is a tenant: it owns keys, memberships, permissions and audit events.
type Account struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	KeyPrefix string    `json:"key_prefix"`
	CreatedAt time.Time `json:"created_at"`
}

// Validate names the bad field of an account.
func (a *Account) Validate() error {
	if a.Name == "" {
		return FieldError("name", "is required")
	}
	if err := validateText("name", a.Name, 100); err != nil {
		return err
	}
	if a.KeyPrefix == "" {
		a.KeyPrefix = DefaultKeyPrefix
	}
	return ValidatePrefix(a.KeyPrefix)
}

// AccountService manages accounts.
type AccountService interface {
	// FindAccountByID returns an account. Errors: not_found.
	FindAccountByID(ctx context.Context, id int64) (*Account, error)
	// FindAccountByName returns an account. Errors: not_found.
	FindAccountByName(ctx context.Context, name string) (*Account, error)
	// FindAccounts lists every account by id.
	FindAccounts(ctx context.Context) ([]*Account, error)
	// CreateAccount creates an account. Errors: invalid, conflict (name taken).
	CreateAccount(ctx context.Context, a *Account) error
}
