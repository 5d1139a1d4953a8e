package sqldb

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/latchkey/latchkey"
)

var _ latchkey.SessionService = (*Store)(nil)

// Session limits.
const (
	familyIDBytes     = 16  // 128 random bits
	refreshTokenBytes = 32  // 256 random bits
	maxRefreshToken   = 256 // a longer "token" is not one of ours
	maxSessionIP      = 64
	maxSessionAgent   = 512
)

// errSessionInvalid answers every refresh that fails for an unknown,
// expired or revoked token or family; it does not say which.
var errSessionInvalid = &latchkey.Error{Code: latchkey.EUNAUTHORIZED, Message: "invalid or expired refresh token"}

// errSessionReuse answers the presentation of a refresh token that was
// already rotated: the family has been revoked.
var errSessionReuse = &latchkey.Error{Code: latchkey.EUNAUTHORIZED, Message: "refresh token reuse detected; session revoked"}

// CreateSession opens a family for the user, expiring after ttl, and returns
// it with its first refresh token; only the token's SHA-256 is stored. ip and
// userAgent are clipped to 64 and 512 bytes. The login is audited with the
// context's actor, or the user if the context has none. Errors: invalid
// (ttl), not_found (user).
func (s *Store) CreateSession(ctx context.Context, userID int64, ttl time.Duration, ip, userAgent string) (*latchkey.SessionFamily, string, error) {
	if ttl <= 0 {
		return nil, "", latchkey.FieldError("ttl", "must be positive")
	}
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return nil, "", err
	}
	defer tx.Rollback()
	f, token, err := createSession(ctx, tx, userID, ttl, ip, userAgent)
	if err != nil {
		return nil, "", err
	}
	if err := tx.Commit(); err != nil {
		return nil, "", err
	}
	return f, token, nil
}

// RefreshSession exchanges a family's current refresh token for a new one
// with the family's expiry, in one write transaction holding the token's row,
// so of concurrent refreshes with one token exactly one succeeds. Presenting
// a token that was already rotated revokes the whole family (committed, and
// audited) and fails. Errors: unauthorized (unknown, rotated, expired or
// revoked).
func (s *Store) RefreshSession(ctx context.Context, refreshToken string) (*latchkey.SessionFamily, string, error) {
	if refreshToken == "" || len(refreshToken) > maxRefreshToken {
		return nil, "", errSessionInvalid
	}
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return nil, "", err
	}
	defer tx.Rollback()
	f, token, err := refreshSession(ctx, tx, refreshToken)
	if errors.Is(err, errSessionReuse) {
		// Keep the revocation: it is the point of detecting reuse.
		if err := tx.Commit(); err != nil {
			return nil, "", err
		}
		return nil, "", errSessionReuse
	} else if err != nil {
		return nil, "", err
	}
	if err := tx.Commit(); err != nil {
		return nil, "", err
	}
	return f, token, nil
}

// FindSessionFamily returns a family, whatever its state. Errors: not_found.
func (s *Store) FindSessionFamily(ctx context.Context, id string) (*latchkey.SessionFamily, error) {
	tx, err := s.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	return findSessionFamily(ctx, tx, id, false)
}

// RevokeSessionFamily ends a family and every refresh token of it. The
// first revocation is stamped and audited as a logout; revoking again does
// nothing. Errors: not_found.
func (s *Store) RevokeSessionFamily(ctx context.Context, id string) error {
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	f, err := findSessionFamily(ctx, tx, id, true)
	if err != nil {
		return err
	}
	if f.RevokedAt != nil {
		return nil
	}
	if err := revokeSessionFamily(ctx, tx, f, latchkey.ActionSessionLogout); err != nil {
		return err
	}
	return tx.Commit()
}

