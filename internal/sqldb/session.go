// Sign-in sessions: families of refresh tokens, rotation, replay and reuse
// detection, revocation and pruning.

package sqldb

import (
	"context"
	"crypto/hmac"
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
	familyIDBytes = 16 // 128 random bits
	// tokenBytes and maxToken size every token the store hands out,
	// refresh and setup tokens: 256 random bits; a longer "token" is not
	// one of ours.
	tokenBytes      = 32
	maxToken        = 256
	maxSessionIP    = 64
	maxSessionAgent = 512
	minSessionKey   = 32 // bytes of the key successor tokens are derived under
	// maxReplayHops bounds how far a replay follows a line of tokens that
	// were each rotated within the window (see replaySuccessor).
	maxReplayHops = 16
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
// (ttl), not_found (user), unauthorized (a disabled user).
func (s *Store) CreateSession(ctx context.Context, userID int64, ttl time.Duration, ip, userAgent string) (*latchkey.SessionFamily, string, error) {
	if ttl <= 0 {
		return nil, "", latchkey.FieldError("ttl", "must be positive")
	}
	return writeTx2(ctx, s, func(tx *Tx) (*latchkey.SessionFamily, string, error) {
		return createSession(ctx, tx, userID, ttl, ip, userAgent)
	})
}

// RefreshSession exchanges a family's current refresh token for a new one
// with the family's expiry, in one write transaction holding the token's row,
// so of concurrent refreshes with one token exactly one rotates it and the
// others, waiting on the row, then find it rotated.
//
// The new token is not random: it is HMAC-SHA256 of the old one under key
// (see successorToken), so the store, which keeps only SHA-256 hashes, can
// answer the same token presented again within
// latchkey.RefreshReplayWindow of its rotation with the same successor, and
// revoke nothing. Presented after the window, a rotated token revokes the
// whole family (committed, and audited) and fails. Errors: unauthorized
// (unknown, reused, expired or revoked).
func (s *Store) RefreshSession(ctx context.Context, refreshToken string, key []byte) (*latchkey.SessionFamily, string, error) {
	if len(key) < minSessionKey {
		return nil, "", fmt.Errorf("refresh session: the key must be at least %d bytes, got %d", minSessionKey, len(key))
	}
	if refreshToken == "" || len(refreshToken) > maxToken {
		return nil, "", errSessionInvalid
	}
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return nil, "", err
	}
	defer tx.Rollback()
	f, token, err := refreshSession(ctx, tx, refreshToken, key)
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
	return readTx(ctx, s, func(tx *Tx) (*latchkey.SessionFamily, error) {
		return findSessionFamily(ctx, tx, id, false)
	})
}

