package http

import (
	"context"
	"net/http"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/http/auth"
)

// This file gates each native route by what its caller may do; who the
// caller is, is decided by Server.Auth (internal/http/auth).

// principalFrom returns the request's principal, set by authenticate.
func principalFrom(ctx context.Context) *auth.Principal { return auth.FromContext(ctx) }

// Route requirements beyond root-key permissions.
const (
	permAuthenticated = "authenticated" // any principal
	permOperator      = "operator"      // the X-Admin-Secret holder only
)

// authenticate wraps h so that only a principal holding perm reaches it.
func (s *Server) authenticate(perm string, h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		p, err := s.Auth.Principal(r)
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
		return h(w, r.WithContext(auth.NewContext(r.Context(), p)))
	}
}
