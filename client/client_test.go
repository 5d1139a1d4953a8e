package client_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/client"
)

// fakeServer answers verify with the code named by the key and refuses a
// wrong root key as the real server does.
func fakeServer(tb testing.TB) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer root" {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(401)
			w.Write([]byte(`{"status":401,"code":"unauthorized","detail":"invalid credential"}`))
			return
		}
		var req latchkey.VerifyRequest
		json.NewDecoder(r.Body).Decode(&req)
		code := latchkey.VerifyCode(req.Key)
		json.NewEncoder(w).Encode(latchkey.VerifyResult{Valid: code == latchkey.CodeValid, Code: code, KeyID: 7})
	}))
	tb.Cleanup(srv.Close)
	return srv
}

func TestMiddleware(t *testing.T) {
	srv := fakeServer(t)
	c := client.New(srv.URL, "root")
	h := c.Middleware(client.MiddlewareOptions{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res, ok := client.ResultFrom(r.Context())
		if !ok || res.KeyID != 7 {
			t.Errorf("result: got %+v", res)
		}
		w.WriteHeader(204)
	}))
	for key, want := range map[string]int{"": 401, "VALID": 204, "NOT_FOUND": 401, "REVOKED": 403, "EXPIRED": 403,
		"DISABLED": 403, "INSUFFICIENT_PERMISSIONS": 403, "DEVICE_LIMIT_EXCEEDED": 403, "RATE_LIMITED": 429, "USAGE_EXCEEDED": 429} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/", nil)
		if key != "" {
			req.Header.Set("X-API-Key", key)
		}
		h.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("key %q: got %d, want %d", key, rec.Code, want)
		}
	}
	bad := client.New(srv.URL, "wrong")
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Authorization", "Bearer VALID")
	bad.Middleware(client.MiddlewareOptions{}, http.NotFoundHandler()).ServeHTTP(rec, req)
	if rec.Code != 503 {
		t.Fatalf("server refusing the root key: got %d, want 503", rec.Code)
	}
}

func TestErrorsCarryProblem(t *testing.T) {
	srv := fakeServer(t)
	_, err := client.New(srv.URL, "wrong").Verify(context.Background(), &latchkey.VerifyRequest{Key: "VALID"})
	e, ok := err.(*client.Error)
	if !ok || e.Status != 401 || e.Code != "unauthorized" {
		t.Fatalf("got %v, want a 401 unauthorized *client.Error", err)
	}
}
