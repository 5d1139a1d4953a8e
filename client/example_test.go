package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/client"
)

// fakeLatchkey stands in for a Latchkey server: one valid key, "lk_good",
// with 41 of 100 verifications left in an hour that resets in 30 minutes.
func fakeLatchkey() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/keys/42" {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(404)
			w.Write([]byte(`{"status":404,"code":"not_found","detail":"key 42 not found"}`))
			return
		}
		var req latchkey.VerifyRequest
		json.NewDecoder(r.Body).Decode(&req)
		if req.Key != "lk_good" {
			w.Write([]byte(`{"valid":false,"code":"NOT_FOUND"}`))
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"valid": true, "code": "VALID", "key_id": 7, "meta": map[string]string{"plan": "pro"},
			"rate_limit": map[string]any{"limit": 100, "remaining": 41, "window_seconds": 3600, "reset_at": time.Now().Add(30 * time.Minute)}})
	}))
}

// ExampleClient_Middleware protects a handler with the middleware.
func ExampleClient_Middleware() {
	srv := fakeLatchkey()
	defer srv.Close()

	lk := client.New(srv.URL, "lk_root")
	api := lk.Middleware(client.MiddlewareOptions{KeyHeader: "X-API-Key"}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res, _ := client.ResultFrom(r.Context())
		fmt.Fprintf(w, "key %d, meta %s", res.KeyID, res.Meta)
	}))

	for _, key := range []string{"lk_good", "lk_made_up"} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/hello", nil)
		req.Header.Set("X-API-Key", key)
		api.ServeHTTP(rec, req)
		fmt.Println(rec.Code)
		for _, h := range []string{"RateLimit-Policy", "RateLimit", "WWW-Authenticate"} {
			if v := rec.Header().Get(h); v != "" {
				fmt.Printf("%s: %s\n", h, v)
			}
		}
		fmt.Println(rec.Body.String())
	}
	// Output:
	// 200
	// RateLimit-Policy: "default";q=100;w=3600
	// RateLimit: "default";r=41;t=1800
	// key 7, meta {"plan":"pro"}
	// 401
	// WWW-Authenticate: Bearer error="invalid_token"
	// {"error":"NOT_FOUND"}
}

// ExampleClient_GetKey reads a key.
func ExampleClient_GetKey() {
	srv := fakeLatchkey()
	defer srv.Close()

	_, err := client.New(srv.URL, "lk_root").GetKey(context.Background(), 42)
	var e *latchkey.Error
	if errors.As(err, &e) {
		fmt.Println(e.Code, "-", e.Message)
	}
	// Output: not_found - key 42 not found
}
