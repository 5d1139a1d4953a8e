// Users and their memberships of accounts.

package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/latchkey/latchkey"
)

var _ latchkey.UserService = (*Store)(nil)

// CreateUser stores a user with an already hashed password and sets its ID
// and CreatedAt. The email is trimmed and lowercased first (u.Email gets the
// stored form), which makes it unique case-insensitively. The event goes to
// the home account (see homeAccountID); the hash never leaves the users
// table. Errors: invalid, conflict (email taken).
func (s *Store) CreateUser(ctx context.Context, u *latchkey.User, passwordHash string) error {
	return s.write(ctx, func(tx *Tx) error {
		return createUser(ctx, tx, u, passwordHash)
	})
}

// CreateMember stores a user and their role in the account in one
// transaction. Errors: invalid, conflict (email taken), not_found (account).
func (s *Store) CreateMember(ctx context.Context, accountID int64, u *latchkey.User, passwordHash string, role latchkey.Role) error {
	if !role.Valid() {
		return latchkey.FieldError("role", "must be admin or member")
	}
	return s.write(ctx, func(tx *Tx) error {
		if err := createUser(ctx, tx, u, passwordHash); err != nil {
			return err
		}
		return setMembership(ctx, tx, accountID, u.ID, role)
	})
}

// FindUserByID returns a user. Errors: not_found.
func (s *Store) FindUserByID(ctx context.Context, id int64) (*latchkey.User, error) {
	return readTx(ctx, s, func(tx *Tx) (*latchkey.User, error) {
		u, _, err := findUser(ctx, tx, "id = ?", id)
		return u, err
	})
}

// FindUserByEmail returns a user and their password hash; the email matches
// case-insensitively. A disabled user is returned too (Disabled says so):
// refusing them is sign-in's job. Errors: not_found.
func (s *Store) FindUserByEmail(ctx context.Context, email string) (*latchkey.User, string, error) {
	return readTx2(ctx, s, func(tx *Tx) (*latchkey.User, string, error) {
		return findUser(ctx, tx, "email = ?", latchkey.NormalizeEmail(email))
	})
}

// FindMembers lists an account's users with their roles, by email.
// Errors: not_found (account).
func (s *Store) FindMembers(ctx context.Context, accountID int64) ([]*latchkey.Member, error) {
	return readTx(ctx, s, func(tx *Tx) ([]*latchkey.Member, error) {
		if _, err := findAccountByID(ctx, tx, accountID); err != nil {
			return nil, err
		}
		rows, err := tx.query(ctx, `
			SELECT `+userColumns+`, m.role
			FROM memberships m JOIN users u ON u.id = m.user_id
			WHERE m.account_id = ?
			ORDER BY u.email`, accountID)
		return collect(rows, err, "find members", func(r scanner) (*latchkey.Member, error) {
			var role string
			u, err := scanUser(r, &role)
			if err != nil {
				return nil, err
			}
			return &latchkey.Member{User: *u, Role: latchkey.Role(role)}, nil
		})
	})
}

// FindMemberships lists a user's accounts, oldest membership first.
// Errors: not_found (user).
func (s *Store) FindMemberships(ctx context.Context, userID int64) ([]*latchkey.Membership, error) {
	return readTx(ctx, s, func(tx *Tx) ([]*latchkey.Membership, error) {
		if _, _, err := findUser(ctx, tx, "id = ?", userID); err != nil {
			return nil, err
		}
		rows, err := tx.query(ctx, `
			SELECT account_id, user_id, role, created_at FROM memberships
			WHERE user_id = ?
			ORDER BY created_at, account_id`, userID)
		return collect(rows, err, "find memberships", func(r scanner) (*latchkey.Membership, error) {
			var m latchkey.Membership
			if err := scanCreated(r, &m.CreatedAt, &m.AccountID, &m.UserID, (*string)(&m.Role)); err != nil {
				return nil, err
			}
			return &m, nil
		})
	})
}

