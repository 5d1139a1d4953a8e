package http

import (
	"net/http"

	"github.com/latchkey/latchkey"
)

// This file holds the /v1/auth routes: JSON in and out around the
// sign-in, refresh and sign-out that internal/http/auth performs (and
// that the admin UI's forms share).

// handleLogin is POST /v1/auth/login: email and password in, a session
// (tokens and cookies) out; see auth.Authenticator.SignIn.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	if err := decodeJSON(w, r, &body, false); err != nil {
		return err
	}
	sess, err := s.Auth.SignIn(w, r, body.Email, body.Password)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, sess)
	return nil
}

// handleRefresh is POST /v1/auth/refresh: the refresh token from the body
// or the cookie is rotated; see auth.Authenticator.Refresh.
func (s *Server) handleRefresh(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := decodeJSON(w, r, &body, true); err != nil {
		return err
	}
	sess, err := s.Auth.Refresh(w, r, body.RefreshToken)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, sess)
	return nil
}

// handleLogout is POST /v1/auth/logout: the caller's session family ends.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) error {
	if err := s.Auth.SignOut(w, r, principalFrom(r.Context())); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleCSRF is GET /v1/auth/csrf: the session family's CSRF token.
func (s *Server) handleCSRF(w http.ResponseWriter, r *http.Request) error {
	p := principalFrom(r.Context())
	if p.FamilyID == "" {
		return latchkey.Errorf(latchkey.EINVALID, "CSRF tokens belong to user sessions")
	}
	writeJSON(w, http.StatusOK, map[string]string{"csrf_token": s.Auth.CSRFToken(p.FamilyID)})
	return nil
}
