package http

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
)

// Session lifetimes (DESIGN §3).
const (
	AccessTTL  = 10 * time.Minute
	RefreshTTL = 30 * 24 * time.Hour

	accessCookie  = "__Host-access"
	refreshCookie = "__Host-refresh"
	accessPrefix  = "lka_"
)

// accessClaims is what an access token says: its session family, its user
// and when it expires.
type accessClaims struct {
	FamilyID string
	UserID   int64
	Expires  time.Time
}

// mac returns HMAC-SHA256 of msg under the server's secret key.
func (s *Server) mac(msg string) []byte {
	m := hmac.New(sha256.New, s.SecretKey)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// csrfToken is base64url(HMAC-SHA256(server key, family id)): constant for
// the family, so a page can keep it for the session's life.
func (s *Server) csrfToken(familyID string) string {
	return base64.RawURLEncoding.EncodeToString(s.mac(familyID))
}

// checkCSRF compares a presented CSRF token with the family's in constant time.
func (s *Server) checkCSRF(familyID, presented string) bool {
	want := s.csrfToken(familyID)
	return subtle.ConstantTimeCompare([]byte(want), []byte(presented)) == 1
}

// newAccessToken signs claims: "lka_" + base64url(family.user.exp) + "." +
// base64url(HMAC(key, "access:" + payload)).
func (s *Server) newAccessToken(c accessClaims) string {
	payload := c.FamilyID + "." + strconv.FormatInt(c.UserID, 10) + "." + strconv.FormatInt(c.Expires.Unix(), 10)
	enc := base64.RawURLEncoding.EncodeToString([]byte(payload))
	return accessPrefix + enc + "." + base64.RawURLEncoding.EncodeToString(s.mac("access:"+payload))
}

// parseAccessToken checks an access token's signature and expiry.
func (s *Server) parseAccessToken(tok string) (accessClaims, error) {
	bad := latchkey.Errorf(latchkey.EUNAUTHORIZED, "invalid or expired session")
	if !strings.HasPrefix(tok, accessPrefix) || len(tok) > 512 {
		return accessClaims{}, bad
	}
	enc, sig, ok := strings.Cut(tok[len(accessPrefix):], ".")
	if !ok {
		return accessClaims{}, bad
	}
	raw, err1 := base64.RawURLEncoding.DecodeString(enc)
	gotSig, err2 := base64.RawURLEncoding.DecodeString(sig)
	if err1 != nil || err2 != nil {
		return accessClaims{}, bad
	}
	payload := string(raw)
	if !hmac.Equal(gotSig, s.mac("access:"+payload)) {
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
	if !s.now().Before(c.Expires) {
		return accessClaims{}, bad
	}
	return c, nil
}

// sessionAnswer is the body of login and refresh.
type sessionAnswer struct {
	AccessToken string    `json:"access_token"`
	CSRFToken   string    `json:"csrf_token"`
	ExpiresAt   time.Time `json:"expires_at"`
}

// startSession sets both cookies for a family and returns the answer.
func (s *Server) startSession(w http.ResponseWriter, fam *latchkey.SessionFamily, refresh string) sessionAnswer {
	exp := s.now().Add(AccessTTL).Truncate(time.Second)
	if fam.ExpiresAt.Before(exp) {
		exp = fam.ExpiresAt
	}
	access := s.newAccessToken(accessClaims{FamilyID: fam.ID, UserID: fam.UserID, Expires: exp})
	setCookie(w, accessCookie, access, exp)
	setCookie(w, refreshCookie, refresh, fam.ExpiresAt)
	return sessionAnswer{AccessToken: access, CSRFToken: s.csrfToken(fam.ID), ExpiresAt: exp}
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

// sessionUser resolves a user access token to its live family and user.
// Every request checks that the family is alive, so logout and reuse
// detection take effect at once.
func (s *Server) sessionUser(r *http.Request, tok string) (*latchkey.SessionFamily, *latchkey.User, error) {
	c, err := s.parseAccessToken(tok)
	if err != nil {
		return nil, nil, err
	}
	if s.Sessions == nil || s.Users == nil {
		return nil, nil, latchkey.Errorf(latchkey.EUNAUTHORIZED, "invalid or expired session")
	}
	fam, err := s.Sessions.FindSessionFamily(r.Context(), c.FamilyID)
	if latchkey.ErrorCode(err) == latchkey.ENOTFOUND {
		return nil, nil, latchkey.Errorf(latchkey.EUNAUTHORIZED, "invalid or expired session")
	} else if err != nil {
		return nil, nil, err
	}
	if fam.RevokedAt != nil || !s.now().Before(fam.ExpiresAt) || fam.UserID != c.UserID {
		return nil, nil, latchkey.Errorf(latchkey.EUNAUTHORIZED, "invalid or expired session")
	}
	u, err := s.Users.FindUserByID(r.Context(), c.UserID)
	if latchkey.ErrorCode(err) == latchkey.ENOTFOUND {
		return nil, nil, latchkey.Errorf(latchkey.EUNAUTHORIZED, "invalid or expired session")
	} else if err != nil {
		return nil, nil, err
	}
	return fam, u, nil
}

// isUnsafe reports whether a method changes state (CSRF applies).
func isUnsafe(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}
