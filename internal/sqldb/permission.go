// The permission catalogue of an account, and the permissions of keys:
// checking, setting and loading them.

package sqldb

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/latchkey/latchkey"
)

var _ latchkey.PermissionService = (*Store)(nil)

// FindPermissions lists the account's catalogue by name.
func (s *Store) FindPermissions(ctx context.Context, accountID int64) ([]*latchkey.Permission, error) {
	return readTx(ctx, s, func(tx *Tx) ([]*latchkey.Permission, error) {
		rows, err := tx.query(ctx, `SELECT account_id, name, description, created_at FROM permissions
			WHERE account_id = ? ORDER BY name`, accountID)
		return collect(rows, err, "find permissions", func(r scanner) (*latchkey.Permission, error) {
			var p latchkey.Permission
			if err := scanCreated(r, &p.CreatedAt, &p.AccountID, &p.Name, &p.Description); err != nil {
				return nil, err
			}
			return &p, nil
		})
	})
}

// CreatePermission adds a name to p.AccountID's catalogue and sets
// p.CreatedAt. Errors: invalid, not_found (account), conflict (exists).
func (s *Store) CreatePermission(ctx context.Context, p *latchkey.Permission) error {
	return s.write(ctx, func(tx *Tx) error {
		return createPermission(ctx, tx, p)
	})
}

// DeletePermission removes a name from the catalogue and from every key
// holding it; each such key is announced on the change feed.
// Errors: not_found.
func (s *Store) DeletePermission(ctx context.Context, accountID int64, name string) error {
	return s.write(ctx, func(tx *Tx) error {
		return deletePermission(ctx, tx, accountID, name)
	})
}

// createPermission validates and inserts a catalogue name and audits it.
func createPermission(ctx context.Context, tx *Tx, p *latchkey.Permission) error {
	if p == nil {
		return latchkey.Errorf(latchkey.EINVALID, "permission: missing input")
	}
	if err := p.Validate(); err != nil {
		return err
	}
	if _, err := findAccountByID(ctx, tx, p.AccountID); err != nil {
		return err
	}
	p.CreatedAt = tx.now
	_, err := tx.exec(ctx, `INSERT INTO permissions (account_id, name, description, created_at) VALUES (?, ?, ?, ?)`,
		p.AccountID, p.Name, p.Description, micros(p.CreatedAt))
	if err := insertErr(err, "insert permission", "permission %q already exists", p.Name); err != nil {
		return err
	}
	return audit(ctx, tx, p.AccountID, latchkey.ActionPermissionCreate, "permission", p.Name, map[string]latchkey.Change{"name": created(p.Name), "description": created(p.Description)})
}

// deletePermission is DeletePermission inside a write transaction: it
// locks the holders and the name in a deadlock-free order, deletes it,
// audits the holders and announces each holder's change.
func deletePermission(ctx context.Context, tx *Tx, accountID int64, name string) error {
	// Locks are taken keys first, in id order, then the permission: the
	// order UpdateKey and CreateKey take them in (a key's row, then the
	// permission's through the foreign key), so the two cannot deadlock on
	// PostgreSQL. SQLite serializes writers and needs none of it.
	lock := tx.store.dialect.forUpdate
	if _, err := keysHolding(ctx, tx, accountID, name, `SELECT k.id FROM keys k JOIN key_permissions kp ON kp.key_id = k.id
		WHERE kp.account_id = ? AND kp.name = ? ORDER BY k.id`+lock); err != nil {
		return err
	}
	var description string
	err := tx.queryRow(ctx, `SELECT description FROM permissions WHERE account_id = ? AND name = ?`+lock,
		accountID, name).Scan(&description)
	if err := rowErr(err, "find permission", "permission %q not found", name); err != nil {
		return err
	}
	// Read the holders again: a key may have been given the permission
	// while this transaction waited for its lock.
	keyIDs, err := keysHolding(ctx, tx, accountID, name, `SELECT key_id FROM key_permissions
		WHERE account_id = ? AND name = ? ORDER BY key_id`)
	if err != nil {
		return err
	}
	// The keys' links go by ON DELETE CASCADE.
	if _, err := tx.exec(ctx, `DELETE FROM permissions WHERE account_id = ? AND name = ?`, accountID, name); err != nil {
		return fmt.Errorf("delete permission: %w", err)
	}
	changes := map[string]latchkey.Change{"name": removed(name), "description": removed(description)}
	if len(keyIDs) > 0 {
		changes["key_ids"] = removed(keyIDs)
	}
	if err := audit(ctx, tx, accountID, latchkey.ActionPermissionDelete, "permission", name, changes); err != nil {
		return err
	}
	for _, id := range keyIDs {
		if err := tx.keyChanged(ctx, accountID, id); err != nil {
			return err
		}
	}
	return nil
}

// keysHolding returns the key ids query q selects for the permission.
func keysHolding(ctx context.Context, tx *Tx, accountID int64, name, q string) ([]int64, error) {
	rows, err := tx.query(ctx, q, accountID, name)
	return collect(rows, err, "find keys holding permission", func(r scanner) (id int64, err error) {
		return id, r.Scan(&id)
	})
}

