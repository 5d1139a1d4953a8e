package client

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/latchkey/latchkey"
)

type resultKey struct{}

// ResultFrom returns the verification of the request's key, set by
// Middleware.
func ResultFrom(ctx context.Context) (*latchkey.VerifyResult, bool) {
	r, ok := ctx.Value(resultKey{}).(*latchkey.VerifyResult)
	return r, ok
}

// MiddlewareOptions tune Middleware. The zero value reads the key from
// Authorization: Bearer (or X-API-Key), asks for no permission and spends
// one credit a request.
type MiddlewareOptions struct {
	// Permissions every request's key must hold.
	Permissions []string
	// KeyHeader names the one header the key is read from, like
	// "X-API-Key"; "Authorization" means its Bearer credential. Empty
	// reads Authorization: Bearer, then X-API-Key.
	KeyHeader string
	// KeyFrom, when set, extracts the key instead of KeyHeader.
	KeyFrom func(r *http.Request) string
	// DeviceHeader names a header carrying the end user's device id, like
	// "X-Device-Id", counted against the key's max_devices; empty: none.
	DeviceHeader string
	// DeviceFrom, when set, extracts the device id instead of DeviceHeader.
	DeviceFrom func(r *http.Request) string
	// Cost is the credits a request spends; nil means 1.
	Cost *int64
	// Logger receives the one report of a misconfigured client and the
	// (throttled) reports of outages; nil is slog.Default().
	Logger *slog.Logger
}

// Middleware verifies the API key of each request with the Latchkey server
// and passes the request on only when it is VALID. The verification is
// available to next through ResultFrom. Its refusals:
//
//   - 401 with WWW-Authenticate: Bearer for a missing or unknown key;
//   - 403 for a revoked, expired, disabled or under-privileged key, or one
//     past its device limit;
//   - 429 for a rate limit, with Retry-After (the seconds until its window
//     resets), and for exhausted credits, with Retry-After only when a
//     spent rate limit says when (the verify answer does not say when
//     credits refill);
//   - 500 when the client itself is misconfigured: no credential, or the
//     server refusing it (401, 403). That is logged once, not per request;
//   - 503 with Retry-After when the server cannot be reached or answers 503.
//
// Every answer whose verification carried a rate limit, the request passed
// on included, has RateLimit-Policy and RateLimit headers in the syntax
// of draft-ietf-httpapi-ratelimit-headers-10:
//
//	RateLimit-Policy: "default";q=100;w=3600
//	RateLimit: "default";r=42;t=1800
//
// (q the limit, w the window in seconds when the server says, r what is
// left, t the seconds until the window resets). Refusals have the body
// {"error": "<code>"}, the code being the verify code or MISSING_KEY,
// MISCONFIGURED, VERIFY_UNAVAILABLE.
func (c *Client) Middleware(o MiddlewareOptions, next http.Handler) http.Handler {
	m := &middleware{c: c, o: o, next: next, keyFrom: o.KeyFrom, log: o.Logger, now: time.Now}
	if m.keyFrom == nil {
		m.keyFrom = headerKeyFrom(o.KeyHeader)
	}
	if m.log == nil {
		m.log = slog.Default()
	}
	return m
}

// middleware is the handler Middleware returns.
type middleware struct {
	c       *Client
	o       MiddlewareOptions
	next    http.Handler
	keyFrom func(*http.Request) string
	log     *slog.Logger
	now     func() time.Time

	misconfigured sync.Once // logs the first misconfiguration only

	outageMu     sync.Mutex
	outageLogged time.Time
}

// outageLogEvery bounds how often an outage is logged.
const outageLogEvery = time.Minute

// ServeHTTP verifies the request's key and lets it through only when it
// is valid, answering every refusal with its status and headers.
func (m *middleware) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !m.c.hasCredential() {
		m.misconfig("no root key: set the client's RootKey to a root key holding keys:verify", nil)
		deny(w, http.StatusInternalServerError, "MISCONFIGURED")
		return
	}
	key := m.keyFrom(r)
	if key == "" {
		w.Header().Set("WWW-Authenticate", "Bearer")
		deny(w, http.StatusUnauthorized, "MISSING_KEY")
		return
	}
	req := &latchkey.VerifyRequest{Key: key, Permissions: m.o.Permissions, Cost: m.o.Cost}
	switch {
	case m.o.DeviceFrom != nil:
		req.DeviceID = m.o.DeviceFrom(r)
	case m.o.DeviceHeader != "":
		req.DeviceID = strings.TrimSpace(r.Header.Get(m.o.DeviceHeader))
	}
	// What the end user sent is checked here, so that it can never look
	// like a misconfiguration of the middleware (which answers 500 and
	// spends the one log line): a key too long to be one, a device id
	// longer than the server accepts.
	if len(req.Key) > latchkey.MaxKeyLen {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		deny(w, http.StatusUnauthorized, string(latchkey.CodeNotFound))
		return
	}
	if len(req.DeviceID) > latchkey.MaxDeviceIDLen {
		deny(w, http.StatusBadRequest, "INVALID_DEVICE_ID")
		return
	}
	res, window, err := m.c.verify(r.Context(), req)
	if err != nil {
		m.failed(w, r, err)
		return
	}
	now := m.now()
	if rl := res.RateLimit; rl != nil {
		writeRateLimit(w.Header(), rl, window, now)
	}
	if !res.Valid {
		status := statusOf(res.Code)
		switch status {
		case http.StatusUnauthorized:
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		case http.StatusTooManyRequests:
			if ra, ok := retryAfterOf(res, now); ok {
				w.Header().Set("Retry-After", strconv.FormatInt(ra, 10))
			}
		}
		deny(w, status, string(res.Code))
		return
	}
	m.next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), resultKey{}, res)))
}