// RevokeSessionFamily ends a family and every refresh token of it. The
// first revocation is stamped and audited as a logout; revoking again does
// nothing. Errors: not_found.
func (s *Store) RevokeSessionFamily(ctx context.Context, id string) error {
	return s.write(ctx, func(tx *Tx) error {
		f, err := findSessionFamily(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if f.RevokedAt != nil {
			return nil
		}
		return revokeSessionFamily(ctx, tx, f, latchkey.ActionSessionLogout)
	})
}

// RevokeUserSessions ends every live family of the user at once, audited
// once as a logout from everywhere with the count. Errors: not_found (user).
func (s *Store) RevokeUserSessions(ctx context.Context, userID int64) (int64, error) {
	return writeTx(ctx, s, func(tx *Tx) (int64, error) {
		if _, _, err := findUser(ctx, tx, "id = ?", userID); err != nil {
			return 0, err
		}
		n, err := revokeUserSessions(ctx, tx, userID)
		if err != nil {
			return 0, err
		}
		if n > 0 {
			ctx := sessionActor(ctx, userID, "", "")
			if err := auditHome(ctx, tx, latchkey.ActionSessionLogoutAll, "user", userID, map[string]latchkey.Change{
				"sessions_revoked": created(n),
			}); err != nil {
				return 0, err
			}
		}
		return n, nil
	})
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
	return writeTx(ctx, s, func(tx *Tx) (int64, error) {
		cutoff := micros(tx.now.Add(-keep))
		// Tokens first, explicitly: the cascade would do it on both engines,
		// but this keeps the delete independent of foreign-key settings.
		if _, err := tx.exec(ctx, `DELETE FROM refresh_tokens WHERE family_id IN
			(SELECT id FROM session_families WHERE expires_at < ?)`, cutoff); err != nil {
			return 0, fmt.Errorf("prune refresh tokens: %w", err)
		}
		return execCount(ctx, tx, "prune session families", `DELETE FROM session_families WHERE expires_at < ?`, cutoff)
	})
}

// createSession is CreateSession inside a write transaction: a new family
// with its first refresh token, audited as a login.
func createSession(ctx context.Context, tx *Tx, userID int64, ttl time.Duration, ip, userAgent string) (*latchkey.SessionFamily, string, error) {
	if u, _, err := findUser(ctx, tx, "id = ?", userID); err != nil {
		return nil, "", err
	} else if u.Disabled {
		return nil, "", latchkey.Errorf(latchkey.EUNAUTHORIZED, "user %d is disabled", userID)
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
	// The first token of a family is random; each later one is derived
	// from the one before (see successorToken).
	token, err := randomToken(tokenBytes)
	if err != nil {
		return nil, "", err
	}
	if err := insertRefreshToken(ctx, tx, f, token); err != nil {
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

// refreshSession rotates refreshToken. A token rotated less than
// latchkey.RefreshReplayWindow ago is answered with its successor again;
// one rotated earlier returns errSessionReuse, with the family revoked in tx.
func refreshSession(ctx context.Context, tx *Tx, refreshToken string, key []byte) (*latchkey.SessionFamily, string, error) {
	hash := sha256.Sum256([]byte(refreshToken))
	// Lock the token's row first: a concurrent refresh with the same token
	// waits here and then sees rotated_at set (PostgreSQL re-reads a row it
	// waited for under READ COMMITTED; SQLite runs one writer at a time).
	var familyID string
	var expiresAt int64
	var rotatedAt sql.NullInt64
	err := tx.queryRow(ctx, `SELECT family_id, expires_at, rotated_at FROM refresh_tokens WHERE hash = ?`+tx.store.dialect.forUpdate,
		hash[:]).Scan(&familyID, &expiresAt, &rotatedAt)
	if noRow(err) {
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
	// A disabled user's families were revoked when they were disabled;
	// this holds even for one that raced with the deactivation.
	if u, _, err := findUser(ctx, tx, "id = ?", f.UserID); err != nil {
		return nil, "", fmt.Errorf("refresh token's user: %w", err)
	} else if u.Disabled {
		return nil, "", errSessionInvalid
	}
	next := successorToken(key, refreshToken)
	if rotatedAt.Valid {
		// Signed: a rotation stamped by an instance whose clock runs ahead,
		// or by a transaction that began after this one but locked the row
		// first, is a moment ago, not far in the past.
		if tx.now.Sub(fromMicros(rotatedAt.Int64)) < latchkey.RefreshReplayWindow {
			token, err := replaySuccessor(ctx, tx, f, key, next)
			if err != nil {
				return nil, "", err
			}
			return f, token, nil
		}
		if err := revokeSessionFamily(ctx, tx, f, latchkey.ActionSessionReuse); err != nil {
			return nil, "", err
		}
		return nil, "", errSessionReuse
	}
	if _, err := tx.exec(ctx, `UPDATE refresh_tokens SET rotated_at = ? WHERE hash = ?`, micros(tx.now), hash[:]); err != nil {
		return nil, "", fmt.Errorf("rotate refresh token: %w", err)
	}
	if err := insertRefreshToken(ctx, tx, f, next); err != nil {
		return nil, "", err
	}
	return f, next, nil
}

// replaySuccessor answers a replay, within the window, of a token whose
// successor is next: next itself, or, when next has been rotated too since
// (a tab that refreshed twice in a few seconds), the newest token of that
// line, because a browser stores whichever answer comes last and the
// successor it would keep is already spent. Every token of the line was
// issued after the replayed one was rotated, so following it gives nothing
// that presenting each token in turn would not. It does not lock those
// rows (a refresh of one of them locks it, then the family this
// transaction holds: waiting on it here could deadlock), so a rotation
// racing with the replay may make the answer a token rotated a moment ago,
// as it would have been without following the line.
//
// A successor that is not in the store (it was derived under another key,
// as after a change of LATCHKEY_SECRET_KEY, or issued by a release that
// drew successors at random) cannot be given back; that replay fails as an
// invalid token and revokes nothing, as a replay in the window never does.
func replaySuccessor(ctx context.Context, tx *Tx, f *latchkey.SessionFamily, key []byte, next string) (string, error) {
	for range maxReplayHops {
		hash := sha256.Sum256([]byte(next))
		var familyID string
		var rotatedAt sql.NullInt64
		err := tx.queryRow(ctx, `SELECT family_id, rotated_at FROM refresh_tokens WHERE hash = ?`, hash[:]).Scan(&familyID, &rotatedAt)
		if noRow(err) || err == nil && familyID != f.ID {
			return "", errSessionInvalid
		} else if err != nil {
			return "", fmt.Errorf("find successor token: %w", err)
		}
		if !rotatedAt.Valid {
			return next, nil
		}
		next = successorToken(key, next)
	}
	return "", errSessionInvalid
}

// successorToken is the token that replaces token when it is rotated:
// base64url(HMAC-SHA256(key, label || token)), 32 bytes like a first token.
// Being a function of the old token lets a replay get the same answer back
// although the store keeps only hashes. Being keyed means a spent token
// alone does not tell its successor: that needs the server's key too, the
// key that already signs access tokens, so it reveals nothing its holder
// could not already do. The label keeps these MACs apart from the key's
// other uses (access tokens, CSRF tokens).
func successorToken(key []byte, token string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("latchkey refresh successor\x00"))
	m.Write([]byte(token))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
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

// revokeUserSessions stamps every live family of the user revoked, as a
// deactivation or a password change does, and reports how many.
func revokeUserSessions(ctx context.Context, tx *Tx, userID int64) (int64, error) {
	return execCount(ctx, tx, "revoke user's sessions",
		`UPDATE session_families SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ?`,
		micros(tx.now), userID, micros(tx.now))
}

// insertSessionEvent audits a session family's event as its user.
func insertSessionEvent(ctx context.Context, tx *Tx, f *latchkey.SessionFamily, action string, changes map[string]latchkey.Change) error {
	return auditHome(ctx, tx, action, "session", f.ID, changes)
}

// sessionActor returns ctx with the session's user as the actor, unless the
// caller named one. ip and userAgent are the request's, if known.
func sessionActor(ctx context.Context, userID int64, ip, userAgent string) context.Context {
	if latchkey.ActorFromContext(ctx).Kind != latchkey.ActorSystem {
		return ctx
	}
	return latchkey.NewContextWithActor(ctx, latchkey.Actor{Kind: latchkey.ActorUser, ID: userID, IP: ip, UserAgent: userAgent})
}

// insertRefreshToken stores token as a refresh token of f, expiring with
// it; only its SHA-256 is stored.
func insertRefreshToken(ctx context.Context, tx *Tx, f *latchkey.SessionFamily, token string) error {
	hash := sha256.Sum256([]byte(token))
	if _, err := tx.exec(ctx, `INSERT INTO refresh_tokens (hash, family_id, created_at, expires_at) VALUES (?, ?, ?, ?)`,
		hash[:], f.ID, micros(tx.now), micros(f.ExpiresAt)); err != nil {
		return fmt.Errorf("insert refresh token: %w", err)
	}
	return nil
}

// findSessionFamily returns a family or not_found; lock (in a write
// transaction) locks its row.
func findSessionFamily(ctx context.Context, tx *Tx, id string, lock bool) (*latchkey.SessionFamily, error) {
	q := `SELECT id, user_id, created_at, expires_at, revoked_at, ip, user_agent FROM session_families WHERE id = ?`
	if lock {
		q += tx.store.dialect.forUpdate
	}
	var f latchkey.SessionFamily
	var createdAt, expiresAt int64
	var revokedAt sql.NullInt64
	err := tx.queryRow(ctx, q, id).Scan(&f.ID, &f.UserID, &createdAt, &expiresAt, &revokedAt, &f.IP, &f.UserAgent)
	if err := rowErr(err, "find session family", "session not found"); err != nil {
		return nil, err
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
