// Package auth works out who is calling: the operator by X-Admin-Secret, a
// user by session (access token as bearer or cookie, CSRF on unsafe
// methods with the cookie), a root key by bearer; it signs users in,
// refreshes and ends their sessions, and resolves the client's address
// behind trusted proxies. The native API (internal/http), the seed
// surfaces (internal/http/compat) and the admin UI each take one
// *Authenticator, so credentials are parsed and checked in one place.
//
// It imports only the root package and the standard library (a test
// keeps it so): see ARCHITECTURE.md, "Packages".
package auth

import (
	"context"
	"crypto/subtle"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/latchkey/latchkey"
)

// Authenticator checks credentials. Set the fields, then share it between
// the surfaces that serve one API; it is safe for concurrent use.
type Authenticator struct {
	// Verifier resolves root keys (the same cache as verification).
	Verifier latchkey.Verifier
	// Accounts resolves X-Account-ID to an account.
	Accounts latchkey.AccountService
	// Users finds users and their memberships.
	Users latchkey.UserService
	// Sessions keeps session families; nil disables sign-in.
	Sessions latchkey.SessionService
	// Setup spends the one-time setup link (CompleteSetup); nil disables it.
	Setup latchkey.SetupService
	// Passwords checks and hashes passwords (argon2id in production).
	Passwords latchkey.PasswordHasher
	// LoginLimiter throttles sign-in attempts per client IP and per email;
	// nil does not throttle.
	LoginLimiter latchkey.RateLimiter
	// SecretKey signs access tokens and derives CSRF tokens; every
	// instance on one store shares it.
	SecretKey []byte
	// AdminSecret enables the operator's X-Admin-Secret header; empty
	// refuses that header.
	AdminSecret string
	// TrustedProxies are the reverse proxies whose X-Forwarded-For is
	// believed (LATCHKEY_TRUSTED_PROXIES). A request from one of them is
	// counted by the login throttle, stamped in created_ip and audited as
	// coming from the right-most X-Forwarded-For address that is not itself
	// trusted; any other request as coming from its socket's peer. Empty
	// trusts no proxy.
	TrustedProxies []netip.Prefix
	// Clock is "now" for token expiry and the throttle; nil is the wall clock.
	Clock latchkey.Clock

	accounts sync.Map // account name → id (accounts are never deleted)

	dummyOnce sync.Once // dummyHash is verified for unknown emails
	dummyHash string
	slotsOnce sync.Once
	hashSlots chan struct{} // bounds concurrent password hashing
}

// now is the Clock's time, or the wall clock's.
func (a *Authenticator) now() time.Time {
	if a.Clock == nil {
		return latchkey.SystemClock()
	}
	return a.Clock()
}

// Principal is the authenticated caller of a management route and the
// account it acts on.
type Principal struct {
	Actor     latchkey.Actor
	AccountID int64
	// Permissions are the root key's; the operator holds every one.
	Permissions []string
	// Role is a user's role in AccountID; FamilyID their session family;
	// User the signed-in user, as UserSession loaded them.
	Role     latchkey.Role
	FamilyID string
	User     *latchkey.User
	// Cookie is true when a user authenticated with the __Host-access cookie.
	Cookie bool
}

type principalKey struct{}

// NewContext returns ctx carrying the principal, and its actor for the
// audit log (see latchkey.NewContextWithActor).
func NewContext(ctx context.Context, p *Principal) context.Context {
	ctx = context.WithValue(ctx, principalKey{}, p)
	return latchkey.NewContextWithActor(ctx, p.Actor)
}

