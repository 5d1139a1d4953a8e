package compat

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/http/auth"
)

// This file holds the mail-forwarding admin API's sign-in plumbing, so
// its client can open, read, refresh and end a session as it does against
// the product, on Latchkey's users and session families:
//
//	POST /api/auth/sign-in       {identifier, password} (JSON or a form)
//	     200 {ok, action: "sign_in", authenticated, user, session}, both cookies set
//	GET  /api/auth/session       200 {ok, authenticated, user, session}
//	GET  /api/auth/csrf          200 {ok, csrf_token}
//	POST /api/auth/refresh       the __Host-refresh cookie and X-CSRF-Token:
//	     200 {ok, action: "refresh", refreshed, session}, both cookies rotated
//	POST /api/auth/sign-out      200 {ok, action: "sign_out", signed_out}, cookies
//	     cleared; idempotent: no valid session answers the same
//	POST /api/auth/sign-out-all  200 {ok, action: "sign_out_all", signed_out}
//	GET  /api/admin/me           an account admin: 200 {ok, authenticated, admin, session}
//
// session is {session_family_id, access_expires_at, refresh_expires_at};
// user is the product's {id, username, email, email_verified_at,
// is_active, is_admin, created_at, updated_at, last_login_at}. Errors are
// the surface's {"error": code}: 400 invalid_params with field, 401
// invalid_credentials (wrong identifier or password, the same answer for
// both), 401 invalid_or_expired_session, 403 forbidden, csrf_required,
// invalid_csrf_token, 429 rate_limited with Retry-After.
//
// Deliberate differences: the identifier is the user's email (Latchkey
// users have no separate username); access_expires_at is null on the
// session and me routes, which only hold the access token, not its
// expiry. sign-out-all ends every session family of the user, as the
// product's does.

// mailForwardSession is the product's session object.
type mailForwardSession struct {
	FamilyID         string     `json:"session_family_id"`
	AccessExpiresAt  *time.Time `json:"access_expires_at"`
	RefreshExpiresAt time.Time  `json:"refresh_expires_at"`
}

// mailForwardUser is the product's user object.
type mailForwardUser struct {
	ID              int64      `json:"id"`
	Username        string     `json:"username"`
	Email           string     `json:"email"`
	EmailVerifiedAt *time.Time `json:"email_verified_at"`
	IsActive        int        `json:"is_active"`
	IsAdmin         bool       `json:"is_admin"`
	CreatedAt       time.Time  `json:"created_at"`
	UpdatedAt       time.Time  `json:"updated_at"`
	LastLoginAt     *time.Time `json:"last_login_at"`
}

// mailForwardSignedIn is the answer of sign-in, session, refresh and me.
type mailForwardSignedIn struct {
	OK            bool                `json:"ok"`
	Action        string              `json:"action,omitempty"`
	Authenticated bool                `json:"authenticated,omitempty"`
	Refreshed     bool                `json:"refreshed,omitempty"`
	User          *mailForwardUser    `json:"user,omitempty"`
	Admin         *mailForwardUser    `json:"admin,omitempty"`
	Session       *mailForwardSession `json:"session"`
}

// mailForwardSignedOut is the answer of sign-out and sign-out-all.
type mailForwardSignedOut struct {
	OK        bool   `json:"ok"`
	Action    string `json:"action"`
	SignedOut bool   `json:"signed_out"`
}

