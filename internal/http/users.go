package http

import (
	"context"
	"hash/fnv"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
)

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

// throttleLogin spends one attempt of the IP's and the email's budgets.
func (s *Server) throttleLogin(ctx context.Context, ip, email string) error {
	if s.LoginLimiter == nil {
		return nil
	}
	now := s.now()
	for _, t := range []struct {
		key int64
		rl  latchkey.RateLimit
	}{{throttleKey("ip", ip), loginPerIP}, {throttleKey("email", email), loginPerEmail}} {
		st, ok, err := s.LoginLimiter.Take(ctx, t.key, t.rl, 1, now)
		if err != nil {
			return err
		}
		if !ok {
			// Whole seconds, rounded up, as Retry-After says them.
			wait := max((st.ResetAt.Sub(now) + time.Second - 1).Truncate(time.Second), time.Second)
			return &latchkey.Error{Code: latchkey.ERATELIMITED, Message: "too many sign-in attempts; try again in " +
				strconv.Itoa(int(wait/time.Second)) + " s", RetryAfter: wait}
		}
	}
	return nil
}

// hashSlot waits for one of the few slots password hashing may use at once,
// bounding the memory argon2id takes (about 19 MiB a hash) under a burst.
func (s *Server) hashSlot(ctx context.Context) (release func(), err error) {
	select {
	case s.hashSlots <- struct{}{}:
		return func() { <-s.hashSlots }, nil
	case <-ctx.Done():
		return nil, latchkey.Errorf(latchkey.EUNAVAILABLE, "request cancelled while waiting to check a password")
	}
}

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	if err := decodeJSON(w, r, &body, false); err != nil {
		return err
	}
	email := strings.ToLower(strings.TrimSpace(body.Email))
	if email == "" {
		return latchkey.FieldError("email", "is required")
	}
	if body.Password == "" {
		return latchkey.FieldError("password", "is required")
	}
	if len(body.Password) > 256 {
		return latchkey.FieldError("password", "must be at most 256 bytes")
	}
	ip := s.clientIP(r)
	if err := s.throttleLogin(r.Context(), throttleNet(ip), email); err != nil {
		return err
	}
	if s.Users == nil || s.Sessions == nil || s.Passwords == nil {
		return latchkey.Errorf(latchkey.EUNAVAILABLE, "sign-in is not configured on this server")
	}
	release, err := s.hashSlot(r.Context())
	if err != nil {
		return err
	}
	defer release()
	bad := latchkey.Errorf(latchkey.EUNAUTHORIZED, "invalid email or password")
	u, hash, err := s.Users.FindUserByEmail(r.Context(), email)
	if latchkey.ErrorCode(err) == latchkey.ENOTFOUND {
		// Spend as long on an unknown email as on a wrong password.
		s.dummyOnce.Do(func() { s.dummyHash, _ = s.Passwords.Hash("not a real password, for timing only") })
		s.Passwords.Verify(s.dummyHash, body.Password)
		return bad
	} else if err != nil {
		return err
	}
	if ok, err := s.Passwords.Verify(hash, body.Password); err != nil {
		return err
	} else if !ok {
		return bad
	}
	ctx := latchkey.NewContextWithActor(r.Context(), s.requestActor(r, latchkey.ActorUser, u.ID))
	fam, refresh, err := s.Sessions.CreateSession(ctx, u.ID, RefreshTTL, ip, r.UserAgent())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.startSession(w, fam, refresh))
	return nil
}

func (s *Server) handleRefresh(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := decodeJSON(w, r, &body, true); err != nil {
		return err
	}
	token := body.RefreshToken
	if token == "" {
		if c, err := r.Cookie(refreshCookie); err == nil {
			token = c.Value
		}
	}
	if token == "" {
		return latchkey.Errorf(latchkey.EUNAUTHORIZED, "no refresh token: send the __Host-refresh cookie or refresh_token")
	}
	if s.Sessions == nil {
		return latchkey.Errorf(latchkey.EUNAVAILABLE, "sign-in is not configured on this server")
	}
	fam, refresh, err := s.Sessions.RefreshSession(r.Context(), token, s.SecretKey)
	if err != nil {
		if latchkey.ErrorCode(err) == latchkey.EUNAUTHORIZED {
			setCookie(w, accessCookie, "", time.Time{})
			setCookie(w, refreshCookie, "", time.Time{})
		}
		return err
	}
	writeJSON(w, http.StatusOK, s.startSession(w, fam, refresh))
	return nil
}

func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) error {
	p := principalFrom(r.Context())
	if p.FamilyID == "" {
		return latchkey.Errorf(latchkey.EINVALID, "only a signed-in user can log out")
	}
	if err := s.Sessions.RevokeSessionFamily(r.Context(), p.FamilyID); err != nil {
		return err
	}
	setCookie(w, accessCookie, "", time.Time{})
	setCookie(w, refreshCookie, "", time.Time{})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) handleCSRF(w http.ResponseWriter, r *http.Request) error {
	p := principalFrom(r.Context())
	if p.FamilyID == "" {
		return latchkey.Errorf(latchkey.EINVALID, "CSRF tokens belong to user sessions")
	}
	writeJSON(w, http.StatusOK, map[string]string{"csrf_token": s.csrfToken(p.FamilyID)})
	return nil
}

