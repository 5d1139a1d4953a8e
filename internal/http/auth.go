package http

import (
	"context"
	"crypto/subtle"
	"net/http"
	"strconv"
	"strings"

	"github.com/latchkey/latchkey"
)

// Principal is the authenticated caller of a management route and the
// account it acts on.
type Principal struct {
	Actor     latchkey.Actor
	AccountID int64
	// Permissions are the root key's; the operator holds every one.
	Permissions []string
	// Role is a user's role in AccountID; FamilyID their session family.
	Role     latchkey.Role
	FamilyID string
	// Cookie is true when a user authenticated with the __Host-access cookie.
	Cookie bool
}

// memberPermissions are what the read-only member role may do.
var memberPermissions = []string{latchkey.PermKeysRead, latchkey.PermAuditRead}

// Can reports whether the principal holds a root-key permission; a user
// holds them by role: an admin all, a member the read ones.
func (p *Principal) Can(perm string) bool {
	held := p.Permissions
	switch p.Actor.Kind {
	case latchkey.ActorOperator:
		return true
	case latchkey.ActorUser:
		if p.Role == latchkey.RoleAdmin {
			return true
		}
		held = memberPermissions
	}
	for _, h := range held {
		if h == perm {
			return true
		}
	}
	return false
}

// CSRF failures: distinct values so other surfaces can render their own codes.
var (
	ErrCSRFRequired = &latchkey.Error{Code: latchkey.EFORBIDDEN, Message: "X-CSRF-Token header is required with cookie authentication"}
	ErrCSRFInvalid  = &latchkey.Error{Code: latchkey.EFORBIDDEN, Message: "invalid CSRF token"}
)

type principalKey struct{}

// principalFrom returns the request's principal, set by authenticate.
func principalFrom(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

// Route requirements beyond root-key permissions.
const (
	permAuthenticated = "authenticated" // any principal
	permOperator      = "operator"      // the X-Admin-Secret holder only
)

// authenticate wraps h so that only a principal holding perm reaches it.
func (s *Server) authenticate(perm string, h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		p, err := s.principal(r)
		if err != nil {
			return err
		}
		switch {
		case perm == permAuthenticated:
		case perm == permOperator:
			if p.Actor.Kind != latchkey.ActorOperator {
				return latchkey.Errorf(latchkey.EFORBIDDEN, "only the operator (X-Admin-Secret) may do this")
			}
		case !p.Can(perm):
			if p.Actor.Kind == latchkey.ActorUser {
				return latchkey.Errorf(latchkey.EFORBIDDEN, "your role %s in this account may not do this", p.Role)
			}
			return latchkey.Errorf(latchkey.EFORBIDDEN, "this credential lacks the %s permission", perm)
		}
		ctx := context.WithValue(r.Context(), principalKey{}, p)
		ctx = latchkey.NewContextWithActor(ctx, p.Actor)
		return h(w, r.WithContext(ctx))
	}
}

// principal identifies the caller of a native route: the operator by
// X-Admin-Secret, a user by access token (bearer or cookie, CSRF on unsafe
// methods with the cookie), or a root key by bearer. An api key is
// recognised and refused.
func (s *Server) principal(r *http.Request) (*Principal, error) {
	if _, ok := r.Header["X-Admin-Secret"]; ok {
		return s.Operator(r)
	}
	token, ok := bearerToken(r)
	switch {
	case ok && strings.HasPrefix(token, accessPrefix):
		return s.UserSession(r, token)
	case ok:
		return s.RootKey(r, token)
	}
	if c, err := r.Cookie(accessCookie); err == nil && c.Value != "" {
		p, err := s.UserSession(r, c.Value)
		if err != nil {
			return nil, err
		}
		p.Cookie = true
		if err := s.CheckCSRF(r, p); err != nil {
			return nil, err
		}
		return p, nil
	}
	if r.Header.Get("Authorization") != "" {
		return nil, latchkey.Errorf(latchkey.EUNAUTHORIZED, "unsupported Authorization scheme: send Authorization: Bearer <root key or access token>")
	}
	return nil, latchkey.Errorf(latchkey.EUNAUTHORIZED, "missing credential: send Authorization: Bearer <root key or access token>, the session cookie, or X-Admin-Secret")
}

// Principal resolves the caller as the native API does; other surfaces use
// it, or the finer steps below when their documents check in another order.
func (s *Server) Principal(r *http.Request) (*Principal, error) { return s.principal(r) }

// Operator checks X-Admin-Secret in constant time and picks the account
// named by X-Account-ID (default: the default account).
func (s *Server) Operator(r *http.Request) (*Principal, error) {
	secret := r.Header.Values("X-Admin-Secret")
	if s.AdminSecret == "" {
		return nil, latchkey.Errorf(latchkey.EUNAUTHORIZED, "X-Admin-Secret is not enabled on this server (set LATCHKEY_ADMIN_SECRET)")
	}
	if len(secret) != 1 || subtle.ConstantTimeCompare([]byte(secret[0]), []byte(s.AdminSecret)) != 1 {
		return nil, latchkey.Errorf(latchkey.EUNAUTHORIZED, "invalid admin secret")
	}
	accountID, err := s.accountFromHeader(r.Context(), r.Header.Get("X-Account-ID"))
	if err != nil {
		return nil, err
	}
	return &Principal{Actor: s.requestActor(r, latchkey.ActorOperator, 0), AccountID: accountID}, nil
}