// mailForwardSessionOf resolves an access token to the signed-in user,
// their session and their role; accessExpires is the token's expiry when
// the caller knows it.
func (s *Surfaces) mailForwardSessionOf(r *http.Request, token string, accessExpires *time.Time) (*auth.Principal, *mailForwardUser, *mailForwardSession, replier) {
	p, err := s.Auth.UserSession(r, token)
	switch latchkey.ErrorCode(err) {
	case "":
	case latchkey.EUNAUTHORIZED:
		return nil, nil, nil, mailForwardFail(http.StatusUnauthorized, "invalid_or_expired_session")
	case latchkey.EFORBIDDEN:
		return nil, nil, nil, mailForwardFail(http.StatusForbidden, "forbidden")
	default:
		return nil, nil, nil, s.failure(mailForward, err)
	}
	u, err := s.Auth.Users.FindUserByID(r.Context(), p.Actor.ID)
	if e := s.outcome(mailForward, err, mailForwardFail(http.StatusUnauthorized, "invalid_or_expired_session"), nil); e != nil {
		return nil, nil, nil, e
	}
	fam, err := s.Auth.Sessions.FindSessionFamily(r.Context(), p.FamilyID)
	if e := s.outcome(mailForward, err, mailForwardFail(http.StatusUnauthorized, "invalid_or_expired_session"), nil); e != nil {
		return nil, nil, nil, e
	}
	username := u.Name
	if username == "" {
		username = u.Email
	}
	active := 1
	if u.Disabled {
		active = 0
	}
	signedIn := fam.CreatedAt.UTC()
	user := &mailForwardUser{ID: u.ID, Username: username, Email: u.Email, IsActive: active, IsAdmin: p.Role == latchkey.RoleAdmin,
		CreatedAt: u.CreatedAt.UTC(), UpdatedAt: u.CreatedAt.UTC(), LastLoginAt: &signedIn}
	return p, user, &mailForwardSession{FamilyID: fam.ID, AccessExpiresAt: utcPtr(accessExpires), RefreshExpiresAt: fam.ExpiresAt.UTC()}, nil
}

// mailForwardCookieSession resolves the __Host-access cookie (see
// mailForwardSessionOf).
func (s *Surfaces) mailForwardCookieSession(r *http.Request) (*auth.Principal, *mailForwardUser, *mailForwardSession, replier) {
	token, ok := auth.AccessCookieValue(r)
	if !ok {
		return nil, nil, nil, mailForwardFail(http.StatusUnauthorized, "invalid_or_expired_session")
	}
	return s.mailForwardSessionOf(r, token, nil)
}

// mailForwardCSRF answers a failed CSRF check of a cookie session.
func (s *Surfaces) mailForwardCSRF(r *http.Request, p *auth.Principal) replier {
	p.Cookie = true
	switch err := s.Auth.CheckCSRF(r, p); {
	case err == nil:
		return nil
	case errors.Is(err, auth.ErrCSRFRequired):
		return mailForwardFail(http.StatusForbidden, "csrf_required")
	}
	return mailForwardFail(http.StatusForbidden, "invalid_csrf_token")
}

// handleMailForwardSignIn is POST /api/auth/sign-in.
func (s *Surfaces) handleMailForwardSignIn(w http.ResponseWriter, r *http.Request) replier {
	m, e := decodeJSON(mailForward, w, r, parseMailForwardBody)
	if e != nil {
		return e
	}
	identifier, ok := asString(m["identifier"])
	if !ok || strings.TrimSpace(identifier) == "" {
		return badMailForwardField("identifier")
	}
	password, ok := asString(m["password"])
	if !ok || password == "" {
		return badMailForwardField("password")
	}
	sess, err := s.Auth.SignIn(w, r, identifier, password)
	switch latchkey.ErrorCode(err) {
	case "":
	case latchkey.EINVALID:
		field := firstField(err)
		if field == "email" {
			field = "identifier"
		}
		return badMailForwardField(field)
	case latchkey.EUNAUTHORIZED:
		return mailForwardFail(http.StatusUnauthorized, "invalid_credentials")
	case latchkey.ERATELIMITED:
		e := mailForwardFail(http.StatusTooManyRequests, "rate_limited")
		e.Where, e.RetryAfter = "sign_in", max(1, latchkey.RetryAfterSeconds(err))
		return e
	default:
		return s.failure(mailForward, err)
	}
	_, user, session, e := s.mailForwardSessionOf(r, sess.AccessToken, &sess.ExpiresAt)
	if e != nil {
		return e
	}
	return jsonAnswer(http.StatusOK, mailForwardSignedIn{OK: true, Action: "sign_in", Authenticated: true, User: user, Session: session})
}

// handleMailForwardSession is GET /api/auth/session.
func (s *Surfaces) handleMailForwardSession(w http.ResponseWriter, r *http.Request) replier {
	_, user, session, e := s.mailForwardCookieSession(r)
	if e != nil {
		return e
	}
	return jsonAnswer(http.StatusOK, mailForwardSignedIn{OK: true, Authenticated: true, User: user, Session: session})
}