// checkPermissions returns the sorted, distinct names a key of kind may
// hold: an api key's must be in the account's catalogue, a root key's must
// be root permissions. The error names the first unknown one.
func checkPermissions(ctx context.Context, tx *Tx, accountID int64, kind latchkey.KeyKind, names []string) ([]string, error) {
	set := make(map[string]bool, len(names))
	out := []string{}
	for _, n := range names {
		if !set[n] {
			set[n] = true
			out = append(out, n)
		}
	}
	if kind == latchkey.KindRoot {
		for _, n := range out {
			if !latchkey.IsRootPermission(n) {
				return nil, latchkey.FieldError("permissions", "unknown permission %q: a root key may hold only %s",
					n, strings.Join(latchkey.RootPermissions, ", "))
			}
		}
	} else if len(out) > 0 {
		args := []any{accountID}
		for _, n := range out {
			args = append(args, n)
		}
		rows, err := tx.query(ctx, `SELECT name FROM permissions WHERE account_id = ? AND name IN (`+placeholders(len(out))+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("check permissions: %w", err)
		}
		defer rows.Close()
		known := make(map[string]bool, len(out))
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				return nil, fmt.Errorf("check permissions: %w", err)
			}
			known[n] = true
		}
		if err := rowsErr(rows); err != nil {
			return nil, fmt.Errorf("check permissions: %w", err)
		}
		for _, n := range out {
			if !known[n] {
				return nil, latchkey.FieldError("permissions", "unknown permission %q", n)
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

// setKeyPermissions replaces the key's permissions with names, which
// checkPermissions has approved.
func setKeyPermissions(ctx context.Context, tx *Tx, k *latchkey.Key, names []string) error {
	if _, err := tx.exec(ctx, `DELETE FROM key_permissions WHERE key_id = ?`, k.ID); err != nil {
		return fmt.Errorf("clear key permissions: %w", err)
	}
	if _, err := tx.exec(ctx, `DELETE FROM key_root_permissions WHERE key_id = ?`, k.ID); err != nil {
		return fmt.Errorf("clear key permissions: %w", err)
	}
	if len(names) == 0 {
		return nil
	}
	var args []any
	var q string
	if k.Kind == latchkey.KindRoot {
		q = `INSERT INTO key_root_permissions (key_id, name) VALUES ` +
			strings.TrimSuffix(strings.Repeat("(?, ?), ", len(names)), ", ")
		for _, n := range names {
			args = append(args, k.ID, n)
		}
	} else {
		q = `INSERT INTO key_permissions (key_id, account_id, name) VALUES ` +
			strings.TrimSuffix(strings.Repeat("(?, ?, ?), ", len(names)), ", ")
		for _, n := range names {
			args = append(args, k.ID, k.AccountID, n)
		}
	}
	if _, err := tx.exec(ctx, q, args...); isForeignKeyViolation(err) {
		// A permission deleted by a concurrent transaction (PostgreSQL).
		return latchkey.FieldError("permissions", "unknown permission in %q", names)
	} else if err != nil {
		return fmt.Errorf("set key permissions: %w", err)
	}
	return nil
}

// permissionsQuery reads the permissions of n keys, whose ids it takes
// twice.
func permissionsQuery(n int) string {
	in := placeholders(n)
	return `SELECT key_id, name FROM key_permissions WHERE key_id IN (` + in + `)
		UNION ALL SELECT key_id, name FROM key_root_permissions WHERE key_id IN (` + in + `)`
}

// permissionsOfOneKeyQuery is permissionsQuery(1), one of the hot queries
// kept prepared.
var permissionsOfOneKeyQuery = permissionsQuery(1)

// loadPermissions sets the sorted permissions of each key.
func loadPermissions(ctx context.Context, tx *Tx, keys []*latchkey.Key) error {
	if len(keys) == 0 {
		return nil
	}
	byID := make(map[int64]*latchkey.Key, len(keys))
	args := make([]any, 0, 2*len(keys))
	for _, k := range keys {
		k.Permissions = []string{}
		byID[k.ID] = k
		args = append(args, k.ID)
	}
	args = append(args, args...)
	// For one key the text is permissionsOfOneKeyQuery, kept prepared;
	// other texts are not cached and run as plain queries.
	rows, err := tx.queryCached(ctx, permissionsQuery(len(keys)), args...)
	if err != nil {
		return fmt.Errorf("load key permissions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var name string
		if err := rows.Scan(&id, &name); err != nil {
			return fmt.Errorf("load key permissions: %w", err)
		}
		if k := byID[id]; k != nil {
			k.Permissions = append(k.Permissions, name)
		}
	}
	if err := rowsErr(rows); err != nil {
		return fmt.Errorf("load key permissions: %w", err)
	}
	for _, k := range keys {
		sort.Strings(k.Permissions)
	}
	return nil
}
