package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/testenv"
	"github.com/latchkey/latchkey/internal/testenv/binary"
)

// testServer is a real latchkey server started in-process on port 0 on a
// temp SQLite file, reached only through HTTP.
type testServer struct {
	URL     string
	RootKey string
	first   *binary.Welcome // what serve showed at its start
	welcome []string        // the same lines (first.lines)
	logs    *testenv.Buffer // the server's log output
	issued  []string        // secrets the server returned, to look for in logs
	cancel  context.CancelFunc
	done    chan error
}

// MustStartServer runs serve with cfg (Listen, DatabaseURL and DataDir
// defaulted to port 0 and a temp directory) and waits for its welcome
// lines, with the first start's file read in.
func MustStartServer(tb testing.TB, cfg Config) *testServer {
	tb.Helper()
	ts, err := startServer(tb, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return ts
}

// startServer is MustStartServer that returns its failure, for tests that
// start servers from several goroutines.
func startServer(tb testing.TB, cfg Config) (*testServer, error) {
	tb.Helper()
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.DatabaseURL == "" {
		cfg.DatabaseURL = filepath.Join(tb.TempDir(), "latchkey.db")
	}
	if cfg.DataDir == "" && strings.HasPrefix(cfg.DatabaseURL, "postgres") {
		cfg.DataDir = tb.TempDir() // not the package directory
	}
	if cfg.LogLevel == "" {
		cfg.LogLevel, cfg.LogFormat = "warn", "text"
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	ts := &testServer{cancel: cancel, done: make(chan error, 1), logs: &testenv.Buffer{}}
	go func() {
		err := serve(ctx, cfg, pw, ts.logs)
		pw.Close()
		ts.done <- err
	}()
	ready := make(chan error, 1)
	go func() {
		w, err := binary.ReadWelcome(pr)
		ts.first = w
		ts.URL, ts.RootKey, ts.welcome = w.URL, w.RootKey, w.Lines
		go io.Copy(io.Discard, pr)
		ready <- err
	}()
	select {
	case err := <-ready:
		if err != nil {
			// The welcome ended early (the server exited, and says why)
			// or its file could not be read.
			cancel()
			select {
			case exit := <-ts.done:
				return nil, fmt.Errorf("server exited: %v (its welcome: %v)", exit, err)
			case <-time.After(30 * time.Second):
				return nil, fmt.Errorf("server did not stop after its welcome failed: %v", err)
			}
		}
	case err := <-ts.done:
		cancel()
		return nil, fmt.Errorf("server exited: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		return nil, fmt.Errorf("server did not print its welcome")
	}
	tb.Cleanup(ts.Stop)
	return ts, nil
}

// Stop shuts the server down as SIGTERM would.
func (ts *testServer) Stop() {
	if ts.cancel == nil {
		return
	}
	ts.cancel()
	ts.cancel = nil
	<-ts.done
}

// do sends a JSON request with the root key and decodes a JSON answer.
func (ts *testServer) do(tb testing.TB, method, path string, body any, out any) int {
	tb.Helper()
	h := testenv.HTTP{URL: ts.URL, Header: http.Header{"Authorization": {"Bearer " + ts.RootKey}, "X-Request-Note": {"e2e"}}}
	r := h.Do(tb, method, path, body)
	if out != nil && len(r.Body) > 0 {
		r.Decode(tb, out)
	}
	return r.Status
}

// e2eKey is the part of a key answer the end-to-end tests read.
type e2eKey struct {
	ID          int64           `json:"id"`
	Secret      string          `json:"secret"`
	Status      string          `json:"status"`
	Enabled     bool            `json:"enabled"`
	Permissions []string        `json:"permissions"`
	Meta        json.RawMessage `json:"meta"`
}

// e2eVerify is the part of a verify answer the end-to-end tests read.
type e2eVerify struct {
	Valid            bool   `json:"valid"`
	Code             string `json:"code"`
	KeyID            int64  `json:"key_id"`
	CreditsRemaining *int64 `json:"credits_remaining"`
	RateLimit        *struct {
		Limit, Remaining int64
	} `json:"rate_limit"`
}

// verify verifies with the root key and fails unless the call answers 200.
func (ts *testServer) verify(tb testing.TB, body map[string]any) e2eVerify {
	tb.Helper()
	var v e2eVerify
	if st := ts.do(tb, "POST", "/v1/keys/verify", body, &v); st != http.StatusOK {
		tb.Fatalf("verify: got status %d, want 200", st)
	}
	return v
}

// mustCreate creates a key with the root key, remembering its secret.
func (ts *testServer) mustCreate(tb testing.TB, body map[string]any) e2eKey {
	tb.Helper()
	var k e2eKey
	if st := ts.do(tb, "POST", "/v1/keys", body, &k); st != http.StatusCreated {
		tb.Fatalf("create: got status %d, want 201", st)
	}
	ts.issued = append(ts.issued, k.Secret)
	return k
}

// wantCode fails unless the verification answered code.
func wantCode(tb testing.TB, v e2eVerify, code string) {
	tb.Helper()
	if v.Code != code || v.Valid != (code == "VALID") {
		tb.Fatalf("verify: got %s (valid=%v), want %s", v.Code, v.Valid, code)
	}
}

// TestWelcomeCurlLines runs the two curl lines the first start prints, as
// a newcomer pastes them into bash: they must create a key and verify it.
func TestWelcomeCurlLines(t *testing.T) {
	bash, errB := exec.LookPath("bash")
	_, errC := exec.LookPath("curl")
	if errB != nil || errC != nil {
		t.Skip("bash or curl is not installed")
	}
	ts := MustStartServer(t, Config{})
	var script []string
	for _, line := range ts.welcome {
		if l := strings.TrimSpace(line); strings.HasPrefix(l, "KEY=$(curl ") || strings.HasPrefix(l, "curl ") {
			script = append(script, l)
		}
	}
	if len(script) != 2 {
		t.Fatalf("welcome: got %d curl lines, want 2:\n%s", len(script), strings.Join(ts.welcome, "\n"))
	}
	out, err := exec.Command(bash, "-c", strings.Join(script, "\n")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"valid":true`) || !strings.Contains(string(out), `"code":"VALID"`) {
		t.Fatalf("the printed lines: got %v\n%s\nwant a VALID verification", err, out)
	}
}

// mustStatus sends a JSON request with the root key and fails unless the
// answer has the status.
func (ts *testServer) mustStatus(tb testing.TB, want int, method, path string, body any) {
	tb.Helper()
	if st := ts.do(tb, method, path, body, nil); st != want {
		tb.Fatalf("%s %s: got %d, want %d", method, path, st, want)
	}
}

// TestEndToEnd drives the real server over HTTP as a customer would:
// keys, their limits and lifecycle, the audit log and the metrics.
func TestEndToEnd(t *testing.T) {
	ts := MustStartServer(t, Config{LogLevel: "debug", LogFormat: "text"})
	if ts.RootKey == "" {
		t.Fatal("first start printed no root key")
	}
	defer func() {
		ts.Stop()
		logs := ts.logs.String()
		if !strings.Contains(logs, "level=DEBUG") {
			t.Errorf("the server logged nothing at debug level; the secret check below means nothing")
		}
		for _, s := range append(ts.issued, ts.RootKey) {
			if strings.Contains(logs, s) {
				t.Errorf("a secret appears in the server's logs")
			}
		}
	}()

	t.Run("create and verify", func(t *testing.T) {
		ts.mustStatus(t, 201, "POST", "/v1/permissions", map[string]any{"name": "readApplications"})
		k := ts.mustCreate(t, map[string]any{"name": "acme prod", "owner_email": "ops@acme.test",
			"permissions": []string{"readApplications"}, "meta": map[string]any{"plan": "pro"}})
		if !strings.HasPrefix(k.Secret, "lk_") {
			t.Fatalf("secret: got %q, want lk_…", k.Secret)
		}
		v := ts.verify(t, map[string]any{"key": k.Secret, "permissions": []string{"readApplications"}})
		wantCode(t, v, "VALID")
		if v.KeyID != k.ID {
			t.Fatalf("key_id: got %d, want %d", v.KeyID, k.ID)
		}
		wantCode(t, ts.verify(t, map[string]any{"key": k.Secret, "permissions": []string{"writeApplications"}}), "INSUFFICIENT_PERMISSIONS")
		// bad input naming a secret gets a 4xx that repeats no value
		var p struct{ Detail string }
		if st := ts.do(t, "POST", "/v1/keys", map[string]any{"nmae": k.Secret, "meta": k.Secret}, &p); st != 400 || strings.Contains(p.Detail, k.Secret) {
			t.Fatalf("bad create: got %d %q", st, p.Detail)
		}
		// a typo fails the checksum: NOT_FOUND
		typo := k.Secret[:10] + string(k.Secret[10]^1) + k.Secret[11:]
		wantCode(t, ts.verify(t, map[string]any{"key": typo}), "NOT_FOUND")
		// the secret is never in a list
		var list struct{ Data []json.RawMessage }
		ts.do(t, "GET", "/v1/keys", nil, &list)
		all, _ := json.Marshal(list)
		if strings.Contains(string(all), k.Secret) || strings.Contains(string(all), `"secret"`) {
			t.Fatal("list answer contains a secret")
		}
	})

	t.Run("rate limited, then disable, then revoke", func(t *testing.T) {
		k := ts.mustCreate(t, map[string]any{"name": "limited", "rate_limit": map[string]any{"limit": 3, "window_seconds": 3600}})
		for i := 0; i < 3; i++ {
			wantCode(t, ts.verify(t, map[string]any{"key": k.Secret}), "VALID")
		}
		wantCode(t, ts.verify(t, map[string]any{"key": k.Secret}), "RATE_LIMITED")
		ts.mustStatus(t, 200, "PATCH", fmt.Sprintf("/v1/keys/%d", k.ID), map[string]any{"rate_limit": nil})
		wantCode(t, ts.verify(t, map[string]any{"key": k.Secret}), "VALID")

		var got e2eKey
		if st := ts.do(t, "PATCH", fmt.Sprintf("/v1/keys/%d", k.ID), map[string]any{"enabled": false}, &got); st != 200 || got.Status != "disabled" {
			t.Fatalf("disable: got %d %q, want 200 disabled", st, got.Status)
		}
		wantCode(t, ts.verify(t, map[string]any{"key": k.Secret}), "DISABLED")

		if st := ts.do(t, "POST", fmt.Sprintf("/v1/keys/%d/revoke", k.ID), map[string]any{"reason": "test"}, &got); st != 200 || got.Status != "revoked" {
			t.Fatalf("revoke: got %d %q, want 200 revoked", st, got.Status)
		}
		wantCode(t, ts.verify(t, map[string]any{"key": k.Secret}), "REVOKED")
	})

	t.Run("rotate without and with grace", func(t *testing.T) {
		k := ts.mustCreate(t, map[string]any{"name": "rotating"})
		var r1 e2eKey
		if st := ts.do(t, "POST", fmt.Sprintf("/v1/keys/%d/rotate", k.ID), map[string]any{"grace_seconds": 0}, &r1); st != 200 {
			t.Fatalf("rotate: got %d, want 200", st)
		}
		if r1.ID != k.ID || r1.Secret == "" || r1.Secret == k.Secret {
			t.Fatalf("rotate: got id %d secret %t, want same id and a new secret", r1.ID, r1.Secret != "")
		}
		wantCode(t, ts.verify(t, map[string]any{"key": k.Secret}), "EXPIRED")
		wantCode(t, ts.verify(t, map[string]any{"key": r1.Secret}), "VALID")

		var r2 e2eKey
		if st := ts.do(t, "POST", fmt.Sprintf("/v1/keys/%d/rotate", k.ID), map[string]any{"grace_seconds": 5}, &r2); st != 200 || r2.ID != k.ID || r2.Secret == "" {
			t.Fatalf("rotate with grace: got %d id %d, want 200, the same id and a new secret", st, r2.ID)
		}
		ts.issued = append(ts.issued, r1.Secret, r2.Secret)
		wantCode(t, ts.verify(t, map[string]any{"key": r2.Secret}), "VALID")
		// the old secret lives out its grace (5 s: it still verifies now),
		// then answers EXPIRED
		wantCode(t, ts.verify(t, map[string]any{"key": r1.Secret}), "VALID")
		deadline := time.Now().Add(30 * time.Second)
		for ts.verify(t, map[string]any{"key": r1.Secret}).Code != "EXPIRED" {
			if time.Now().After(deadline) {
				t.Fatal("old secret still verifies long after its grace")
			}
			time.Sleep(100 * time.Millisecond)
		}
		wantCode(t, ts.verify(t, map[string]any{"key": r2.Secret}), "VALID")
	})

	t.Run("devices", func(t *testing.T) {
		k := ts.mustCreate(t, map[string]any{"name": "two devices", "max_devices": 2})
		wantCode(t, ts.verify(t, map[string]any{"key": k.Secret, "device_id": "laptop"}), "VALID")
		wantCode(t, ts.verify(t, map[string]any{"key": k.Secret, "device_id": "phone"}), "VALID")
		wantCode(t, ts.verify(t, map[string]any{"key": k.Secret, "device_id": "tablet"}), "DEVICE_LIMIT_EXCEEDED")
		wantCode(t, ts.verify(t, map[string]any{"key": k.Secret, "device_id": "laptop"}), "VALID")
		var devs struct {
			Data []struct {
				DeviceID string `json:"device_id"`
			}
		}
		if st := ts.do(t, "GET", fmt.Sprintf("/v1/keys/%d/devices", k.ID), nil, &devs); st != 200 {
			t.Fatalf("devices: got %d, want 200", st)
		}
		if len(devs.Data) != 2 {
			t.Fatalf("devices: got %d, want 2", len(devs.Data))
		}
		// lowering the limit evicts nobody
		ts.mustStatus(t, 200, "PATCH", fmt.Sprintf("/v1/keys/%d", k.ID), map[string]any{"max_devices": 1})
		wantCode(t, ts.verify(t, map[string]any{"key": k.Secret, "device_id": "phone"}), "VALID")
		if st := ts.do(t, "DELETE", fmt.Sprintf("/v1/keys/%d/devices/phone", k.ID), nil, nil); st != http.StatusNoContent {
			t.Fatalf("delete device: got %d, want 204", st)
		}
		ts.mustStatus(t, http.StatusNoContent, "DELETE", fmt.Sprintf("/v1/keys/%d/devices/laptop", k.ID), nil)
		wantCode(t, ts.verify(t, map[string]any{"key": k.Secret, "device_id": "tablet"}), "VALID")
		wantCode(t, ts.verify(t, map[string]any{"key": k.Secret, "device_id": "phone"}), "DEVICE_LIMIT_EXCEEDED")
	})

	t.Run("credits", func(t *testing.T) {
		k := ts.mustCreate(t, map[string]any{"name": "metered", "credits": map[string]any{"remaining": 3}})
		v := ts.verify(t, map[string]any{"key": k.Secret, "cost": 2})
		wantCode(t, v, "VALID")
		if v.CreditsRemaining == nil || *v.CreditsRemaining != 1 {
			t.Fatalf("credits_remaining: got %v, want 1", v.CreditsRemaining)
		}
		wantCode(t, ts.verify(t, map[string]any{"key": k.Secret, "cost": 2}), "USAGE_EXCEEDED")
		peek := ts.verify(t, map[string]any{"key": k.Secret, "cost": 0})
		wantCode(t, peek, "VALID")
		if *peek.CreditsRemaining != 1 {
			t.Fatalf("peek: got %d, want 1 (nothing spent)", *peek.CreditsRemaining)
		}
		wantCode(t, ts.verify(t, map[string]any{"key": k.Secret}), "VALID")
		wantCode(t, ts.verify(t, map[string]any{"key": k.Secret}), "USAGE_EXCEEDED")
		// the spend is written behind: the key reads 0 remaining within a few flushes
		deadline := time.Now().Add(15 * time.Second)
		for {
			var got struct {
				Credits struct{ Remaining int64 } `json:"credits"`
			}
			ts.do(t, "GET", fmt.Sprintf("/v1/keys/%d", k.ID), nil, &got)
			if got.Credits.Remaining == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("credits never flushed: remaining %d", got.Credits.Remaining)
			}
			time.Sleep(100 * time.Millisecond)
		}
		// an admin top-up takes effect at once
		ts.mustStatus(t, 200, "PATCH", fmt.Sprintf("/v1/keys/%d", k.ID), map[string]any{"credits": map[string]any{"remaining": 10}})
		wantCode(t, ts.verify(t, map[string]any{"key": k.Secret}), "VALID")
	})

	t.Run("audit names the root key", func(t *testing.T) {
		var events struct {
			Data []struct {
				Action    string `json:"action"`
				ActorKind string `json:"actor_kind"`
			}
		}
		if st := ts.do(t, "GET", "/v1/audit?limit=100", nil, &events); st != 200 {
			t.Fatalf("audit: got %d", st)
		}
		if len(events.Data) == 0 || events.Data[0].ActorKind != "root_key" {
			t.Fatalf("audit: got %+v, want events by root_key", events.Data)
		}
	})
}
