package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
)

// This file holds the credentials' wire forms, written once: the session
// cookies, the access token and its prefix, the bearer header, the CSRF
// token.

// Session lifetimes: an access token lives ten minutes, its session family
// (the refresh tokens rotated in it) thirty days.
const (
	AccessTTL  = 10 * time.Minute
	RefreshTTL = 30 * 24 * time.Hour
)

// Cookie names and the access token's prefix.
const (
	AccessCookie  = "__Host-access"
	RefreshCookie = "__Host-refresh"
	// AccessPrefix starts every access token, so a bearer is told from a
	// root key without a lookup.
	AccessPrefix = "lka_"
)

// ParseBearer returns the token of an Authorization header value of the
// form "Bearer <token>" (scheme in any case), trimmed of spaces.
func ParseBearer(h string) (string, bool) {
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:]), true
	}
	return "", false
}

// BearerToken returns the token of the request's "Authorization: Bearer" header.
func BearerToken(r *http.Request) (string, bool) {
	return ParseBearer(r.Header.Get("Authorization"))
}

// AccessCookieValue returns the access token of the __Host-access cookie
// when the request carries a non-empty one.
func AccessCookieValue(r *http.Request) (string, bool) {
	c, err := r.Cookie(AccessCookie)
	if err != nil || c.Value == "" {
		return "", false
	}
	return c.Value, true
}

// IsAccessToken reports whether a bearer is shaped as a user's access
// token (rather than a root key).
func IsAccessToken(token string) bool { return strings.HasPrefix(token, AccessPrefix) }

// accessClaims is what an access token says: its session family, its user
// and when it expires.
type accessClaims struct {
	FamilyID string
	UserID   int64
	Expires  time.Time
}

// mac returns HMAC-SHA256 of msg under the secret key.
func (a *Authenticator) mac(msg string) []byte {
	m := hmac.New(sha256.New, a.SecretKey)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// CSRFToken is base64url(HMAC-SHA256(secret key, family id)): constant for
// the family, so a page can keep it for the session's life.
func (a *Authenticator) CSRFToken(familyID string) string {
	return base64.RawURLEncoding.EncodeToString(a.mac(familyID))
}

// newAccessToken signs claims: "lka_" + base64url(family.user.exp) + "." +
// base64url(HMAC(key, "access:" + payload)).
func (a *Authenticator) newAccessToken(c accessClaims) string {
	payload := c.FamilyID + "." + strconv.FormatInt(c.UserID, 10) + "." + strconv.FormatInt(c.Expires.Unix(), 10)
	enc := base64.RawURLEncoding.EncodeToString([]byte(payload))
	return AccessPrefix + enc + "." + base64.RawURLEncoding.EncodeToString(a.mac("access:"+payload))
}

// parseAccessToken checks an access token's signature and expiry.
func (a *Authenticator) parseAccessToken(tok string) (accessClaims, error) {
	bad := errInvalidSession()
	if !IsAccessToken(tok) || len(tok) > 512 {
		return accessClaims{}, bad
	}
	enc, sig, ok := strings.Cut(tok[len(AccessPrefix):], ".")
	if !ok {
		return accessClaims{}, bad
	}
	raw, err1 := base64.RawURLEncoding.DecodeString(enc)
	gotSig, err2 := base64.RawURLEncoding.DecodeString(sig)
	if err1 != nil || err2 != nil {
		return accessClaims{}, bad
	}
	payload := string(raw)
	if !hmac.Equal(gotSig, a.mac("access:"+payload)) {
		return accessClaims{}, bad
	}
	parts := strings.Split(payload, ".")
	if len(parts) != 3 {
		return accessClaims{}, bad
	}
	uid, err1 := strconv.ParseInt(parts[1], 10, 64)
	exp, err2 := strconv.ParseInt(parts[2], 10, 64)
	if err1 != nil || err2 != nil {
		return accessClaims{}, bad
	}
	c := accessClaims{FamilyID: parts[0], UserID: uid, Expires: time.Unix(exp, 0).UTC()}
	if !a.now().Before(c.Expires) {
		return accessClaims{}, bad
	}
	return c, nil
}

// setCookie writes a __Host- cookie: Secure, HttpOnly, Path=/, SameSite=Strict.
func setCookie(w http.ResponseWriter, name, value string, expires time.Time) {
	c := &http.Cookie{Name: name, Value: value, Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode}
	if value == "" {
		c.MaxAge = -1
	} else {
		c.Expires = expires
		c.MaxAge = int(time.Until(expires).Seconds())
		if c.MaxAge < 1 {
			c.MaxAge = 1
		}
	}
	http.SetCookie(w, c)
}

// clearCookies deletes both session cookies.
func clearCookies(w http.ResponseWriter) {
	setCookie(w, AccessCookie, "", time.Time{})
	setCookie(w, RefreshCookie, "", time.Time{})
}

// sessionUser resolves a user access token to its live family and user.
// Every request checks that the family is alive, so logout and reuse
// detection take effect at once.
func (a *Authenticator) sessionUser(r *http.Request, tok string) (*latchkey.SessionFamily, *latchkey.User, error) {
	c, err := a.parseAccessToken(tok)
	if err != nil {
		return nil, nil, err
	}
	if a.Sessions == nil || a.Users == nil {
		return nil, nil, errInvalidSession()
	}
	fam, err := a.Sessions.FindSessionFamily(r.Context(), c.FamilyID)
	if err != nil {
		return nil, nil, invalidIfNotFound(err)
	}
	if fam.RevokedAt != nil || !a.now().Before(fam.ExpiresAt) || fam.UserID != c.UserID {
		return nil, nil, errInvalidSession()
	}
	u, err := a.Users.FindUserByID(r.Context(), c.UserID)
	if err != nil {
		return nil, nil, invalidIfNotFound(err)
	}
	if u.Disabled {
		// The store ends a user's sessions when it deactivates them; this
		// holds in the moment between, and against a session it missed.
		return nil, nil, errInvalidSession()
	}
	return fam, u, nil
}

// errInvalidSession is the one answer to a session that is not (or no
// longer) good, whatever the reason.
func errInvalidSession() error {
	return latchkey.Errorf(latchkey.EUNAUTHORIZED, "invalid or expired session")
}

// invalidIfNotFound is errInvalidSession for a family or user that is not
// found, and any other error as it is.
func invalidIfNotFound(err error) error {
	if latchkey.ErrorCode(err) == latchkey.ENOTFOUND {
		return errInvalidSession()
	}
	return err
}

// isUnsafe reports whether a method changes state (CSRF applies).
func isUnsafe(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}