// SetMembership gives the user the role in the account, adding the
// membership or changing its role, and records the role's before → after in
// the account's audit log. Setting the role a member already has writes
// nothing. Errors: invalid (role), not_found (user or account).
func (s *Store) SetMembership(ctx context.Context, accountID, userID int64, role latchkey.Role) error {
	if !role.Valid() {
		return latchkey.FieldError("role", "must be admin or member")
	}
	return s.write(ctx, func(tx *Tx) error {
		return setMembership(ctx, tx, accountID, userID, role)
	})
}

// CountUsers reports how many users exist.
func (s *Store) CountUsers(ctx context.Context) (int64, error) {
	return readTx(ctx, s, func(tx *Tx) (int64, error) {
		var n int64
		if err := tx.queryRow(ctx, `SELECT COUNT(*) FROM users`).Scan(&n); err != nil {
			return 0, fmt.Errorf("count users: %w", err)
		}
		return n, nil
	})
}

// FindUsers lists every user by id, disabled ones too.
func (s *Store) FindUsers(ctx context.Context) ([]*latchkey.User, error) {
	return readTx(ctx, s, func(tx *Tx) ([]*latchkey.User, error) {
		rows, err := tx.query(ctx, `SELECT `+userColumns+` FROM users u ORDER BY u.id`)
		return collect(rows, err, "find users", func(r scanner) (*latchkey.User, error) { return scanUser(r) })
	})
}

// UpdateUser applies u (nil fields keep) and returns the user as stored.
// The change is audited as user.update in the home account, a new password
// only as "changed". Disabling the user or changing their password revokes
// every live session family of theirs in the same transaction. An update
// that changes nothing writes nothing. Errors: invalid, not_found.
func (s *Store) UpdateUser(ctx context.Context, id int64, u *latchkey.UserUpdate) (*latchkey.User, error) {
	if u == nil {
		return nil, latchkey.Errorf(latchkey.EINVALID, "user update: missing input")
	}
	if err := u.Validate(); err != nil {
		return nil, err
	}
	if u.PasswordHash != nil && *u.PasswordHash == "" {
		// A programming error (the caller hashes), not bad user input.
		return nil, errors.New("update user: empty password hash")
	}
	return writeTx(ctx, s, func(tx *Tx) (*latchkey.User, error) {
		return updateUser(ctx, tx, id, u)
	})
}

// RemoveMember ends the user's membership of the account, audited as
// member.remove in that account. Errors: not_found (user, account or
// membership), conflict (the account's last admin).
func (s *Store) RemoveMember(ctx context.Context, accountID, userID int64) error {
	return s.write(ctx, func(tx *Tx) error {
		if err := lockUser(ctx, tx, userID); err != nil {
			return err
		}
		var role string
		err := tx.queryRow(ctx, `SELECT role FROM memberships WHERE account_id = ? AND user_id = ?`, accountID, userID).Scan(&role)
		if err := rowErr(err, "remove member", "user %d is not a member of account %d", userID, accountID); err != nil {
			return err
		}
		if role == string(latchkey.RoleAdmin) {
			if err := keepAnAdmin(ctx, tx, accountID, userID); err != nil {
				return err
			}
		}
		if _, err := tx.exec(ctx, `DELETE FROM memberships WHERE account_id = ? AND user_id = ?`, accountID, userID); err != nil {
			return fmt.Errorf("remove member: %w", err)
		}
		return audit(ctx, tx, accountID, latchkey.ActionMemberRemove, "member", userID, map[string]latchkey.Change{"role": removed(role)})
	})
}

