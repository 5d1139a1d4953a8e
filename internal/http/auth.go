package http

import (
	"context"
	"crypto/subtle"
	"net"
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
}

// Can reports whether the principal holds a root-key permission.
func (p *Principal) Can(perm string) bool {
	if p.Actor.Kind == latchkey.ActorOperator {
		return true
	}
	for _, h := range p.Permissions {
		if h == perm {
			return true
		}
	}
	return false
}

type principalKey struct{}

// principalFrom returns the request's principal, set by authenticate.
func principalFrom(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

// clientIP is the address of the peer (no proxy headers are trusted).
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// authenticate wraps h so that only a principal holding perm reaches it.
func (s *Server) authenticate(perm string, h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		p, err := s.principal(r)
		if err != nil {
			return err
		}
		if !p.Can(perm) {
			return latchkey.Errorf(latchkey.EFORBIDDEN, "this credential lacks the %s permission", perm)
		}
		ctx := context.WithValue(r.Context(), principalKey{}, p)
		ctx = latchkey.NewContextWithActor(ctx, p.Actor)
		return h(w, r.WithContext(ctx))
	}
}

// principal identifies the caller: the operator by X-Admin-Secret, or a
// root key by Authorization: Bearer. An api key is recognised and refused.
func (s *Server) principal(r *http.Request) (*Principal, error) {
	actor := latchkey.Actor{IP: clientIP(r), UserAgent: r.UserAgent()}
	if secret, ok := r.Header["X-Admin-Secret"]; ok {
		if s.AdminSecret == "" {
			return nil, latchkey.Errorf(latchkey.EUNAUTHORIZED, "X-Admin-Secret is not enabled on this server (set LATCHKEY_ADMIN_SECRET)")
		}
		if len(secret) != 1 || subtle.ConstantTimeCompare([]byte(secret[0]), []byte(s.AdminSecret)) != 1 {
			return nil, latchkey.Errorf(latchkey.EUNAUTHORIZED, "invalid admin secret")
		}
		actor.Kind = latchkey.ActorOperator
		accountID, err := s.accountFromHeader(r.Context(), r.Header.Get("X-Account-ID"))
		if err != nil {
			return nil, err
		}
		return &Principal{Actor: actor, AccountID: accountID}, nil
	}

	token, ok := bearerToken(r)
	if !ok {
		return nil, latchkey.Errorf(latchkey.EUNAUTHORIZED, "missing credential: send Authorization: Bearer <root key> or X-Admin-Secret")
	}
	vk, err := s.Verifier.Authenticate(r.Context(), token)
	if err != nil {
		return nil, err
	}
	if vk.Kind != latchkey.KindRoot {
		return nil, latchkey.Errorf(latchkey.EFORBIDDEN, "API keys cannot call the management API; use a root key")
	}
	if st := vk.StatusAt(s.now()); st != latchkey.StatusActive {
		return nil, latchkey.Errorf(latchkey.EUNAUTHORIZED, "root key is %s", st)
	}
	if h := r.Header.Get("X-Account-ID"); h != "" && !s.isOwnAccount(r.Context(), h, vk.AccountID) {
		// The same answer whether or not the named account exists.
		return nil, latchkey.Errorf(latchkey.EFORBIDDEN, "a root key acts only on its own account")
	}
	actor.Kind = latchkey.ActorRootKey
	actor.ID = vk.KeyID
	return &Principal{Actor: actor, AccountID: vk.AccountID, Permissions: vk.Permissions}, nil
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
		return 0, latchkey.FieldError("X-Account-ID", "no account %q", h)
	} else if err != nil {
		return 0, err
	}
	s.accounts.Store(h, a.ID)
	return a.ID, nil
}
