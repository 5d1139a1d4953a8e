package http

import (
	"net/http"

	"github.com/latchkey/latchkey"
)

// This file holds the /v1/auth routes: JSON in and out around the
// sign-in, refresh and sign-out that internal/http/auth performs (and
// that the admin UI's forms share).

// loginRequest is the body of POST /v1/auth/login.
type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// handleLogin is POST /v1/auth/login: email and password in, a session
// (tokens and cookies) out; see auth.Authenticator.SignIn.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) error {
	return serve(w, r, http.StatusOK, jsonBody[loginRequest](false), func(body loginRequest) (any, error) {
		return s.Auth.SignIn(w, r, body.Email, body.Password)
	})
}

// refreshRequest is the body of POST /v1/auth/refresh, which may be empty
// (the token then comes from the cookie).
type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

// handleRefresh is POST /v1/auth/refresh: the refresh token from the body
// or the cookie is rotated; see auth.Authenticator.Refresh.
func (s *Server) handleRefresh(w http.ResponseWriter, r *http.Request) error {
	return serve(w, r, http.StatusOK, jsonBody[refreshRequest](true), func(body refreshRequest) (any, error) {
		return s.Auth.Refresh(w, r, body.RefreshToken)
	})
}

// handleLogout is POST /v1/auth/logout: the caller's session family ends.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) error {
	return noContent(w, s.Auth.SignOut(w, r, principalFrom(r.Context())))
}

// handleCSRF is GET /v1/auth/csrf: the session family's CSRF token.
func (s *Server) handleCSRF(w http.ResponseWriter, r *http.Request) error {
	p := principalFrom(r.Context())
	if p.FamilyID == "" {
		return latchkey.Errorf(latchkey.EINVALID, "CSRF tokens belong to user sessions")
	}
	return reply(w, http.StatusOK, map[string]string{"csrf_token": s.Auth.CSRFToken(p.FamilyID)}, nil)
}

// passwordChange is the body of POST /v1/auth/password.
type passwordChange struct {
	Current string `json:"current"`
	New     string `json:"new"`
}

// handleChangePassword is POST /v1/auth/password {current, new}: 204; the
// user's sessions, this one too, end (see auth.Authenticator.ChangePassword).
func (s *Server) handleChangePassword(w http.ResponseWriter, r *http.Request) error {
	return serve(w, r, http.StatusNoContent, jsonBody[passwordChange](false), func(b passwordChange) (any, error) {
		return nil, s.Auth.ChangePassword(r.Context(), principalFrom(r.Context()), b.Current, b.New)
	})
}
