package mock

import (
	"context"

	"github.com/latchkey/latchkey"
)

var _ latchkey.AccountService = (*AccountService)(nil)

// AccountService is a mock of latchkey.AccountService.
type AccountService struct {
	FindAccountByIDFn   func(ctx context.Context, id int64) (*latchkey.Account, error)
	FindAccountByNameFn func(ctx context.Context, name string) (*latchkey.Account, error)
	FindAccountsFn      func(ctx context.Context) ([]*latchkey.Account, error)
	CreateAccountFn     func(ctx context.Context, a *latchkey.Account) error
}

// FindAccountByID calls FindAccountByIDFn.
func (s *AccountService) FindAccountByID(ctx context.Context, id int64) (*latchkey.Account, error) {
	return s.FindAccountByIDFn(ctx, id)
}

// FindAccountByName calls FindAccountByNameFn.
func (s *AccountService) FindAccountByName(ctx context.Context, name string) (*latchkey.Account, error) {
	return s.FindAccountByNameFn(ctx, name)
}

// FindAccounts calls FindAccountsFn.
func (s *AccountService) FindAccounts(ctx context.Context) ([]*latchkey.Account, error) {
	return s.FindAccountsFn(ctx)
}

// CreateAccount calls CreateAccountFn.
func (s *AccountService) CreateAccount(ctx context.Context, a *latchkey.Account) error {
	return s.CreateAccountFn(ctx, a)
}
