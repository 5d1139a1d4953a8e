// The one-time setup link of the first start: its tokens, and completing
// the setup with the first admin user.

package sqldb

import (
	"context"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/latchkey/latchkey"
)

var _ latchkey.SetupService = (*Store)(nil)

// SetupTokenTTL is how long the setup link Bootstrap creates works.
const SetupTokenTTL = time.Hour

// errSetupInvalid answers every setup token that cannot be used, whether
// unknown, expired or spent: it does not say which.
var errSetupInvalid = &latchkey.Error{Code: latchkey.EUNAUTHORIZED, Message: "the setup link is invalid, expired or already used"}

// IssueSetupToken returns a new setup token valid for ttl, for an operator
// whose link expired, and ends every older unused one. Only its SHA-256 is
// stored. Errors: invalid (ttl), conflict (a user exists: setup is done).
func (s *Store) IssueSetupToken(ctx context.Context, ttl time.Duration) (string, error) {
	if ttl <= 0 {
		return "", latchkey.FieldError("ttl", "must be positive")
	}
	return writeTx(ctx, s, func(tx *Tx) (string, error) {
		return issueSetupToken(ctx, tx, ttl)
	})
}

// CompleteSetup spends the setup token and creates u, with the password
// hash, as admin of the default account, in one transaction that holds the
// bootstrap lock, so of concurrent calls exactly one succeeds. The user's
// creation, their membership and setup.complete are audited. Errors:
// unauthorized (unknown, expired or used token), conflict (a user exists,
// or the email is taken), invalid (u).
func (s *Store) CompleteSetup(ctx context.Context, token string, u *latchkey.User, passwordHash string) (*latchkey.User, error) {
	if token == "" || len(token) > maxToken {
		return nil, errSetupInvalid
	}
	return writeTx(ctx, s, func(tx *Tx) (*latchkey.User, error) {
		if err := s.dialect.lock(ctx, tx, lockBootstrap); err != nil {
			return nil, err
		}
		hash := sha256.Sum256([]byte(token))
		// Only a live token has a row here: unknown, spent and expired ones
		// answer alike.
		var one int
		err := tx.queryRow(ctx, `SELECT 1 FROM setup_tokens WHERE hash = ? AND used_at IS NULL AND expires_at > ?`+tx.store.dialect.forUpdate,
			hash[:], micros(tx.now)).Scan(&one)
		if noRow(err) {
			return nil, errSetupInvalid
		} else if err != nil {
			return nil, fmt.Errorf("find setup token: %w", err)
		}
		if err := refuseIfUsers(ctx, tx); err != nil {
			return nil, err
		}
		if err := createUser(ctx, tx, u, passwordHash); err != nil {
			return nil, err
		}
		home, err := homeAccountID(ctx, tx)
		if err != nil {
			return nil, err
		}
		ctx := sessionActor(ctx, u.ID, "", "")
		if err := setMembership(ctx, tx, home, u.ID, latchkey.RoleAdmin); err != nil {
			return nil, err
		}
		if _, err := tx.exec(ctx, `UPDATE setup_tokens SET used_at = ?, used_by = ? WHERE hash = ?`,
			micros(tx.now), u.ID, hash[:]); err != nil {
			return nil, fmt.Errorf("spend setup token: %w", err)
		}
		if err := audit(ctx, tx, home, latchkey.ActionSetupComplete, "user", u.ID, map[string]latchkey.Change{"email": created(u.Email)}); err != nil {
			return nil, err
		}
		return u, nil
	})
}

// issueSetupToken is IssueSetupToken inside a write transaction, under the
// bootstrap lock (Bootstrap holds it already; taking it again is a no-op).
func issueSetupToken(ctx context.Context, tx *Tx, ttl time.Duration) (string, error) {
	if err := tx.store.dialect.lock(ctx, tx, lockBootstrap); err != nil {
		return "", err
	}
	if err := refuseIfUsers(ctx, tx); err != nil {
		return "", err
	}
	now := micros(tx.now)
	if _, err := tx.exec(ctx, `UPDATE setup_tokens SET expires_at = ? WHERE used_at IS NULL AND expires_at > ?`, now, now); err != nil {
		return "", fmt.Errorf("end older setup tokens: %w", err)
	}
	token, err := randomToken(tokenBytes)
	if err != nil {
		return "", err
	}
	hash := sha256.Sum256([]byte(token))
	if _, err := tx.exec(ctx, `INSERT INTO setup_tokens (hash, created_at, expires_at) VALUES (?, ?, ?)`,
		hash[:], now, micros(tx.now.Add(ttl))); err != nil {
		return "", fmt.Errorf("insert setup token: %w", err)
	}
	return token, nil
}

// refuseIfUsers answers conflict once any user exists: the setup link
// creates only the first.
func refuseIfUsers(ctx context.Context, tx *Tx) error {
	var n int64
	if err := tx.queryRow(ctx, `SELECT COUNT(*) FROM users`).Scan(&n); err != nil {
		return fmt.Errorf("count users: %w", err)
	}
	if n > 0 {
		return latchkey.Errorf(latchkey.ECONFLICT, "setup is complete: a user exists already")
	}
	return nil
}