// handleMailForwardMe is GET /api/admin/me: the session of an account admin.
func (s *Surfaces) handleMailForwardMe(w http.ResponseWriter, r *http.Request) replier {
	_, user, session, e := s.mailForwardCookieSession(r)
	if e != nil {
		return e
	}
	if !user.IsAdmin {
		return mailForwardFail(http.StatusForbidden, "forbidden")
	}
	return jsonAnswer(http.StatusOK, mailForwardSignedIn{OK: true, Authenticated: true, Admin: user, Session: session})
}

// handleMailForwardCSRFToken is GET /api/auth/csrf: the session family's
// CSRF token.
func (s *Surfaces) handleMailForwardCSRFToken(w http.ResponseWriter, r *http.Request) replier {
	p, _, _, e := s.mailForwardCookieSession(r)
	if e != nil {
		return e
	}
	return jsonAnswer(http.StatusOK, struct {
		OK        bool   `json:"ok"`
		CSRFToken string `json:"csrf_token"`
	}{true, s.Auth.CSRFToken(p.FamilyID)})
}

// handleMailForwardRefresh is POST /api/auth/refresh. X-CSRF-Token must be
// the family's: checked before the rotation when the access cookie is
// still valid, else against the rotated session (only the family knows
// its token, and the refresh cookie alone names no family); a mismatch
// answers 403 and the rotated cookies stay with the browser that holds
// the refresh cookie.
func (s *Surfaces) handleMailForwardRefresh(w http.ResponseWriter, r *http.Request) replier {
	if _, e := mailForward.readJSON(w, r); e != nil { // nothing is read from it, but a bad one is refused
		return e
	}
	presented := strings.TrimSpace(r.Header.Get("X-CSRF-Token"))
	if presented == "" {
		return mailForwardFail(http.StatusForbidden, "csrf_required")
	}
	if token, ok := auth.AccessCookieValue(r); ok {
		if p, err := s.Auth.UserSession(r, token); err == nil {
			if e := s.mailForwardCSRF(r, p); e != nil {
				return e
			}
		}
	}
	sess, err := s.Auth.Refresh(w, r, "")
	switch latchkey.ErrorCode(err) {
	case "":
	case latchkey.EUNAUTHORIZED:
		return mailForwardFail(http.StatusUnauthorized, "invalid_or_expired_session")
	default:
		return s.failure(mailForward, err)
	}
	if presented != sess.CSRFToken {
		return mailForwardFail(http.StatusForbidden, "invalid_csrf_token")
	}
	_, _, session, e := s.mailForwardSessionOf(r, sess.AccessToken, &sess.ExpiresAt)
	if e != nil {
		return e
	}
	return jsonAnswer(http.StatusOK, mailForwardSignedIn{OK: true, Action: "refresh", Refreshed: true, Session: session})
}

// handleMailForwardSignOut is POST /api/auth/sign-out and, with all set,
// /api/auth/sign-out-all. A valid session must carry its CSRF token and
// is ended; without one the cookies are cleared all the same.
func (s *Surfaces) handleMailForwardSignOut(all bool) handler {
	action := "sign_out"
	if all {
		action = "sign_out_all"
	}
	return func(w http.ResponseWriter, r *http.Request) replier {
		if _, e := mailForward.readJSON(w, r); e != nil { // nothing is read from it, but a bad one is refused
			return e
		}
		p, _, _, e := s.mailForwardCookieSession(r)
		switch {
		case e != nil && e.head().Status == http.StatusUnauthorized && !all:
			clearSessionCookies(w)
		case e != nil:
			return e
		default:
			if e := s.mailForwardCSRF(r, p); e != nil {
				return e
			}
			// Not found: the family is gone already, as signed out.
			if err := s.Auth.SignOut(w, r, p); err != nil && latchkey.ErrorCode(err) != latchkey.ENOTFOUND {
				return s.failure(mailForward, err)
			}
			if all { // and every other session of the user, as the product does
				if _, err := s.Auth.Sessions.RevokeUserSessions(r.Context(), p.Actor.ID); err != nil {
					return s.failure(mailForward, err)
				}
			}
			clearSessionCookies(w)
		}
		return jsonAnswer(http.StatusOK, mailForwardSignedOut{OK: true, Action: action, SignedOut: true})
	}
}

// clearSessionCookies deletes both session cookies, with the attributes
// they were set with.
func clearSessionCookies(w http.ResponseWriter) {
	for _, name := range []string{auth.AccessCookie, auth.RefreshCookie} {
		http.SetCookie(w, &http.Cookie{Name: name, Path: "/", MaxAge: -1, Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	}
}