// failed answers a verification that got no verdict: 500 for a client
// the server refuses, the end user's 401 for a key the server calls
// malformed, 503 for an outage (and for a request cancelled meanwhile,
// unlogged).
func (m *middleware) failed(w http.ResponseWriter, r *http.Request, err error) {
	var le *latchkey.Error
	if !errors.As(err, &le) {
		if r.Context().Err() == nil {
			m.outage(err) // not when the request was cancelled: that is no outage
		}
		w.Header().Set("Retry-After", "1")
		deny(w, http.StatusServiceUnavailable, "VERIFY_UNAVAILABLE")
		return
	}
	switch le.Code {
	case latchkey.EUNAUTHORIZED, latchkey.EFORBIDDEN:
		m.misconfig("the server refuses the client's root key: give it a root key of this account holding keys:verify", err)
		deny(w, http.StatusInternalServerError, "MISCONFIGURED")
	case latchkey.EINVALID, latchkey.ETOOLARGE:
		if _, bad := le.Fields["key"]; bad || le.Code == latchkey.ETOOLARGE {
			// The end user's key is not even well-formed (a NUL byte, bad UTF-8).
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			deny(w, http.StatusUnauthorized, string(latchkey.CodeNotFound))
			return
		}
		if _, bad := le.Fields["device_id"]; bad {
			deny(w, http.StatusBadRequest, "INVALID_DEVICE_ID") // the end user's device header
			return
		}
		m.misconfig("the server refuses the middleware's verify request: check MiddlewareOptions", err)
		deny(w, http.StatusInternalServerError, "MISCONFIGURED")
	case latchkey.EUNAVAILABLE, latchkey.ERATELIMITED:
		m.outage(err)
		w.Header().Set("Retry-After", strconv.Itoa(max(1, latchkey.RetryAfterSeconds(err))))
		deny(w, http.StatusServiceUnavailable, "VERIFY_UNAVAILABLE")
	default:
		m.misconfig("the server refuses the middleware's verify request", err)
		deny(w, http.StatusInternalServerError, "MISCONFIGURED")
	}
}

// misconfig logs the first misconfiguration at error, and nothing after
// it: the fix is the operator's, and one line says it.
func (m *middleware) misconfig(msg string, err error) {
	m.misconfigured.Do(func() {
		args := []any{"server", m.c.BaseURL}
		if err != nil {
			args = append(args, "err", err)
		}
		m.log.Error("latchkey middleware misconfigured; answering 500 until fixed: "+msg, args...)
	})
}

// outage logs an unreachable server at warn, at most once a minute.
func (m *middleware) outage(err error) {
	m.outageMu.Lock()
	now := m.now()
	if now.Sub(m.outageLogged) < outageLogEvery {
		m.outageMu.Unlock()
		return
	}
	m.outageLogged = now
	m.outageMu.Unlock()
	m.log.Warn("latchkey middleware cannot verify keys; answering 503", "server", m.c.BaseURL, "err", err)
}

// retryAfterOf is the Retry-After of a 429, in seconds: the time until a
// rate limit's window resets (at least 1). Exhausted credits have one only
// when a rate limit is also spent, as the verify answer does not say when
// credits refill.
func retryAfterOf(res *latchkey.VerifyResult, now time.Time) (int64, bool) {
	rl := res.RateLimit
	switch {
	case rl != nil && (res.Code == latchkey.CodeRateLimited || rl.Remaining <= 0):
		return max(secondsUntil(rl.ResetAt, now), 1), true
	case res.Code == latchkey.CodeRateLimited:
		return 1, true
	}
	return 0, false
}

// writeRateLimit sets the draft-10 RateLimit-Policy and RateLimit headers.
func writeRateLimit(h http.Header, rl *latchkey.RateLimitState, window int64, now time.Time) {
	policy := `"default";q=` + strconv.FormatInt(rl.Limit, 10)
	if window > 0 {
		policy += ";w=" + strconv.FormatInt(window, 10)
	}
	h.Set("RateLimit-Policy", policy)
	h.Set("RateLimit", `"default";r=`+strconv.FormatInt(max(rl.Remaining, 0), 10)+";t="+strconv.FormatInt(secondsUntil(rl.ResetAt, now), 10))
}

// secondsUntil is the whole seconds from now until t, rounded up, never
// negative.
func secondsUntil(t, now time.Time) int64 {
	d := t.Sub(now)
	if d <= 0 {
		return 0
	}
	return int64((d + time.Second - 1) / time.Second)
}

// headerKeyFrom reads the key from the named header, or by default from
// Authorization: Bearer and then X-API-Key.
func headerKeyFrom(name string) func(*http.Request) string {
	if name == "" {
		return func(r *http.Request) string {
			if k := bearer(r); k != "" {
				return k
			}
			return strings.TrimSpace(r.Header.Get("X-API-Key"))
		}
	}
	if http.CanonicalHeaderKey(name) == "Authorization" {
		return bearer
	}
	return func(r *http.Request) string { return strings.TrimSpace(r.Header.Get(name)) }
}

// bearer returns the credential of Authorization: Bearer.
func bearer(r *http.Request) string {
	if h := r.Header.Get("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// statusOf is the status of a refused verification.
func statusOf(code latchkey.VerifyCode) int {
	switch code {
	case latchkey.CodeNotFound:
		return http.StatusUnauthorized
	case latchkey.CodeRateLimited, latchkey.CodeUsageExceeded:
		return http.StatusTooManyRequests
	}
	return http.StatusForbidden
}

// deny writes a refusal.
func deny(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": code})
}
