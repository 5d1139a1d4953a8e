// Bootstrap: the default account and root key an empty store starts with.

package sqldb

import (
	"context"
	"fmt"

	"github.com/latchkey/latchkey"
)

// Bootstrap is what the first start of an empty store created.
type Bootstrap struct {
	Account *latchkey.Account // the default account
	Key     *latchkey.Key     // its root key, holding every root permission
	Secret  string            // the root key's secret, to show once
	// SetupToken is the one-time setup link's token, valid SetupTokenTTL,
	// to show once; only its hash is stored.
	SetupToken string
}

// BootstrapKeyName names the root key Bootstrap creates.
const BootstrapKeyName = "bootstrap root key"

// Bootstrap prepares an empty store: in one transaction it creates the
// default account, a root key holding every root permission and a setup
// token valid SetupTokenTTL, and returns them with the key's secret. On a store that has any account it does nothing
// and returns nil, nil. Concurrent calls, from any number of processes, create
// them once.
func (s *Store) Bootstrap(ctx context.Context) (*Bootstrap, error) {
	tx, err := s.beginLong(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	if err := s.dialect.lock(ctx, tx, lockBootstrap); err != nil {
		return nil, err
	}
	var n int64
	if err := tx.queryRow(ctx, `SELECT COUNT(*) FROM accounts`).Scan(&n); err != nil {
		return nil, fmt.Errorf("count accounts: %w", err)
	}
	if n > 0 {
		return nil, nil
	}
	a := &latchkey.Account{Name: latchkey.DefaultAccountName}
	if err := createAccount(ctx, tx, a); err != nil {
		return nil, err
	}
	k, secret, err := createKey(ctx, tx, a.ID, &latchkey.KeyCreate{
		Kind:        latchkey.KindRoot,
		Name:        BootstrapKeyName,
		Permissions: latchkey.RootPermissions,
	})
	if err != nil {
		return nil, err
	}
	setup, err := issueSetupToken(ctx, tx, SetupTokenTTL)
	if err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return &Bootstrap{Account: a, Key: k, Secret: secret, SetupToken: setup}, nil
}
