package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/client"
)

// MustVerifyServer starts a server that answers verify with the code named
// by the key, a rate limit of 100 an hour with 42 left and 1800 s to go,
// and refuses any root key but "root" as the real server does.
func MustVerifyServer(tb testing.TB) *httptest.Server {
	tb.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer root" {
			w.Header().Set("Content-Type", "application/problem+json")
			w.Header().Set("WWW-Authenticate", `Bearer realm="latchkey"`)
			w.WriteHeader(401)
			w.Write([]byte(`{"status":401,"code":"unauthorized","detail":"invalid credential"}`))
			return
		}
		var req latchkey.VerifyRequest
		json.NewDecoder(r.Body).Decode(&req)
		code := latchkey.VerifyCode(req.Key)
		remaining := 42
		if code == latchkey.CodeRateLimited {
			remaining = 0
		}
		json.NewEncoder(w).Encode(map[string]any{
			"valid": code == latchkey.CodeValid, "code": code, "key_id": 7, "meta": map[string]string{"plan": "pro"},
			"rate_limit": map[string]any{"limit": 100, "remaining": remaining, "window_seconds": 3600,
				"reset_at": time.Now().Add(1800 * time.Second).Format(time.RFC3339Nano)},
		})
	}))
	tb.Cleanup(srv.Close)
	return srv
}

// serve runs one request through h with the given headers.
func serve(h http.Handler, header ...string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/", nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	h.ServeHTTP(rec, req)
	return rec
}

// TestMiddlewareStatusesAndHeaders checks each outcome's status and exact
// headers.
func TestMiddlewareStatusesAndHeaders(t *testing.T) {
	srv := MustVerifyServer(t)
	h := client.New(srv.URL, "root").Middleware(client.MiddlewareOptions{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res, ok := client.ResultFrom(r.Context())
		if !ok || res.KeyID != 7 || string(res.Meta) != `{"plan":"pro"}` {
			t.Errorf("result: got %+v", res)
		}
		w.WriteHeader(204)
	}))
	const policy, limit = `"default";q=100;w=3600`, `"default";r=42;t=1800`
	tests := []struct {
		key        string
		status     int
		wwwAuth    string
		retryAfter string
		rateLimit  string
		body       string
	}{
		{"", 401, "Bearer", "", "", `{"error":"MISSING_KEY"}`},
		{"VALID", 204, "", "", limit, ""},
		{"NOT_FOUND", 401, `Bearer error="invalid_token"`, "", limit, `{"error":"NOT_FOUND"}`},
		{"REVOKED", 403, "", "", limit, `{"error":"REVOKED"}`},
		{"EXPIRED", 403, "", "", limit, `{"error":"EXPIRED"}`},
		{"DISABLED", 403, "", "", limit, `{"error":"DISABLED"}`},
		{"INSUFFICIENT_PERMISSIONS", 403, "", "", limit, `{"error":"INSUFFICIENT_PERMISSIONS"}`},
		{"DEVICE_LIMIT_EXCEEDED", 403, "", "", limit, `{"error":"DEVICE_LIMIT_EXCEEDED"}`},
		{"RATE_LIMITED", 429, "", "1800", `"default";r=0;t=1800`, `{"error":"RATE_LIMITED"}`},
		{"USAGE_EXCEEDED", 429, "", "", limit, `{"error":"USAGE_EXCEEDED"}`},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			var rec *httptest.ResponseRecorder
			if tt.key == "" {
				rec = serve(h)
			} else {
				rec = serve(h, "Authorization", "Bearer "+tt.key)
			}
			if rec.Code != tt.status {
				t.Errorf("status: got %d, want %d", rec.Code, tt.status)
			}
			wantPolicy := policy
			if tt.rateLimit == "" {
				wantPolicy = ""
			}
			for name, want := range map[string]string{"WWW-Authenticate": tt.wwwAuth, "Retry-After": tt.retryAfter,
				"RateLimit-Policy": wantPolicy, "RateLimit": tt.rateLimit} {
				if got := rec.Header().Get(name); got != want {
					t.Errorf("%s: got %q, want %q", name, got, want)
				}
			}
			if got := strings.TrimSpace(rec.Body.String()); got != tt.body {
				t.Errorf("body: got %s, want %s", got, tt.body)
			}
		})
	}
}

