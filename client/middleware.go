package client

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/latchkey/latchkey"
)

type resultKey struct{}

// ResultFrom returns the verification of the request's key, set by
// Middleware.
func ResultFrom(ctx context.Context) (*latchkey.VerifyResult, bool) {
	r, ok := ctx.Value(resultKey{}).(*latchkey.VerifyResult)
	return r, ok
}

// MiddlewareOptions tune Middleware.
type MiddlewareOptions struct {
	// Permissions every request's key must hold.
	Permissions []string
	// KeyFrom extracts the API key; default: Authorization: Bearer, then X-API-Key.
	KeyFrom func(r *http.Request) string
	// DeviceFrom extracts a device id; default: none.
	DeviceFrom func(r *http.Request) string
	// Cost is the credits a request spends; nil means 1.
	Cost *int64
}

// Middleware verifies the API key of each request with the Latchkey server
// and passes the request on only when it is VALID: missing or unknown keys
// get 401, revoked, expired, disabled or under-privileged keys 403, rate
// or usage limits 429, and a server that cannot be reached 503. The
// verification is available to next through ResultFrom.
func (c *Client) Middleware(o MiddlewareOptions, next http.Handler) http.Handler {
	keyFrom := o.KeyFrom
	if keyFrom == nil {
		keyFrom = defaultKeyFrom
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := keyFrom(r)
		if key == "" {
			deny(w, http.StatusUnauthorized, "MISSING_KEY")
			return
		}
		req := &latchkey.VerifyRequest{Key: key, Permissions: o.Permissions, Cost: o.Cost}
		if o.DeviceFrom != nil {
			req.DeviceID = o.DeviceFrom(r)
		}
		res, err := c.Verify(r.Context(), req)
		if err != nil {
			deny(w, http.StatusServiceUnavailable, "VERIFY_UNAVAILABLE")
			return
		}
		if !res.Valid {
			deny(w, statusOf(res.Code), string(res.Code))
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), resultKey{}, res)))
	})
}

func defaultKeyFrom(r *http.Request) string {
	if h := r.Header.Get("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return r.Header.Get("X-API-Key")
}

func statusOf(code latchkey.VerifyCode) int {
	switch code {
	case latchkey.CodeNotFound:
		return http.StatusUnauthorized
	case latchkey.CodeRateLimited, latchkey.CodeUsageExceeded:
		return http.StatusTooManyRequests
	}
	return http.StatusForbidden
}

func deny(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": code})
}