// updateUser is UpdateUser inside a write transaction, holding the user's
// row: it writes and audits what changed and ends the user's sessions when
// they are disabled or get a new password.
func updateUser(ctx context.Context, tx *Tx, id int64, up *latchkey.UserUpdate) (*latchkey.User, error) {
	u, _, err := findUser(ctx, tx, "id = ?"+tx.store.dialect.forUpdate, id)
	if err != nil {
		return nil, err
	}
	before := map[string]any{"name": u.Name, "disabled": u.Disabled}
	if up.Name != nil {
		u.Name = *up.Name
	}
	disabling := up.Disabled != nil && *up.Disabled && !u.Disabled
	if up.Disabled != nil && *up.Disabled != u.Disabled {
		u.Disabled, u.DisabledAt = *up.Disabled, nil
		if u.Disabled {
			now := tx.now
			u.DisabledAt = &now
		}
	}
	changes := diffFields(before, map[string]any{"name": u.Name, "disabled": u.Disabled})
	if up.PasswordHash != nil {
		changes["password"] = created("changed") // never the hash
	}
	if len(changes) == 0 {
		return u, nil
	}
	if _, err := tx.exec(ctx, `UPDATE users SET name = ?, disabled_at = ?, password_hash = COALESCE(?, password_hash) WHERE id = ?`,
		u.Name, nullMicros(u.DisabledAt), nullString(up.PasswordHash), id); err != nil {
		return nil, fmt.Errorf("update user: %w", err)
	}
	if disabling || up.PasswordHash != nil {
		n, err := revokeUserSessions(ctx, tx, id)
		if err != nil {
			return nil, err
		}
		if n > 0 {
			changes["sessions_revoked"] = created(n)
		}
	}
	if err := auditHome(ctx, tx, latchkey.ActionUserUpdate, "user", id, changes); err != nil {
		return nil, err
	}
	return u, nil
}

// createUser normalizes, validates and inserts a user and audits it.
func createUser(ctx context.Context, tx *Tx, u *latchkey.User, passwordHash string) error {
	if u == nil {
		return latchkey.Errorf(latchkey.EINVALID, "user: missing input")
	}
	u.Email = latchkey.NormalizeEmail(u.Email)
	if err := u.Validate(); err != nil {
		return err
	}
	if passwordHash == "" {
		// A programming error (the caller hashes), not bad user input.
		return errors.New("create user: empty password hash")
	}
	u.CreatedAt = tx.now
	err := tx.queryRow(ctx, `INSERT INTO users (email, name, password_hash, created_at) VALUES (?, ?, ?, ?) RETURNING id`,
		u.Email, u.Name, passwordHash, micros(u.CreatedAt)).Scan(&u.ID)
	if err := insertErr(err, "insert user", "a user with email %q already exists", u.Email); err != nil {
		return err
	}
	return auditHome(ctx, tx, latchkey.ActionUserCreate, "user", u.ID, map[string]latchkey.Change{
		"email": created(u.Email),
		"name":  created(u.Name),
	})
}

// userColumns are the columns of users (as u) that scanUser reads.
const userColumns = `u.id, u.email, u.name, u.created_at, u.disabled_at`

// scanUser reads userColumns, then any further columns into extra: the one
// scan of a user for every query that returns them.
func scanUser(r scanner, extra ...any) (*latchkey.User, error) {
	var u latchkey.User
	var createdAt int64
	var disabledAt sql.NullInt64
	if err := r.Scan(append([]any{&u.ID, &u.Email, &u.Name, &createdAt, &disabledAt}, extra...)...); err != nil {
		return nil, err
	}
	u.CreatedAt, u.DisabledAt = fromMicros(createdAt), timePtr(disabledAt)
	u.Disabled = u.DisabledAt != nil
	return &u, nil
}

// findUser returns the one user matching where (a condition on users with
// one ? argument, optionally followed by a row lock) and their password
// hash.
func findUser(ctx context.Context, tx *Tx, where string, arg any) (*latchkey.User, string, error) {
	var hash string
	u, err := scanUser(tx.queryRow(ctx, `SELECT `+userColumns+`, u.password_hash FROM users u WHERE `+where, arg), &hash)
	if err := rowErr(err, "find user", "user not found"); err != nil {
		return nil, "", err
	}
	return u, hash, nil
}