// TestMiddlewareKeyHeader checks that the key is read from the configured
// header.
func TestMiddlewareKeyHeader(t *testing.T) {
	srv := MustVerifyServer(t)
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	c := client.New(srv.URL, "root")
	for _, tt := range []struct {
		keyHeader string
		header    []string
		want      int
	}{
		{"", []string{"X-API-Key", "VALID"}, 204},
		{"", []string{"Authorization", "bearer VALID"}, 204},
		{"X-API-Key", []string{"X-API-Key", "VALID"}, 204},
		{"X-API-Key", []string{"Authorization", "Bearer VALID"}, 401},
		{"authorization", []string{"Authorization", "Bearer VALID"}, 204},
		{"Authorization", []string{"X-API-Key", "VALID"}, 401},
		{"X-Custom-Key", []string{"X-Custom-Key", "VALID"}, 204},
	} {
		rec := serve(c.Middleware(client.MiddlewareOptions{KeyHeader: tt.keyHeader}, next), tt.header...)
		if rec.Code != tt.want {
			t.Errorf("KeyHeader %q, request %v: got %d, want %d", tt.keyHeader, tt.header, rec.Code, tt.want)
		}
	}
}

// TestMiddlewareMisconfiguredIsLoggedOnceAnd500 checks that a missing or
// refused root key is the operator's problem: 500, logged once.
func TestMiddlewareMisconfiguredIsLoggedOnceAnd500(t *testing.T) {
	srv := MustVerifyServer(t)
	forbidden := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(403)
		w.Write([]byte(`{"status":403,"code":"forbidden","detail":"this root key lacks keys:verify"}`))
	}))
	defer forbidden.Close()
	for _, tt := range []struct {
		name     string
		c        *client.Client
		wantLogs string
	}{
		{"no root key", client.New(srv.URL, ""), "no root key"},
		{"refused root key", client.New(srv.URL, "wrong"), "refuses the client's root key"},
		{"root key without keys:verify", client.New(forbidden.URL, "root"), "refuses the client's root key"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			h := tt.c.Middleware(client.MiddlewareOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil))}, http.NotFoundHandler())
			for range 3 {
				rec := serve(h, "Authorization", "Bearer VALID")
				if rec.Code != 500 {
					t.Errorf("status: got %d, want 500", rec.Code)
				}
				if got := strings.TrimSpace(rec.Body.String()); got != `{"error":"MISCONFIGURED"}` {
					t.Errorf("body: got %s", got)
				}
			}
			if n := strings.Count(logs.String(), "\n"); n != 1 || !strings.Contains(logs.String(), tt.wantLogs) || !strings.Contains(logs.String(), "level=ERROR") {
				t.Errorf("log: got %d lines %q, want one ERROR line saying %q", n, logs.String(), tt.wantLogs)
			}
			if strings.Contains(logs.String(), "VALID") {
				t.Errorf("log carries the end user's key: %s", logs.String())
			}
		})
	}
}

// TestMiddlewareOutageIs503WithRetryAfter checks that an unreachable
// server is a 503 with Retry-After.
func TestMiddlewareOutageIs503WithRetryAfter(t *testing.T) {
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.Header().Set("Retry-After", "5")
		w.WriteHeader(503)
		w.Write([]byte(`{"status":503,"code":"unavailable","detail":"store unavailable"}`))
	}))
	defer down.Close()
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	for _, tt := range []struct {
		name, url, retryAfter string
	}{
		{"server answers 503", down.URL, "5"},
		{"network error", gone.URL, "1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			h := client.New(tt.url, "root").Middleware(client.MiddlewareOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil))}, http.NotFoundHandler())
			for range 2 {
				rec := serve(h, "X-API-Key", "VALID")
				if rec.Code != 503 || rec.Header().Get("Retry-After") != tt.retryAfter {
					t.Errorf("got %d Retry-After %q, want 503 Retry-After %q", rec.Code, rec.Header().Get("Retry-After"), tt.retryAfter)
				}
			}
			if n := strings.Count(logs.String(), "\n"); n != 1 || !strings.Contains(logs.String(), "level=WARN") {
				t.Errorf("log: got %q, want one WARN line", logs.String())
			}
		})
	}
}

