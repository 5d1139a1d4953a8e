// Users and their memberships of accounts.

package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"

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
// case-insensitively. Errors: not_found.
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
			SELECT u.id, u.email, u.name, u.created_at, m.role
			FROM memberships m JOIN users u ON u.id = m.user_id
			WHERE m.account_id = ?
			ORDER BY u.email`, accountID)
		return collect(rows, err, "find members", func(r scanner) (*latchkey.Member, error) {
			var m latchkey.Member
			var createdAt int64
			var role string
			if err := r.Scan(&m.ID, &m.Email, &m.Name, &createdAt, &role); err != nil {
				return nil, err
			}
			m.CreatedAt, m.Role = fromMicros(createdAt), latchkey.Role(role)
			return &m, nil
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
			var role string
			var createdAt int64
			if err := r.Scan(&m.AccountID, &m.UserID, &role, &createdAt); err != nil {
				return nil, err
			}
			m.Role, m.CreatedAt = latchkey.Role(role), fromMicros(createdAt)
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
	home, err := homeAccountID(ctx, tx)
	if err != nil {
		return err
	}
	u.CreatedAt = tx.now
	err = tx.queryRow(ctx, `INSERT INTO users (email, name, password_hash, created_at) VALUES (?, ?, ?, ?) RETURNING id`,
		u.Email, u.Name, passwordHash, micros(u.CreatedAt)).Scan(&u.ID)
	if isUniqueViolation(err) {
		return latchkey.Errorf(latchkey.ECONFLICT, "a user with email %q already exists", u.Email)
	} else if err != nil {
		return fmt.Errorf("insert user: %w", err)
	}
	return insertAuditEvent(ctx, tx, &latchkey.AuditEvent{
		AccountID:  home,
		Action:     latchkey.ActionUserCreate,
		TargetType: "user",
		TargetID:   strconv.FormatInt(u.ID, 10),
		Changes: map[string]latchkey.Change{
			"email": created(u.Email),
			"name":  created(u.Name),
		},
	}, 0)
}

// findUser returns the one user matching where (a condition on users with
// one ? argument) and their password hash.
func findUser(ctx context.Context, tx *Tx, where string, arg any) (*latchkey.User, string, error) {
	var u latchkey.User
	var hash string
	var createdAt int64
	err := tx.queryRow(ctx, `SELECT id, email, name, password_hash, created_at FROM users WHERE `+where, arg).
		Scan(&u.ID, &u.Email, &u.Name, &hash, &createdAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, "", latchkey.Errorf(latchkey.ENOTFOUND, "user not found")
	} else if err != nil {
		return nil, "", fmt.Errorf("find user: %w", err)
	}
	u.CreatedAt = fromMicros(createdAt)
	return &u, hash, nil
}

// setMembership is SetMembership inside a write transaction: it locks the
// user, inserts or changes the role, and audits what it replaced.
func setMembership(ctx context.Context, tx *Tx, accountID, userID int64, role latchkey.Role) error {
	// Lock the user's row: concurrent changes of one user's memberships
	// queue, so each audit event's "before" is the role it replaced.
	var id int64
	err := tx.queryRow(ctx, `SELECT id FROM users WHERE id = ?`+tx.store.dialect.forUpdate, userID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return latchkey.Errorf(latchkey.ENOTFOUND, "user %d not found", userID)
	} else if err != nil {
		return fmt.Errorf("set membership: %w", err)
	}
	if _, err := findAccountByID(ctx, tx, accountID); err != nil {
		return err
	}
	var before sql.NullString
	err = tx.queryRow(ctx, `SELECT role FROM memberships WHERE account_id = ? AND user_id = ?`, accountID, userID).Scan(&before)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("set membership: %w", err)
	}
	if before.Valid && before.String == string(role) {
		return nil
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
	return insertAuditEvent(ctx, tx, &latchkey.AuditEvent{
		AccountID:  accountID,
		Action:     latchkey.ActionMemberSet,
		TargetType: "member",
		TargetID:   strconv.FormatInt(userID, 10),
		Changes:    diffFields(map[string]any{"role": was}, map[string]any{"role": string(role)}),
	}, 0)
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
	if errors.Is(err, sql.ErrNoRows) {
		return 0, errors.New("no account exists to record the audit event in: bootstrap the store first")
	} else if err != nil {
		return 0, fmt.Errorf("find home account: %w", err)
	}
	return id, nil
}