func (s *Server) handleListAccounts(w http.ResponseWriter, r *http.Request) error {
	p := principalFrom(r.Context())
	var out []*latchkey.Account
	switch p.Actor.Kind {
	case latchkey.ActorOperator:
		all, err := s.Accounts.FindAccounts(r.Context())
		if err != nil {
			return err
		}
		out = all
	case latchkey.ActorUser:
		ms, err := s.Users.FindMemberships(r.Context(), p.Actor.ID)
		if err != nil {
			return err
		}
		for _, m := range ms {
			a, err := s.Accounts.FindAccountByID(r.Context(), m.AccountID)
			if err != nil {
				return err
			}
			out = append(out, a)
		}
	default:
		a, err := s.Accounts.FindAccountByID(r.Context(), p.AccountID)
		if err != nil {
			return err
		}
		out = []*latchkey.Account{a}
	}
	writeJSON(w, http.StatusOK, newPage(out, ""))
	return nil
}

func (s *Server) handleCreateAccount(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Name      string `json:"name"`
		KeyPrefix string `json:"key_prefix"`
	}
	if err := decodeJSON(w, r, &body, false); err != nil {
		return err
	}
	a := &latchkey.Account{Name: body.Name, KeyPrefix: body.KeyPrefix}
	if err := a.Validate(); err != nil {
		return err
	}
	if _, err := strconv.ParseInt(a.Name, 10, 64); err == nil {
		return latchkey.FieldError("name", "must not be a number (X-Account-ID reads numbers as ids)")
	}
	if err := s.Accounts.CreateAccount(r.Context(), a); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, a)
	return nil
}

func (s *Server) handleListUsers(w http.ResponseWriter, r *http.Request) error {
	members, err := s.Users.FindMembers(r.Context(), principalFrom(r.Context()).AccountID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newPage(members, ""))
	return nil
}

func (s *Server) handleCreateUser(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Email    string        `json:"email"`
		Name     string        `json:"name"`
		Password string        `json:"password"`
		Role     latchkey.Role `json:"role"`
	}
	if err := decodeJSON(w, r, &body, false); err != nil {
		return err
	}
	if body.Role == "" {
		body.Role = latchkey.RoleMember
	}
	if !body.Role.Valid() {
		return latchkey.FieldError("role", "must be admin or member")
	}
	u := &latchkey.User{Email: strings.ToLower(strings.TrimSpace(body.Email)), Name: body.Name}
	if err := u.Validate(); err != nil {
		return err
	}
	if err := latchkey.ValidatePassword(body.Password); err != nil {
		return err
	}
	release, err := s.hashSlot(r.Context())
	if err != nil {
		return err
	}
	hash, err := s.Passwords.Hash(body.Password)
	release()
	if err != nil {
		return err
	}
	p := principalFrom(r.Context())
	if err := s.Users.CreateMember(r.Context(), p.AccountID, u, hash, body.Role); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, latchkey.Member{User: *u, Role: body.Role})
	return nil
}

func (s *Server) handleSetMember(w http.ResponseWriter, r *http.Request) error {
	accountID, err := pathID(r, "id")
	if err != nil {
		return err
	}
	userID, err := pathID(r, "user_id")
	if err != nil {
		return err
	}
	p := principalFrom(r.Context())
	if p.Actor.Kind != latchkey.ActorOperator && accountID != p.AccountID {
		return latchkey.Errorf(latchkey.EFORBIDDEN, "you may manage members of your own account only (select it with X-Account-ID)")
	}
	var body struct {
		Role latchkey.Role `json:"role"`
	}
	if err := decodeJSON(w, r, &body, false); err != nil {
		return err
	}
	if !body.Role.Valid() {
		return latchkey.FieldError("role", "must be admin or member")
	}
	if p.Actor.Kind == latchkey.ActorUser && userID == p.Actor.ID && body.Role != latchkey.RoleAdmin {
		return latchkey.Errorf(latchkey.ECONFLICT, "you cannot demote yourself; ask another admin")
	}
	// An account's admin changes the roles of the account's own people;
	// only the operator brings in a user of another account. Anyone else's
	// user is not found, as another account's key is.
	if p.Actor.Kind != latchkey.ActorOperator {
		ms, err := s.Users.FindMemberships(r.Context(), userID)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(ms, func(m *latchkey.Membership) bool { return m.AccountID == accountID }) {
			return latchkey.Errorf(latchkey.ENOTFOUND, "user %d is not a member of this account", userID)
		}
	}
	if err := s.Users.SetMembership(r.Context(), accountID, userID, body.Role); err != nil {
		return err
	}
	u, err := s.Users.FindUserByID(r.Context(), userID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, latchkey.Member{User: *u, Role: body.Role})
	return nil
}
