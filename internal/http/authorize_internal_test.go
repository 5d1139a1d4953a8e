package http

import (
	"net/http/httptest"
	"testing"
)

// The original request comes from X-Forwarded-Method/X-Forwarded-Uri
// (Traefik, Caddy), else X-Original-Method/X-Original-URI (nginx), else the
// request itself (Envoy's appended path), method and URI each on its own.
func TestOriginalRequest(t *testing.T) {
	for _, tt := range []struct {
		name, method, target string
		headers              []string
		wantMethod, wantURI  string
	}{
		{"Traefik and Caddy", "GET", "/v1/authorize", []string{"X-Forwarded-Method", "POST", "X-Forwarded-Uri", "/orders/7?x=1"}, "POST", "/orders/7?x=1"},
		{"X-Forwarded-* wins over X-Original-*", "GET", "/v1/authorize",
			[]string{"X-Original-Method", "PUT", "X-Original-URI", "/nginx", "X-Forwarded-Method", "PATCH", "X-Forwarded-Uri", "/caddy"}, "PATCH", "/caddy"},
		{"nginx", "GET", "/v1/authorize", []string{"X-Original-Method", "DELETE", "X-Original-URI", "/orders/8"}, "DELETE", "/orders/8"},
		{"each header on its own", "GET", "/v1/authorize", []string{"X-Forwarded-Uri", "/a", "X-Original-Method", "PUT"}, "PUT", "/a"},
		{"a blank header does not count", "GET", "/v1/authorize", []string{"X-Forwarded-Method", " ", "X-Original-Method", "HEAD"}, "HEAD", "/"},
		{"Envoy's appended path", "DELETE", "/v1/authorize/orders/9", nil, "DELETE", "/orders/9"},
		{"the request itself", "POST", "/v1/authorize", nil, "POST", "/"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, tt.target, nil)
			for i := 0; i+1 < len(tt.headers); i += 2 {
				r.Header.Set(tt.headers[i], tt.headers[i+1])
			}
			if m, u := originalRequest(r); m != tt.wantMethod || u != tt.wantURI {
				t.Fatalf("got %s %s, want %s %s", m, u, tt.wantMethod, tt.wantURI)
			}
		})
	}
}