// PruneSessions deletes the families, with their refresh tokens, that
// expired before now minus keep, and returns how many. An expired family
// refreshes no more, so pruning changes no answer but FindSessionFamily's;
// without it every refresh adds a row that is never removed. Call it now and
// then (hourly, say) from one place. Errors: invalid (negative keep).
func (s *Store) PruneSessions(ctx context.Context, keep time.Duration) (int64, error) {
	if keep < 0 {
		return 0, latchkey.FieldError("keep", "must not be negative")
	}
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	cutoff := micros(tx.now.Add(-keep))
	// Tokens first, explicitly: the cascade would do it on both engines,
	// but this keeps the delete independent of foreign-key settings.
	if _, err := tx.exec(ctx, `DELETE FROM refresh_tokens WHERE family_id IN
		(SELECT id FROM session_families WHERE expires_at < ?)`, cutoff); err != nil {
		return 0, fmt.Errorf("prune refresh tokens: %w", err)
	}
	res, err := tx.exec(ctx, `DELETE FROM session_families WHERE expires_at < ?`, cutoff)
	if err != nil {
		return 0, fmt.Errorf("prune session families: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("prune session families: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, err
	}
	return n, nil
}

func createSession(ctx context.Context, tx *Tx, userID int64, ttl time.Duration, ip, userAgent string) (*latchkey.SessionFamily, string, error) {
	if _, _, err := findUser(ctx, tx, "id = ?", userID); err != nil {
		return nil, "", err
	}
	id, err := randomToken(familyIDBytes)
	if err != nil {
		return nil, "", err
	}
	f := &latchkey.SessionFamily{
		ID:        id,
		UserID:    userID,
		CreatedAt: tx.now,
		ExpiresAt: tx.now.Add(ttl).Truncate(time.Microsecond),
		IP:        clip(ip, maxSessionIP),
		UserAgent: clip(userAgent, maxSessionAgent),
	}
	if _, err := tx.exec(ctx, `INSERT INTO session_families (id, user_id, created_at, expires_at, ip, user_agent)
		VALUES (?, ?, ?, ?, ?, ?)`,
		f.ID, f.UserID, micros(f.CreatedAt), micros(f.ExpiresAt), f.IP, f.UserAgent); err != nil {
		return nil, "", fmt.Errorf("insert session family: %w", err)
	}
	token, err := insertRefreshToken(ctx, tx, f)
	if err != nil {
		return nil, "", err
	}
	ctx = sessionActor(ctx, f.UserID, f.IP, f.UserAgent)
	if err := insertSessionEvent(ctx, tx, f, latchkey.ActionSessionLogin, map[string]latchkey.Change{
		"user_id":    created(f.UserID),
		"expires_at": created(f.ExpiresAt),
	}); err != nil {
		return nil, "", err
	}
	return f, token, nil
}

// refreshSession rotates refreshToken. It returns errSessionReuse, with
// the family revoked in tx, for a token already rotated.
func refreshSession(ctx context.Context, tx *Tx, refreshToken string) (*latchkey.SessionFamily, string, error) {
	hash := sha256.Sum256([]byte(refreshToken))
	// Lock the token's row first: a concurrent refresh with the same token
	// waits here and then sees rotated_at set.
	var familyID string
	var expiresAt int64
	var rotatedAt sql.NullInt64
	err := tx.queryRow(ctx, `SELECT family_id, expires_at, rotated_at FROM refresh_tokens WHERE hash = ?`+tx.store.dialect.forUpdate,
		hash[:]).Scan(&familyID, &expiresAt, &rotatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, "", errSessionInvalid
	} else if err != nil {
		return nil, "", fmt.Errorf("find refresh token: %w", err)
	}
	f, err := findSessionFamily(ctx, tx, familyID, true)
	if err != nil {
		return nil, "", fmt.Errorf("refresh token's family: %w", err)
	}
	if f.RevokedAt != nil || !tx.now.Before(f.ExpiresAt) || tx.now.UnixMicro() >= expiresAt {
		return nil, "", errSessionInvalid
	}
	if rotatedAt.Valid {
		if err := revokeSessionFamily(ctx, tx, f, latchkey.ActionSessionReuse); err != nil {
			return nil, "", err
		}
		return nil, "", errSessionReuse
	}
	if _, err := tx.exec(ctx, `UPDATE refresh_tokens SET rotated_at = ? WHERE hash = ?`, micros(tx.now), hash[:]); err != nil {
		return nil, "", fmt.Errorf("rotate refresh token: %w", err)
	}
	token, err := insertRefreshToken(ctx, tx, f)
	if err != nil {
		return nil, "", err
	}
	return f, token, nil
}

// revokeSessionFamily stamps f revoked and audits it as action.
func revokeSessionFamily(ctx context.Context, tx *Tx, f *latchkey.SessionFamily, action string) error {
	if _, err := tx.exec(ctx, `UPDATE session_families SET revoked_at = ? WHERE id = ?`, micros(tx.now), f.ID); err != nil {
		return fmt.Errorf("revoke session family: %w", err)
	}
	now := tx.now
	f.RevokedAt = &now
	return insertSessionEvent(sessionActor(ctx, f.UserID, "", ""), tx, f, action, map[string]latchkey.Change{
		"revoked_at": created(now),
	})
}

func insertSessionEvent(ctx context.Context, tx *Tx, f *latchkey.SessionFamily, action string, changes map[string]latchkey.Change) error {
	home, err := homeAccountID(ctx, tx)
	if err != nil {
		return err
	}
	return insertAuditEvent(ctx, tx, &latchkey.AuditEvent{
		AccountID:  home,
		Action:     action,
		TargetType: "session",
		TargetID:   f.ID,
		Changes:    changes,
	}, 0)
}

// sessionActor returns ctx with the session's user as the actor, unless the
// caller named one. ip and userAgent are the request's, if known.
func sessionActor(ctx context.Context, userID int64, ip, userAgent string) context.Context {
	if latchkey.ActorFromContext(ctx).Kind != latchkey.ActorSystem {
		return ctx
	}
	return latchkey.NewContextWithActor(ctx, latchkey.Actor{Kind: latchkey.ActorUser, ID: userID, IP: ip, UserAgent: userAgent})
}

// insertRefreshToken issues a new refresh token of f, expiring with it, and
// returns it; only its SHA-256 is stored.
func insertRefreshToken(ctx context.Context, tx *Tx, f *latchkey.SessionFamily) (string, error) {
	token, err := randomToken(refreshTokenBytes)
	if err != nil {
		return "", err
	}
	hash := sha256.Sum256([]byte(token))
	if _, err := tx.exec(ctx, `INSERT INTO refresh_tokens (hash, family_id, created_at, expires_at) VALUES (?, ?, ?, ?)`,
		hash[:], f.ID, micros(tx.now), micros(f.ExpiresAt)); err != nil {
		return "", fmt.Errorf("insert refresh token: %w", err)
	}
	return token, nil
}

func findSessionFamily(ctx context.Context, tx *Tx, id string, lock bool) (*latchkey.SessionFamily, error) {
	q := `SELECT id, user_id, created_at, expires_at, revoked_at, ip, user_agent FROM session_families WHERE id = ?`
	if lock {
		q += tx.store.dialect.forUpdate
	}
	var f latchkey.SessionFamily
	var createdAt, expiresAt int64
	var revokedAt sql.NullInt64
	err := tx.queryRow(ctx, q, id).Scan(&f.ID, &f.UserID, &createdAt, &expiresAt, &revokedAt, &f.IP, &f.UserAgent)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, latchkey.Errorf(latchkey.ENOTFOUND, "session not found")
	} else if err != nil {
		return nil, fmt.Errorf("find session family: %w", err)
	}
	f.CreatedAt, f.ExpiresAt, f.RevokedAt = fromMicros(createdAt), fromMicros(expiresAt), timePtr(revokedAt)
	return &f, nil
}

// randomToken returns n random bytes, base64url without padding.
func randomToken(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// clip makes s storable in a TEXT column of either engine, which refuse
// NUL and invalid UTF-8, and at most max bytes long, cut at a rune boundary.
func clip(s string, max int) string {
	s = strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "\uFFFD")
	if len(s) <= max {
		return s
	}
	s = s[:max]
	for len(s) > 0 {
		if r, size := utf8.DecodeLastRuneInString(s); r != utf8.RuneError || size > 1 {
			break
		}
		s = s[:len(s)-1]
	}
	return s
}
