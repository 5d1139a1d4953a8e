// Command protect serves a tiny API that only requests with a valid
// Latchkey API key reach: GET /hello answers the key's name and meta,
// everything else under it is refused by the middleware first.
//
//	LATCHKEY_URL=http://127.0.0.1:8080 LATCHKEY_ROOT_KEY=lk_… go run ./examples/protect
//	curl -H "Authorization: Bearer $API_KEY" http://127.0.0.1:9090/hello
//
// LATCHKEY_ROOT_KEY is a root key holding keys:verify; the API key needs
// the readApplications permission. LISTEN (default 127.0.0.1:9090) is the
// address it serves on.
package main

import (
	"encoding/json"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/latchkey/latchkey/client"
)

// main serves the tiny API on $LISTEN.
func main() {
	addr := getenv("LISTEN", "127.0.0.1:9090")
	srv := &http.Server{Addr: addr, Handler: newAPI(), ReadHeaderTimeout: 10 * time.Second}
	log.Printf("protect: serving on http://%s/hello, keys verified by %s", addr, getenv("LATCHKEY_URL", "http://127.0.0.1:8080"))
	log.Fatal(srv.ListenAndServe())
}

// newAPI is the tiny API behind the middleware.
func newAPI() http.Handler {
	// README: Go SDK snippet begins
	lk := client.New(getenv("LATCHKEY_URL", "http://127.0.0.1:8080"), os.Getenv("LATCHKEY_ROOT_KEY"))
	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res, _ := client.ResultFrom(r.Context()) // the middleware's verification: always VALID here
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"hello":  res.Name,
			"key_id": res.KeyID,
			"meta":   res.Meta, // json.RawMessage: encoded as the JSON object it holds
		})
	})
	mux := http.NewServeMux()
	mux.Handle("GET /hello", lk.Middleware(client.MiddlewareOptions{
		Permissions: []string{"readApplications"}, // the key must hold it
		KeyHeader:   "Authorization",              // Authorization: Bearer <key>; or "X-API-Key"
	}, hello))
	// README: Go SDK snippet ends
	return mux
}

// getenv returns the environment variable name, or def when it is unset.
func getenv(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