// RootKey resolves a bearer secret to an active root key of its own
// account. An api key is refused with forbidden; an unknown, revoked,
// expired or disabled key with unauthorized.
func (s *Server) RootKey(r *http.Request, token string) (*Principal, error) {
	vk, err := s.Verifier.Authenticate(r.Context(), token)
	if err != nil {
		return nil, err
	}
	if vk.Kind != latchkey.KindRoot {
		return nil, ErrAPIKeyRefused
	}
	if st := vk.StatusAt(s.now()); st != latchkey.StatusActive {
		return nil, latchkey.Errorf(latchkey.EUNAUTHORIZED, "root key is %s", st)
	}
	if h := r.Header.Get("X-Account-ID"); h != "" && !s.isOwnAccount(r.Context(), h, vk.AccountID) {
		// The same answer whether or not the named account exists.
		return nil, latchkey.Errorf(latchkey.EFORBIDDEN, "a root key acts only on its own account")
	}
	return &Principal{Actor: s.requestActor(r, latchkey.ActorRootKey, vk.KeyID), AccountID: vk.AccountID, Permissions: vk.Permissions}, nil
}

// ErrAPIKeyRefused answers an api key presented to a management route.
var ErrAPIKeyRefused = &latchkey.Error{Code: latchkey.EFORBIDDEN, Message: "API keys cannot call Latchkey's API (to verify or manage keys); use a root key"}

// CheckCSRF requires the session family's CSRF token in X-CSRF-Token on
// unsafe methods when the user authenticated with the cookie.
func (s *Server) CheckCSRF(r *http.Request, p *Principal) error {
	if !p.Cookie || !isUnsafe(r.Method) {
		return nil
	}
	presented := strings.TrimSpace(r.Header.Get("X-CSRF-Token"))
	if presented == "" {
		return ErrCSRFRequired
	}
	if !s.checkCSRF(p.FamilyID, presented) {
		return ErrCSRFInvalid
	}
	return nil
}

// requestActor is the audit actor of a request: the principal, with the
// request's client address (see Server.TrustedProxies) and user agent.
func (s *Server) requestActor(r *http.Request, kind latchkey.ActorKind, id int64) latchkey.Actor {
	return latchkey.Actor{Kind: kind, ID: id, IP: s.clientIP(r), UserAgent: r.UserAgent()}
}

// UserSession resolves a user's access token: a live session family, the
// account chosen by X-Account-ID among their memberships (default: the
// first) and their role there. It does not check CSRF (see CheckCSRF).
func (s *Server) UserSession(r *http.Request, token string) (*Principal, error) {
	fam, u, err := s.sessionUser(r, token)
	if err != nil {
		return nil, err
	}
	ms, err := s.Users.FindMemberships(r.Context(), u.ID)
	if err != nil {
		return nil, err
	}
	p := &Principal{Actor: s.requestActor(r, latchkey.ActorUser, u.ID), FamilyID: fam.ID}
	h := r.Header.Get("X-Account-ID")
	for _, m := range ms {
		if h == "" || s.isOwnAccount(r.Context(), h, m.AccountID) {
			p.AccountID, p.Role = m.AccountID, m.Role
			return p, nil
		}
	}
	if h == "" {
		return nil, latchkey.Errorf(latchkey.EFORBIDDEN, "you are not a member of any account")
	}
	return nil, latchkey.Errorf(latchkey.EFORBIDDEN, "you are not a member of the account named by X-Account-ID")
}

// isOwnAccount reports whether an X-Account-ID value (id or name) names
// the account id, without telling whether another account exists.
func (s *Server) isOwnAccount(ctx context.Context, h string, id int64) bool {
	if n, err := strconv.ParseInt(h, 10, 64); err == nil && n == id {
		return true
	}
	a, err := s.Accounts.FindAccountByID(ctx, id)
	return err == nil && a.Name == h
}

// bearerToken returns the token of an "Authorization: Bearer" header.
func bearerToken(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:]), true
	}
	return "", false
}

// accountFromHeader resolves X-Account-ID (an id or a name; empty means
// the default account) to an account id.
func (s *Server) accountFromHeader(ctx context.Context, h string) (int64, error) {
	if h == "" {
		h = latchkey.DefaultAccountName
	}
	if v, ok := s.accounts.Load(h); ok {
		return v.(int64), nil
	}
	var a *latchkey.Account
	var err error
	if id, perr := strconv.ParseInt(h, 10, 64); perr == nil {
		a, err = s.Accounts.FindAccountByID(ctx, id)
	} else {
		a, err = s.Accounts.FindAccountByName(ctx, h)
	}
	if latchkey.ErrorCode(err) == latchkey.ENOTFOUND {
		return 0, latchkey.FieldError("X-Account-ID", "names no account (give an account id or name)")
	} else if err != nil {
		return 0, err
	}
	s.accounts.Store(h, a.ID)
	return a.ID, nil
}