// setMembership is SetMembership inside a write transaction: it locks the
// user, inserts or changes the role (never demoting the account's last
// admin), and audits what it replaced.
func setMembership(ctx context.Context, tx *Tx, accountID, userID int64, role latchkey.Role) error {
	if err := lockUser(ctx, tx, userID); err != nil {
		return err
	}
	if _, err := findAccountByID(ctx, tx, accountID); err != nil {
		return err
	}
	var before sql.NullString
	err := tx.queryRow(ctx, `SELECT role FROM memberships WHERE account_id = ? AND user_id = ?`, accountID, userID).Scan(&before)
	if err != nil && !noRow(err) {
		return fmt.Errorf("set membership: %w", err)
	}
	if before.Valid && before.String == string(role) {
		return nil
	}
	if before.String == string(latchkey.RoleAdmin) {
		if err := keepAnAdmin(ctx, tx, accountID, userID); err != nil {
			return err
		}
	}
	if _, err := tx.exec(ctx, `
		INSERT INTO memberships (account_id, user_id, role, created_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (account_id, user_id) DO UPDATE SET role = excluded.role`,
		accountID, userID, string(role), micros(tx.now)); err != nil {
		return fmt.Errorf("upsert membership: %w", err)
	}
	var was any // null for a new membership
	if before.Valid {
		was = before.String
	}
	return audit(ctx, tx, accountID, latchkey.ActionMemberSet, "member", userID, diffFields(map[string]any{"role": was}, map[string]any{"role": string(role)}))
}

// lockUser locks a user's row, or answers not_found: concurrent changes of
// one user's memberships queue, so each audit event's "before" is the role
// it replaced.
func lockUser(ctx context.Context, tx *Tx, userID int64) error {
	var id int64
	err := tx.queryRow(ctx, `SELECT id FROM users WHERE id = ?`+tx.store.dialect.forUpdate, userID).Scan(&id)
	return rowErr(err, "lock user", "user %d not found", userID)
}

// keepAnAdmin refuses, as a conflict, to end or demote userID's admin
// membership when no other admin of the account would remain. It first
// locks the account's row, so concurrent demotions of its admins queue and
// each counts the others' outcome (PostgreSQL's READ COMMITTED reads what
// committed before the lock was granted; SQLite has one writer).
func keepAnAdmin(ctx context.Context, tx *Tx, accountID, userID int64) error {
	lock := tx.store.dialect.forUpdate
	if lock != "" {
		// Not FOR UPDATE: that would also hold off inserts of keys and
		// other rows referencing the account.
		lock = " FOR NO KEY UPDATE"
	}
	var n int64
	if err := tx.queryRow(ctx, `SELECT id FROM accounts WHERE id = ?`+lock, accountID).Scan(&n); err != nil {
		return fmt.Errorf("lock account: %w", err)
	}
	if err := tx.queryRow(ctx, `SELECT COUNT(*) FROM memberships WHERE account_id = ? AND role = ? AND user_id <> ?`,
		accountID, string(latchkey.RoleAdmin), userID).Scan(&n); err != nil {
		return fmt.Errorf("count admins: %w", err)
	}
	if n == 0 {
		return latchkey.Errorf(latchkey.ECONFLICT, "user %d is the last admin of account %d: make another member admin first", userID, accountID)
	}
	return nil
}

// homeAccountID returns the account that records the audit events of
// installation-wide things, users and sign-ins, which belong to no one
// account: the default account, or the oldest account if none is named
// default. audit_events.account_id is required, and every audit read is
// scoped to one account, so such events need a home that the installation's
// administrators read.
func homeAccountID(ctx context.Context, tx *Tx) (int64, error) {
	var id int64
	err := tx.queryRow(ctx, `SELECT id FROM accounts ORDER BY CASE WHEN name = ? THEN 0 ELSE 1 END, id LIMIT 1`,
		latchkey.DefaultAccountName).Scan(&id)
	if noRow(err) {
		return 0, errors.New("no account exists to record the audit event in: bootstrap the store first")
	} else if err != nil {
		return 0, fmt.Errorf("find home account: %w", err)
	}
	return id, nil
}
