package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestWorkerRequests checks the two requests a worker sends: verify with
// the root key as the bearer and the key in the body, authorize with the
// root key in X-Latchkey-Root-Key and the key as the bearer, each VALID
// only as its endpoint says it.
func TestWorkerRequests(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch {
		case r.Method == "POST" && r.URL.Path == "/v1/keys/verify" && r.Header.Get("Authorization") == "Bearer lk_root" &&
			r.Header.Get("Content-Type") == "application/json" && string(body) == `{"key":"lk_user"}`:
			w.Write([]byte(`{"valid":true,"code":"VALID"}`))
		case r.Method == "GET" && r.URL.Path == "/v1/authorize" && r.Header.Get("X-Latchkey-Root-Key") == "lk_root" &&
			r.Header.Get("Authorization") == "Bearer lk_user" && len(body) == 0:
			w.Header().Set("X-Latchkey-Code", "VALID")
		default:
			w.Header().Set("X-Latchkey-Code", "NOT_FOUND")
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	defer srv.Close()
	tg := &target{name: "test", base: srv.URL, root: "lk_root", client: srv.Client()}
	ctx := context.Background()
	for _, authorize := range []bool{false, true} {
		l := newLoad([]string{"lk_user", "lk_other"}, authorize)
		if l.n() != 2 || l.prefix(1).n() != 1 {
			t.Fatalf("authorize=%v: n %d, prefix(1) %d, want 2 and 1", authorize, l.n(), l.prefix(1).n())
		}
		if err := checkOnce(ctx, tg, l); err != nil {
			t.Errorf("authorize=%v, lk_user: %v", authorize, err)
		}
		if err := newWorker(tg).do(ctx, l, 1); err == nil {
			t.Errorf("authorize=%v, lk_other: got VALID, want an error", authorize)
		}
	}
}