// FromContext returns the principal NewContext stored, or nil.
func FromContext(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

// Can reports whether the principal holds a root-key permission; a user
// holds them by role (see latchkey.Role.Permits).
func (p *Principal) Can(perm string) bool {
	switch p.Actor.Kind {
	case latchkey.ActorOperator:
		return true
	case latchkey.ActorUser:
		return p.Role.Permits(perm)
	}
	for _, h := range p.Permissions {
		if h == perm {
			return true
		}
	}
	return false
}

// GuardKeyChange applies the one rule for changing a key that may be a
// root key: the calling root key may not change itself (ErrSelfLockout)
// unless the change is selfSafe (rotating oneself, forgetting a device),
// and changing a root key needs account:admin (ErrRootNeedsAdmin), since
// keys:write alone must not end, revive or widen root credentials. kind
// reports the key's kind; it is asked only when the answer depends on it.
func (p *Principal) GuardKeyChange(id int64, selfSafe bool, kind func() (latchkey.KeyKind, error)) error {
	if p.Actor.Kind == latchkey.ActorRootKey && p.Actor.ID == id && !selfSafe {
		return ErrSelfLockout
	}
	if p.Can(latchkey.PermAccountAdmin) {
		return nil
	}
	k, err := kind()
	if err != nil {
		return err
	}
	if k == latchkey.KindRoot {
		return ErrRootNeedsAdmin
	}
	return nil
}

// Refusals of GuardKeyChange, which other surfaces tell apart.
var (
	// ErrRootNeedsAdmin refuses a change to a root key by a principal
	// without account:admin.
	ErrRootNeedsAdmin = latchkey.Errorf(latchkey.EFORBIDDEN, "creating or changing a root key needs the %s permission", latchkey.PermAccountAdmin)
	// ErrSelfLockout refuses a root key's change to itself that could lock
	// the account out of its own API.
	ErrSelfLockout = latchkey.Errorf(latchkey.ECONFLICT, "a root key cannot delete, revoke or change itself; use another root key or the operator")
)

// Failures other surfaces tell apart to render their own codes.
var (
	// ErrSetupDone refuses a setup form once a user exists (conflict).
	ErrSetupDone    = &latchkey.Error{Code: latchkey.ECONFLICT, Message: "Latchkey is set up already: sign in instead"}
	ErrCSRFRequired = &latchkey.Error{Code: latchkey.EFORBIDDEN, Message: "X-CSRF-Token header is required with cookie authentication"}
	ErrCSRFInvalid  = &latchkey.Error{Code: latchkey.EFORBIDDEN, Message: "invalid CSRF token"}
	// ErrAPIKeyRefused answers an api key presented to a management route.
	ErrAPIKeyRefused = &latchkey.Error{Code: latchkey.EFORBIDDEN, Message: "API keys cannot call Latchkey's API (to verify or manage keys); use a root key"}
)

// Principal identifies the caller of a native route: the operator by
// X-Admin-Secret, a user by access token (bearer or cookie, CSRF on unsafe
// methods with the cookie), or a root key by bearer. An api key is
// recognised and refused. Surfaces whose documents check in another order
// use the finer steps below.
func (a *Authenticator) Principal(r *http.Request) (*Principal, error) {
	if _, ok := r.Header["X-Admin-Secret"]; ok {
		return a.Operator(r)
	}
	token, ok := BearerToken(r)
	switch {
	case ok && IsAccessToken(token):
		return a.UserSession(r, token)
	case ok:
		return a.RootKey(r, token)
	}
	if token, ok := AccessCookieValue(r); ok {
		p, err := a.UserSession(r, token)
		if err != nil {
			return nil, err
		}
		p.Cookie = true
		if err := a.CheckCSRF(r, p); err != nil {
			return nil, err
		}
		return p, nil
	}
	if r.Header.Get("Authorization") != "" {
		return nil, latchkey.Errorf(latchkey.EUNAUTHORIZED, "unsupported Authorization scheme: send Authorization: Bearer <root key or access token>")
	}
	return nil, latchkey.Errorf(latchkey.EUNAUTHORIZED, "missing credential: send Authorization: Bearer <root key or access token>, the session cookie, or X-Admin-Secret")
}

// Operator checks X-Admin-Secret in constant time and picks the account
// named by X-Account-ID (default: the default account).
func (a *Authenticator) Operator(r *http.Request) (*Principal, error) {
	secret := r.Header.Values("X-Admin-Secret")
	if a.AdminSecret == "" {
		return nil, latchkey.Errorf(latchkey.EUNAUTHORIZED, "X-Admin-Secret is not enabled on this server (set LATCHKEY_ADMIN_SECRET)")
	}
	if err := a.operatorGuesses(r, 0); err != nil {
		return nil, err
	}
	if len(secret) != 1 || subtle.ConstantTimeCompare([]byte(secret[0]), []byte(a.AdminSecret)) != 1 {
		if err := a.operatorGuesses(r, 1); err != nil {
			return nil, err
		}
		return nil, latchkey.Errorf(latchkey.EUNAUTHORIZED, "invalid admin secret")
	}
	accountID, err := a.accountFromHeader(r.Context(), r.Header.Get("X-Account-ID"))
	if err != nil {
		return nil, err
	}
	return &Principal{Actor: a.requestActor(r, latchkey.ActorOperator, 0), AccountID: accountID}, nil
}

// operatorWrong bounds wrong operator secrets per client network: past it,
// every attempt from there, right or wrong, waits out the window, so the
// secret cannot be guessed at the speed of the network.
var operatorWrong = latchkey.RateLimit{Limit: 20, WindowSeconds: 60}

// operatorGuesses counts cost wrong operator secrets from the request's
// client network (0 only checks) and refuses once the bound is reached.
// Without a limiter nothing is counted.
func (a *Authenticator) operatorGuesses(r *http.Request, cost int64) error {
	if a.LoginLimiter == nil {
		return nil
	}
	now := a.now()
	st, _, err := a.LoginLimiter.Take(r.Context(), throttleKey("operator", throttleNet(a.ClientIP(r))), operatorWrong, cost, now)
	if err != nil {
		return err
	}
	if st.Remaining < 1 {
		return throttled("too many wrong operator secrets from this network", st, now)
	}
	return nil
}

// OperatorEnabled reports whether X-Admin-Secret is accepted at all.
func (a *Authenticator) OperatorEnabled() bool { return a.AdminSecret != "" }

// RootKey resolves a bearer secret to an active root key of its own
// account. An api key is refused with ErrAPIKeyRefused (forbidden); an
// unknown, revoked, expired or disabled key with unauthorized.
func (a *Authenticator) RootKey(r *http.Request, token string) (*Principal, error) {
	vk, err := a.Verifier.Authenticate(r.Context(), token)
	if err != nil {
		return nil, err
	}
	if vk.Kind != latchkey.KindRoot {
		return nil, ErrAPIKeyRefused
	}
	if st := vk.StatusAt(a.now()); st != latchkey.StatusActive {
		return nil, latchkey.Errorf(latchkey.EUNAUTHORIZED, "root key is %s", st)
	}
	if h := r.Header.Get("X-Account-ID"); h != "" && !a.isOwnAccount(r.Context(), h, vk.AccountID) {
		// The same answer whether or not the named account exists.
		return nil, latchkey.Errorf(latchkey.EFORBIDDEN, "a root key acts only on its own account")
	}
	return &Principal{Actor: a.requestActor(r, latchkey.ActorRootKey, vk.KeyID), AccountID: vk.AccountID, Permissions: vk.Permissions}, nil
}

// UserSession resolves a user's access token: a live session family, the
// account chosen by X-Account-ID among their memberships (default: the
// first) and their role there. It does not check CSRF (see CheckCSRF).
func (a *Authenticator) UserSession(r *http.Request, token string) (*Principal, error) {
	fam, u, err := a.sessionUser(r, token)
	if err != nil {
		return nil, err
	}
	ms, err := a.Users.FindMemberships(r.Context(), u.ID)
	if err != nil {
		return nil, err
	}
	p := &Principal{Actor: a.requestActor(r, latchkey.ActorUser, u.ID), FamilyID: fam.ID, User: u}
	h := r.Header.Get("X-Account-ID")
	for _, m := range ms {
		if h == "" || a.isOwnAccount(r.Context(), h, m.AccountID) {
			p.AccountID, p.Role = m.AccountID, m.Role
			return p, nil
		}
	}
	if h == "" {
		return nil, latchkey.Errorf(latchkey.EFORBIDDEN, "you are not a member of any account")
	}
	return nil, latchkey.Errorf(latchkey.EFORBIDDEN, "you are not a member of the account named by X-Account-ID")
}

// CSRFFormField is the form field an HTML form carries the CSRF token in.
const CSRFFormField = "csrf_token"

// CheckCSRF requires the session family's CSRF token on unsafe methods
// when the user authenticated with the cookie: from X-CSRF-Token or, when
// the caller has already parsed the request's form (r.PostForm is set, as
// an HTML form's handler does), from its csrf_token field. It never reads
// the body itself.
func (a *Authenticator) CheckCSRF(r *http.Request, p *Principal) error {
	if !p.Cookie || !isUnsafe(r.Method) {
		return nil
	}
	presented := strings.TrimSpace(r.Header.Get("X-CSRF-Token"))
	if presented == "" && r.PostForm != nil {
		presented = strings.TrimSpace(r.PostForm.Get(CSRFFormField))
	}
	if presented == "" {
		return ErrCSRFRequired
	}
	if subtle.ConstantTimeCompare([]byte(a.CSRFToken(p.FamilyID)), []byte(presented)) != 1 {
		return ErrCSRFInvalid
	}
	return nil
}

// requestActor is the audit actor of a request: the principal, with the
// request's client address (see TrustedProxies) and user agent.
func (a *Authenticator) requestActor(r *http.Request, kind latchkey.ActorKind, id int64) latchkey.Actor {
	return latchkey.Actor{Kind: kind, ID: id, IP: a.ClientIP(r), UserAgent: r.UserAgent()}
}

// isOwnAccount reports whether an X-Account-ID value (id or name) names
// the account id, without telling whether another account exists.
func (a *Authenticator) isOwnAccount(ctx context.Context, h string, id int64) bool {
	if n, err := strconv.ParseInt(h, 10, 64); err == nil && n == id {
		return true
	}
	acc, err := a.Accounts.FindAccountByID(ctx, id)
	return err == nil && acc.Name == h
}

// accountFromHeader resolves X-Account-ID (an id or a name; empty means
// the default account) to an account id.
func (a *Authenticator) accountFromHeader(ctx context.Context, h string) (int64, error) {
	if h == "" {
		h = latchkey.DefaultAccountName
	}
	if v, ok := a.accounts.Load(h); ok {
		return v.(int64), nil
	}
	var acc *latchkey.Account
	var err error
	if id, perr := strconv.ParseInt(h, 10, 64); perr == nil {
		acc, err = a.Accounts.FindAccountByID(ctx, id)
	} else {
		acc, err = a.Accounts.FindAccountByName(ctx, h)
	}
	if latchkey.ErrorCode(err) == latchkey.ENOTFOUND {
		return 0, latchkey.FieldError("X-Account-ID", "names no account (give an account id or name)")
	} else if err != nil {
		return 0, err
	}
	a.accounts.Store(h, acc.ID)
	return acc.ID, nil
}