// TestMiddlewareMalformedKeyIs401 checks that a malformed key is the end
// user's 401, not an outage.
func TestMiddlewareMalformedKeyIs401(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(400)
		w.Write([]byte(`{"status":400,"code":"invalid","detail":"key: must be valid UTF-8","errors":{"key":"must be valid UTF-8"}}`))
	}))
	defer srv.Close()
	var logs bytes.Buffer
	h := client.New(srv.URL, "root").Middleware(client.MiddlewareOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil))}, http.NotFoundHandler())
	rec := serve(h, "X-API-Key", "lk_\xff")
	if rec.Code != 401 || rec.Header().Get("WWW-Authenticate") == "" {
		t.Errorf("got %d %v, want 401 with WWW-Authenticate", rec.Code, rec.Header())
	}
	if logs.Len() != 0 {
		t.Errorf("an end user's bad key was logged: %s", logs.String())
	}
}

// What an end user sends can never look like a misconfiguration: a key
// too long to be one, a device id the server would refuse, or a server
// refusing either, answer the end user (401, 400) and spend no log line,
// so a later real misconfiguration is still logged.
func TestMiddlewareEndUserInputIsNotMisconfiguration(t *testing.T) {
	var calls int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(400)
		w.Write([]byte(`{"status":400,"code":"invalid","detail":"device_id: must be at most 200 bytes","errors":{"device_id":"must be at most 200 bytes"}}`))
	}))
	defer srv.Close()
	var logs bytes.Buffer
	h := client.New(srv.URL, "root").Middleware(client.MiddlewareOptions{DeviceHeader: "X-Device-Id", Logger: slog.New(slog.NewTextHandler(&logs, nil))}, http.NotFoundHandler())
	if rec := serve(h, "X-API-Key", "lk_"+strings.Repeat("a", 300)); rec.Code != 401 {
		t.Errorf("a 300-byte key: got %d, want 401", rec.Code)
	}
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("X-API-Key", "VALID")
	req.Header.Set("X-Device-Id", strings.Repeat("d", 201))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 400 {
		t.Errorf("a 201-byte device id: got %d, want 400", rec.Code)
	}
	if calls != 0 {
		t.Errorf("the server was asked %d times about input it would refuse", calls)
	}
	// A device id the middleware lets through but the server refuses.
	req = httptest.NewRequest("GET", "/", nil)
	req.Header.Set("X-API-Key", "VALID")
	req.Header.Set("X-Device-Id", "d")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 400 {
		t.Errorf("a device id the server refuses: got %d, want 400", rec.Code)
	}
	if logs.Len() != 0 {
		t.Errorf("end-user input was logged as a misconfiguration: %s", logs.String())
	}
}

// TestMiddlewareCancelledRequestIsNotAnOutage checks that a client that
// went away is not logged as an outage.
func TestMiddlewareCancelledRequestIsNotAnOutage(t *testing.T) {
	srv := MustVerifyServer(t)
	var logs bytes.Buffer
	h := client.New(srv.URL, "root").Middleware(client.MiddlewareOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil))}, http.NotFoundHandler())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/", nil).WithContext(ctx)
	req.Header.Set("X-API-Key", "VALID")
	h.ServeHTTP(rec, req)
	if rec.Code != 503 || logs.Len() != 0 {
		t.Errorf("got %d and log %q, want 503 and no log", rec.Code, logs.String())
	}
}

// TestMiddlewareDeviceHeader checks that the device id is sent from its
// header.
func TestMiddlewareDeviceHeader(t *testing.T) {
	var got latchkey.VerifyRequest
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewDecoder(r.Body).Decode(&got)
		w.Write([]byte(`{"valid":true,"code":"VALID","key_id":7}`))
	}))
	defer srv.Close()
	h := client.New(srv.URL, "root").Middleware(client.MiddlewareOptions{DeviceHeader: "X-Device-Id"}, http.NotFoundHandler())
	serve(h, "X-API-Key", "lk_k", "X-Device-Id", "laptop-7")
	if got.Key != "lk_k" || got.DeviceID != "laptop-7" {
		t.Errorf("verify request: got %+v, want key lk_k on device laptop-7", got)
	}
}
