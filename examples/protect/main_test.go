package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

// MustLatchkey starts a stand-in Latchkey server whose verify finds one
// key, "lk_good", holding readApplications, for the root key "lk_root".
func MustLatchkey(tb testing.TB) {
	tb.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Key         string   `json:"key"`
			Permissions []string `json:"permissions"`
		}
		json.NewDecoder(r.Body).Decode(&req)
		switch {
		case r.Method != "POST" || r.URL.Path != "/v1/keys/verify" || r.Header.Get("Authorization") != "Bearer lk_root":
			w.WriteHeader(http.StatusUnauthorized)
		case req.Key != "lk_good":
			w.Write([]byte(`{"valid":false,"code":"NOT_FOUND"}`))
		case len(req.Permissions) != 1 || req.Permissions[0] != "readApplications":
			tb.Errorf("permissions: got %v, want [readApplications]", req.Permissions)
		default:
			w.Write([]byte(`{"valid":true,"code":"VALID","key_id":7,"name":"acme prod","meta":{"plan":"pro"}}`))
		}
	}))
	tb.Cleanup(srv.Close)
	tb.Setenv("LATCHKEY_URL", srv.URL)
	tb.Setenv("LATCHKEY_ROOT_KEY", "lk_root")
}

// TestHelloNeedsAValidKey runs the example's API against a real server.
func TestHelloNeedsAValidKey(t *testing.T) {
	MustLatchkey(t)
	api := newAPI()
	for _, tt := range []struct {
		auth   string
		status int
		body   string
	}{
		{"Bearer lk_good", 200, `{"hello":"acme prod","key_id":7,"meta":{"plan":"pro"}}`},
		{"Bearer lk_made_up", 401, `{"error":"NOT_FOUND"}`},
		{"", 401, `{"error":"MISSING_KEY"}`},
	} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/hello", nil)
		if tt.auth != "" {
			req.Header.Set("Authorization", tt.auth)
		}
		api.ServeHTTP(rec, req)
		if rec.Code != tt.status || strings.TrimSpace(rec.Body.String()) != tt.body {
			t.Errorf("Authorization %q: got %d %s, want %d %s", tt.auth, rec.Code, rec.Body, tt.status, tt.body)
		}
		if tt.status == 401 && !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("Authorization %q: WWW-Authenticate got %q, want Bearer", tt.auth, rec.Header().Get("WWW-Authenticate"))
		}
	}
}

// TestREADMESnippetIsThisProgram keeps README.md's Go SDK snippet the
// marked part of newAPI, so that it compiles as shown.
func TestREADMESnippetIsThisProgram(t *testing.T) {
	src, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	_, region, _ := strings.Cut(string(src), "// README: Go SDK snippet begins\n")
	region, _, _ = strings.Cut(region, "\t// README: Go SDK snippet ends")
	var want strings.Builder
	for _, line := range strings.SplitAfter(region, "\n") {
		want.WriteString(strings.TrimPrefix(line, "\t"))
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(readme), "\n## Go SDK\n")
	section, _, _ = strings.Cut(section, "\n## ")
	_, snippet, ok := strings.Cut(section, "```go\n")
	snippet, _, _ = strings.Cut(snippet, "```\n")
	if !ok || region == "" || snippet != want.String() {
		t.Errorf("README.md's Go SDK snippet is not newAPI's marked region.\ngot:\n%s\nwant:\n%s", snippet, want.String())
	}
}
