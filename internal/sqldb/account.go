// Accounts: finding, listing and creating them.

package sqldb

import (
	"context"

	"github.com/latchkey/latchkey"
)

var _ latchkey.AccountService = (*Store)(nil)

// FindAccountByID returns an account. Errors: not_found.
func (s *Store) FindAccountByID(ctx context.Context, id int64) (*latchkey.Account, error) {
	return readTx(ctx, s, func(tx *Tx) (*latchkey.Account, error) {
		return findAccountByID(ctx, tx, id)
	})
}

// FindAccountByName returns an account. Errors: not_found.
func (s *Store) FindAccountByName(ctx context.Context, name string) (*latchkey.Account, error) {
	return readTx(ctx, s, func(tx *Tx) (*latchkey.Account, error) {
		a, err := scanAccount(tx.queryRow(ctx, `SELECT id, name, key_prefix, created_at FROM accounts WHERE name = ?`, name))
		return a, rowErr(err, "find account", "account %q not found", name)
	})
}

// FindAccounts lists every account by id.
func (s *Store) FindAccounts(ctx context.Context) ([]*latchkey.Account, error) {
	return readTx(ctx, s, func(tx *Tx) ([]*latchkey.Account, error) {
		rows, err := tx.query(ctx, `SELECT id, name, key_prefix, created_at FROM accounts ORDER BY id`)
		return collect(rows, err, "find accounts", scanAccount)
	})
}

// CreateAccount creates an account (key prefix "lk" unless set) and sets
// its ID and CreatedAt. Errors: invalid, conflict (name taken).
func (s *Store) CreateAccount(ctx context.Context, a *latchkey.Account) error {
	return s.write(ctx, func(tx *Tx) error {
		return createAccount(ctx, tx, a)
	})
}

// createAccount validates and inserts an account and audits it.
func createAccount(ctx context.Context, tx *Tx, a *latchkey.Account) error {
	if err := a.Validate(); err != nil {
		return err
	}
	a.CreatedAt = tx.now
	err := tx.queryRow(ctx, `INSERT INTO accounts (name, key_prefix, created_at) VALUES (?, ?, ?) RETURNING id`,
		a.Name, a.KeyPrefix, micros(a.CreatedAt)).Scan(&a.ID)
	if err := insertErr(err, "insert account", "account %q already exists", a.Name); err != nil {
		return err
	}
	return audit(ctx, tx, a.ID, latchkey.ActionAccountCreate, "account", a.ID, map[string]latchkey.Change{
		"name":       created(a.Name),
		"key_prefix": created(a.KeyPrefix),
	})
}

// findAccountByID returns an account, or not_found.
func findAccountByID(ctx context.Context, tx *Tx, id int64) (*latchkey.Account, error) {
	a, err := scanAccount(tx.queryRow(ctx, `SELECT id, name, key_prefix, created_at FROM accounts WHERE id = ?`, id))
	return a, rowErr(err, "find account", "account %d not found", id)
}

// scanAccount reads the id, name, key_prefix and created_at of an account row.
func scanAccount(row scanner) (*latchkey.Account, error) {
	var a latchkey.Account
	if err := scanCreated(row, &a.CreatedAt, &a.ID, &a.Name, &a.KeyPrefix); err != nil {
		return nil, err
	}
	return &a, nil
}
