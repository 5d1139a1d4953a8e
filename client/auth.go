package client

import (
	"context"
	"net/http"
	"time"
)

// Session is a user's signed-in session. Use it by setting the client's
// AccessToken to AccessToken; before ExpiresAt passes, trade RefreshToken
// for a new session with Refresh.
type Session struct {
	AccessToken string    `json:"access_token"`
	CSRFToken   string    `json:"csrf_token"`
	ExpiresAt   time.Time `json:"expires_at"`
	// RefreshToken is read from the __Host-refresh cookie of the answer
	// (the server sends it in no body); it is rotated on every refresh.
	RefreshToken string `json:"-"`
}

// refreshCookie is the cookie the server sets the refresh token in.
const refreshCookie = "__Host-refresh"

// Login signs a user in with email and password (POST /v1/auth/login) and
// returns the new session. The client needs no credential for it.
func (c *Client) Login(ctx context.Context, email, password string) (*Session, error) {
	body := map[string]string{"email": email, "password": password}
	return c.session(ctx, request{method: "POST", path: "/v1/auth/login", body: body})
}

// Refresh trades a refresh token for a new session (POST
// /v1/auth/refresh). Presenting a rotated token again, past a few seconds'
// grace, ends the whole session family.
func (c *Client) Refresh(ctx context.Context, refreshToken string) (*Session, error) {
	body := map[string]string{"refresh_token": refreshToken}
	return c.session(ctx, request{method: "POST", path: "/v1/auth/refresh", body: body})
}

// session sends a login or refresh and picks the refresh token out of the
// answer's cookies.
func (c *Client) session(ctx context.Context, rq request) (*Session, error) {
	var s Session
	h, err := c.send(ctx, rq, &s)
	if err != nil {
		return nil, err
	}
	for _, ck := range (&http.Response{Header: h}).Cookies() {
		if ck.Name == refreshCookie {
			s.RefreshToken = ck.Value
		}
	}
	return &s, nil
}

// Logout ends the session family of the client's AccessToken (POST
// /v1/auth/logout).
func (c *Client) Logout(ctx context.Context) error {
	return c.do(ctx, request{method: "POST", path: "/v1/auth/logout"}, nil)
}

// CSRFToken returns the CSRF token of the client's session (GET
// /v1/auth/csrf), which a browser sends as X-CSRF-Token with its cookie.
func (c *Client) CSRFToken(ctx context.Context) (string, error) {
	out, err := call[struct {
		CSRFToken string `json:"csrf_token"`
	}](ctx, c, request{method: "GET", path: "/v1/auth/csrf"})
	if err != nil {
		return "", err
	}
	return out.CSRFToken, nil
}

// ChangePassword changes the signed-in user's own password (POST
// /v1/auth/password), given the current one; the client's credential is
// the user's AccessToken. It ends every session of the user, this one
// too: sign in again with the new password.
func (c *Client) ChangePassword(ctx context.Context, current, next string) error {
	return c.do(ctx, request{method: "POST", path: "/v1/auth/password", body: map[string]string{"current": current, "new": next}}, nil)
}
