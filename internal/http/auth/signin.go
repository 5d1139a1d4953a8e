package auth

import (
	"context"
	"hash/fnv"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/latchkey/latchkey"
)

// This file opens, rotates and ends sessions, for every surface that signs
// users in (the JSON routes /v1/auth/*, the admin UI's forms), with the
// sign-in throttle and the bound on concurrent password hashing.

// Session is what signing in or refreshing answers; the cookies carry the
// same tokens.
type Session struct {
	AccessToken string    `json:"access_token"`
	CSRFToken   string    `json:"csrf_token"`
	ExpiresAt   time.Time `json:"expires_at"`
}

// SignIn checks an email and password, throttled per client network and
// per email, opens a session family, sets both cookies and returns the
// session. Errors: invalid (a field), rate_limited, unauthorized (wrong
// email or password, or a deactivated user: the same answer and time for
// all three), unavailable.
func (a *Authenticator) SignIn(w http.ResponseWriter, r *http.Request, email, password string) (*Session, error) {
	email = latchkey.NormalizeEmail(email)
	if email == "" {
		return nil, latchkey.FieldError("email", "is required")
	}
	if password == "" {
		return nil, latchkey.FieldError("password", "is required")
	}
	if len(password) > latchkey.MaxPasswordLen {
		return nil, latchkey.FieldError("password", "must be at most %d bytes", latchkey.MaxPasswordLen)
	}
	ip := a.ClientIP(r)
	if err := a.throttleLogin(r.Context(), throttleNet(ip), email); err != nil {
		return nil, err
	}
	if a.Users == nil || a.Sessions == nil || a.Passwords == nil {
		return nil, latchkey.Errorf(latchkey.EUNAVAILABLE, "sign-in is not configured on this server")
	}
	release, err := a.hashSlot(r.Context())
	if err != nil {
		return nil, err
	}
	defer release()
	bad := latchkey.Errorf(latchkey.EUNAUTHORIZED, "invalid email or password")
	u, hash, err := a.Users.FindUserByEmail(r.Context(), email)
	if latchkey.ErrorCode(err) == latchkey.ENOTFOUND {
		// Spend as long on an unknown email as on a wrong password.
		a.dummyOnce.Do(func() { a.dummyHash, _ = a.Passwords.Hash("not a real password, for timing only") })
		a.Passwords.Verify(a.dummyHash, password)
		return nil, bad
	} else if err != nil {
		return nil, err
	}
	if ok, err := a.Passwords.Verify(hash, password); err != nil {
		return nil, err
	} else if !ok || u.Disabled {
		// A deactivated user hears what a wrong password hears, as late.
		return nil, bad
	}
	ctx := latchkey.NewContextWithActor(r.Context(), a.requestActor(r, latchkey.ActorUser, u.ID))
	fam, refresh, err := a.Sessions.CreateSession(ctx, u.ID, RefreshTTL, ip, r.UserAgent())
	if err != nil {
		return nil, err
	}
	return a.startSession(w, fam, refresh), nil
}

// Refresh rotates a refresh token (token, or else the __Host-refresh
// cookie) inside its family, sets both cookies and returns the new
// session. A refused token clears the cookies. Errors: unauthorized,
// unavailable.
func (a *Authenticator) Refresh(w http.ResponseWriter, r *http.Request, token string) (*Session, error) {
	if token == "" {
		if c, err := r.Cookie(RefreshCookie); err == nil {
			token = c.Value
		}
	}
	if token == "" {
		return nil, latchkey.Errorf(latchkey.EUNAUTHORIZED, "no refresh token: send the __Host-refresh cookie or refresh_token")
	}
	if a.Sessions == nil {
		return nil, latchkey.Errorf(latchkey.EUNAVAILABLE, "sign-in is not configured on this server")
	}
	fam, refresh, err := a.Sessions.RefreshSession(r.Context(), token, a.SecretKey)
	if err != nil {
		if latchkey.ErrorCode(err) == latchkey.EUNAUTHORIZED {
			clearCookies(w)
		}
		return nil, err
	}
	return a.startSession(w, fam, refresh), nil
}

