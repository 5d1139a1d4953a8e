package http_test

import (
	"context"
	"net/http"
	"strconv"
	"testing"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/testenv"
	"github.com/latchkey/latchkey/internal/testenv/httpstack"
)

// TestGatewayRecordsTheOriginalRequest: the request a gateway holds is
// recorded with the key's usage as its last request, "METHOD /path"
// without the query, on both stores; a plain verify and a refused
// authorize leave it as it was.
func TestGatewayRecordsTheOriginalRequest(t *testing.T) {
	httpstack.EachStore(t, func(t *testing.T, dsn string) {
		st := httpstack.New(t, dsn, httpstack.Options{})
		h := testenv.HTTP{Handler: st.Handler}
		root := []string{"Authorization", "Bearer " + st.Boot.Secret}
		var created struct {
			ID     int64  `json:"id"`
			Secret string `json:"secret"`
		}
		h.MustDo(t, http.StatusCreated, "POST", "/v1/keys", map[string]any{"name": "gw"}, root...).Decode(t, &created)
		lastRequest := func() *string {
			t.Helper()
			if err := st.Verifier.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
			var k latchkey.Key
			h.MustDo(t, http.StatusOK, "GET", "/v1/keys/"+strconv.FormatInt(created.ID, 10), nil, root...).Decode(t, &k)
			return k.LastRequest
		}
		if got := lastRequest(); got != nil {
			t.Fatalf("a new key's last request: %q, want none", *got)
		}
		gateway := []string{"X-Latchkey-Root-Key", st.Boot.Secret, "Authorization", "Bearer " + created.Secret}
		h.MustDo(t, http.StatusOK, "GET", "/v1/authorize", nil,
			append(gateway, "X-Forwarded-Method", "POST", "X-Forwarded-Uri", "/orders/42?token=secret")...)
		want := "POST /orders/42"
		if got := lastRequest(); got == nil || *got != want {
			t.Fatalf("after a Caddy-style authorize: %v, want %q", got, want)
		}
		h.MustDo(t, http.StatusOK, "POST", "/v1/keys/verify", map[string]any{"key": created.Secret}, root...)
		h.MustDo(t, http.StatusForbidden, "GET", "/v1/authorize?permissions=nope", nil,
			append(gateway, "X-Original-Method", "DELETE", "X-Original-URI", "/orders/43")...)
		if got := lastRequest(); got == nil || *got != want {
			t.Errorf("after a plain verify and a refused authorize: %v, want %q kept", got, want)
		}
		h.MustDo(t, http.StatusOK, "PUT", "/v1/authorize/items/7", nil, gateway...) // Envoy: the path appended
		if got := lastRequest(); got == nil || *got != "PUT /items/7" {
			t.Errorf("after an Envoy-style authorize: %v, want %q", got, "PUT /items/7")
		}
	})
}
