package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/testenv"
)

// TestGateways puts real nginx (auth_request) and Caddy (forward_auth) in
// front of a tiny API, configured as the README's "Gateways" section
// shows, and checks what an end user gets through them. Without nginx or
// caddy on the PATH the test skips; under CI=true that is a failure (.ci/run
// installs nginx-light and caddy).
func TestGateways(t *testing.T) {
	ts := MustStartServer(t, Config{})
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello key %s", r.Header.Get("X-Key-Id"))
	}))
	t.Cleanup(backend.Close)
	lk := strings.TrimPrefix(ts.URL, "http://")
	valid := ts.mustCreate(t, map[string]any{"name": "through a gateway"})
	revoked := ts.mustCreate(t, map[string]any{"name": "revoked"})
	ts.mustStatus(t, http.StatusOK, "POST", fmt.Sprintf("/v1/keys/%d/revoke", revoked.ID), map[string]any{})
	limited := ts.mustCreate(t, map[string]any{"name": "limited", "rate_limit": map[string]any{"limit": 1, "window_seconds": 3600}})

	gateways := []struct {
		name    string
		bin     string
		limited int // what a rate-limited key gets
		start   func(t *testing.T, bin, port string) *exec.Cmd
	}{
		{"nginx", "nginx", http.StatusForbidden, func(t *testing.T, bin, port string) *exec.Cmd {
			dir := t.TempDir()
			conf := fmt.Sprintf(`daemon off;
master_process off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events {}
http {
	access_log off;
	client_body_temp_path %[1]s/body;
	proxy_temp_path %[1]s/proxy;
	server {
		listen 127.0.0.1:%[2]s;
		location /api/ {
			auth_request /_latchkey;
			auth_request_set $lk_key $upstream_http_x_latchkey_key_id;
			proxy_set_header X-Key-Id $lk_key;
			proxy_pass %[3]s;
		}
		location = /_latchkey { internal; proxy_pass http://%[4]s/v1/authorize?deny=nginx;
			proxy_pass_request_body off; proxy_set_header Content-Length ""; proxy_set_header X-Latchkey-Root-Key "%[5]s"; }
	}
}
`, dir, port, backend.URL, lk, ts.RootKey)
			path := filepath.Join(dir, "nginx.conf")
			if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
				t.Fatal(err)
			}
			return exec.Command(bin, "-p", dir, "-c", path, "-e", filepath.Join(dir, "error.log"))
		}},
		{"caddy", "caddy", http.StatusTooManyRequests, func(t *testing.T, bin, port string) *exec.Cmd {
			dir := t.TempDir()
			conf := fmt.Sprintf(`{
	admin off
	auto_https off
	storage file_system %[1]s
}
http://127.0.0.1:%[2]s {
	forward_auth %[3]s {
		uri /v1/authorize
		header_up X-Latchkey-Root-Key {env.LATCHKEY_ROOT_KEY}
		copy_headers X-Latchkey-Key-Id>X-Key-Id
	}
	reverse_proxy %[4]s
}
`, dir, port, lk, strings.TrimPrefix(backend.URL, "http://"))
			path := filepath.Join(dir, "Caddyfile")
			if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(bin, "run", "--config", path, "--adapter", "caddyfile")
			cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir, "LATCHKEY_ROOT_KEY="+ts.RootKey)
			return cmd
		}},
	}
	for _, g := range gateways {
		t.Run(g.name, func(t *testing.T) {
			bin, err := exec.LookPath(g.bin)
			if err != nil {
				bin, err = exec.LookPath("/usr/sbin/" + g.bin) // nginx, off a user's PATH
			}
			if err != nil {
				if os.Getenv("CI") == "true" {
					t.Fatalf("CI=true but %s is not installed: .ci/run installs it", g.bin)
				}
				t.Skipf("%s is not installed: skipping the %s gateway test", g.bin, g.name)
			}
			port := freePort(t)
			cmd := g.start(t, bin, port)
			var logs testenv.Buffer
			cmd.Stdout, cmd.Stderr = &logs, &logs
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
			base := "http://127.0.0.1:" + port
			waitListening(t, "127.0.0.1:"+port, &logs)

			// get sends GET /api/hello through the gateway, with key as the
			// bearer when it is not empty.
			get := func(key string) *testenv.Response {
				t.Helper()
				var hdr []string
				if key != "" {
					hdr = []string{"Authorization", "Bearer " + key}
				}
				r := testenv.HTTP{URL: base}.Do(t, "GET", "/api/hello", nil, hdr...)
				if r.Status == 0 {
					t.Fatalf("through %s: no answer\n%s", g.name, logs.String())
				}
				return r
			}
			if r := get(valid.Secret); r.Status != 200 || r.String() != fmt.Sprintf("hello key %d", valid.ID) {
				t.Errorf("a valid key: got %d %q, want 200 and the API seeing key %d\n%s", r.Status, r.Body, valid.ID, logs.String())
			}
			if r := get(""); r.Status != 401 {
				t.Errorf("no key: got %d, want 401", r.Status)
			}
			if r := get(mustNewSecret()); r.Status != 401 {
				t.Errorf("an unknown key: got %d, want 401", r.Status)
			}
			if r := get(revoked.Secret); r.Status != 403 {
				t.Errorf("a revoked key: got %d, want 403", r.Status)
			}
			get(limited.Secret) // the one verification the window allows, on either gateway
			if r := get(limited.Secret); r.Status != g.limited || (r.Status == http.StatusTooManyRequests && r.Header.Get("Retry-After") == "") {
				t.Errorf("a rate-limited key: got %d (Retry-After %q), want %d (with Retry-After on a 429)", r.Status, r.Header.Get("Retry-After"), g.limited)
			}
		})
	}
}

// freePort returns a port nothing listens on, for a server the test starts.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// waitListening waits until addr accepts connections.
func waitListening(t *testing.T, addr string, logs *testenv.Buffer) {
	t.Helper()
	for i := 0; i < 200; i++ {
		if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			c.Close()
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("nothing listens on %s\n%s", addr, logs.String())
}