// SignOut ends the principal's session family and clears both cookies.
// Errors: invalid (the principal is not a signed-in user), not_found.
func (a *Authenticator) SignOut(w http.ResponseWriter, r *http.Request, p *Principal) error {
	if p.FamilyID == "" {
		return latchkey.Errorf(latchkey.EINVALID, "only a signed-in user can log out")
	}
	if err := a.Sessions.RevokeSessionFamily(r.Context(), p.FamilyID); err != nil {
		return err
	}
	clearCookies(w)
	return nil
}

// startSession sets both cookies for a family and returns the session.
func (a *Authenticator) startSession(w http.ResponseWriter, fam *latchkey.SessionFamily, refresh string) *Session {
	exp := a.now().Add(AccessTTL).Truncate(time.Second)
	if fam.ExpiresAt.Before(exp) {
		exp = fam.ExpiresAt
	}
	access := a.newAccessToken(accessClaims{FamilyID: fam.ID, UserID: fam.UserID, Expires: exp})
	setCookie(w, AccessCookie, access, exp)
	setCookie(w, RefreshCookie, refresh, fam.ExpiresAt)
	return &Session{AccessToken: access, CSRFToken: a.CSRFToken(fam.ID), ExpiresAt: exp}
}

// HashPassword hashes a new password under the bound on concurrent
// hashing that sign-in shares. Errors: unavailable (the request ended
// while waiting), and the hasher's.
func (a *Authenticator) HashPassword(ctx context.Context, password string) (string, error) {
	release, err := a.hashSlot(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	return a.Passwords.Hash(password)
}

// maxConcurrentHashes bounds argon2id runs at once (sign-in, user creation).
const maxConcurrentHashes = 8

// hashSlot waits for one of the few slots password hashing may use at once,
// bounding the memory argon2id takes (about 19 MiB a hash) under a burst.
func (a *Authenticator) hashSlot(ctx context.Context) (release func(), err error) {
	a.slotsOnce.Do(func() { a.hashSlots = make(chan struct{}, maxConcurrentHashes) })
	select {
	case a.hashSlots <- struct{}{}:
		return func() { <-a.hashSlots }, nil
	case <-ctx.Done():
		return nil, latchkey.Errorf(latchkey.EUNAVAILABLE, "request cancelled while waiting to check a password")
	}
}

// Login throttles: attempts per minute per client IP and per email.
var (
	loginPerIP    = latchkey.RateLimit{Limit: 30, WindowSeconds: 60}
	loginPerEmail = latchkey.RateLimit{Limit: 10, WindowSeconds: 60}
)

// throttleKey maps a throttle subject to a limiter key. Negative ids never
// collide with key ids, which are positive.
func throttleKey(kind, subject string) int64 {
	h := fnv.New64a()
	h.Write([]byte(kind + ":" + subject))
	return -int64(h.Sum64()>>1) - 1
}

// throttleNet is the network a sign-in attempt is counted against: the
// IPv4 address, or the IPv6 /64 (one subscriber's prefix, whose addresses
// cost nothing to change).
func throttleNet(ip string) string {
	addr, err := netip.ParseAddr(ip)
	if err != nil || addr.Is4() || addr.Is4In6() {
		return ip
	}
	p, err := addr.Prefix(64)
	if err != nil {
		return ip
	}
	return p.String()
}

// throttled is the rate_limited error of a throttle whose window is spent:
// what was refused, and the wait to the window's end in whole seconds,
// rounded up, as Retry-After says them.
func throttled(what string, st latchkey.RateLimitState, now time.Time) *latchkey.Error {
	wait := max((st.ResetAt.Sub(now) + time.Second - 1).Truncate(time.Second), time.Second)
	return &latchkey.Error{Code: latchkey.ERATELIMITED, Message: what + "; try again in " +
		strconv.Itoa(int(wait/time.Second)) + " s", RetryAfter: wait}
}

// throttleLogin spends one attempt of the IP's and the email's budgets.
func (a *Authenticator) throttleLogin(ctx context.Context, ip, email string) error {
	if a.LoginLimiter == nil {
		return nil
	}
	now := a.now()
	for _, t := range []struct {
		key int64
		rl  latchkey.RateLimit
	}{{throttleKey("ip", ip), loginPerIP}, {throttleKey("email", email), loginPerEmail}} {
		st, ok, err := a.LoginLimiter.Take(ctx, t.key, t.rl, 1, now)
		if err != nil {
			return err
		}
		if !ok {
			return throttled("too many sign-in attempts", st, now)
		}
	}
	return nil
}
