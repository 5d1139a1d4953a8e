package main

import (
	"bytes"
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestConfigPrecedenceAndValidate checks that flags beat variables and
// that Validate names each bad setting.
func TestConfigPrecedenceAndValidate(t *testing.T) {
	env := map[string]string{"LATCHKEY_LISTEN": "127.0.0.1:9000", "LATCHKEY_DATABASE_URL": "env.db"}
	cmd := newServeCmd(&bytes.Buffer{}, &bytes.Buffer{}, func(k string) string { return env[k] })
	if err := cmd.ParseFlags([]string{"--database-url", "flag.db"}); err != nil {
		t.Fatal(err)
	}
	if got := cmd.Flags().Lookup("listen").Value.String(); got != "127.0.0.1:9000" {
		t.Fatalf("listen: got %q, want the variable's 127.0.0.1:9000", got)
	}
	if got := cmd.Flags().Lookup("database-url").Value.String(); got != "flag.db" {
		t.Fatalf("database-url: got %q, want the flag's flag.db", got)
	}

	for _, tt := range []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"defaults", func(*Config) {}, ""},
		{"listen", func(c *Config) { c.Listen = "8080" }, "LATCHKEY_LISTEN"},
		{"database", func(c *Config) { c.DatabaseURL = " " }, "LATCHKEY_DATABASE_URL"},
		{"redis scheme", func(c *Config) { c.RedisURL = "http://x" }, "LATCHKEY_REDIS_URL"},
		{"redis", func(c *Config) { c.RedisURL = "redis://127.0.0.1:6379/0" }, ""},
		{"short admin secret", func(c *Config) { c.AdminSecret = "short" }, "LATCHKEY_ADMIN_SECRET"},
		{"log level", func(c *Config) { c.LogLevel = "loud" }, "LATCHKEY_LOG_LEVEL"},
		{"log format", func(c *Config) { c.LogFormat = "xml" }, "LATCHKEY_LOG_FORMAT"},
		{"secret key hex", func(c *Config) { c.SecretKey = strings.Repeat("ab", 32) }, ""},
		{"secret key short", func(c *Config) { c.SecretKey = "abcd" }, "LATCHKEY_SECRET_KEY"},
		{"secret key garbage", func(c *Config) { c.SecretKey = "not a key!" }, "LATCHKEY_SECRET_KEY"},
		{"cache max age", func(c *Config) { c.CacheMaxAge = "forever" }, "LATCHKEY_CACHE_MAX_AGE"},
		{"cache max age zero", func(c *Config) { c.CacheMaxAge = "0s" }, "LATCHKEY_CACHE_MAX_AGE"},
		{"store timeout", func(c *Config) { c.StoreTimeout = "-1s" }, "LATCHKEY_STORE_TIMEOUT"},
		{"trusted proxies", func(c *Config) { c.TrustedProxies = "10.0.0.0/8, 192.0.2.1 ::1" }, ""},
		{"trusted proxies bad", func(c *Config) { c.TrustedProxies = "10.0.0.0/33" }, "LATCHKEY_TRUSTED_PROXIES"},
		{"fail closed", func(c *Config) { c.RedisFailClosed = "maybe" }, "LATCHKEY_REDIS_FAIL_CLOSED"},
		{"warm keys", func(c *Config) { c.WarmKeys = "500" }, ""},
		{"warm keys off", func(c *Config) { c.WarmKeys = "0" }, ""},
		{"warm keys negative", func(c *Config) { c.WarmKeys = "-1" }, "LATCHKEY_WARM_KEYS"},
		{"warm keys garbage", func(c *Config) { c.WarmKeys = "lots" }, "LATCHKEY_WARM_KEYS"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.mutate(&c)
			err := c.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error naming %s", err, tt.want)
			}
		})
	}
}

// TestCLIAgainstServer runs the keys commands in-process against a real
// server.
func TestCLIAgainstServer(t *testing.T) {
	ts := MustStartServer(t, Config{})
	run := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		cmd := newRootCmd(&out, &out, func(k string) string {
			return map[string]string{"LATCHKEY_SERVER": ts.URL, "LATCHKEY_ROOT_KEY": ts.RootKey}[k]
		})
		cmd.SetArgs(args)
		if err := cmd.Execute(); err != nil {
			t.Fatalf("latchkey %v: %v\n%s", args, err, out.String())
		}
		return out.String()
	}
	out := run("keys", "create", "--name", "cli key", "--owner-email", "cli@acme.test", "--rate-limit", "10")
	i := strings.Index(out, "secret (shown once): ")
	if i < 0 {
		t.Fatalf("create printed no secret:\n%s", out)
	}
	secret := strings.TrimSpace(out[i+len("secret (shown once): "):])
	if got := run("keys", "verify", secret); !strings.HasPrefix(got, "VALID") {
		t.Fatalf("verify: got %q", got)
	}
	if got := run("keys", "list", "-o", "json"); !strings.Contains(got, `"cli key"`) || strings.Contains(got, secret) {
		t.Fatalf("list: got %q, want the key without its secret", got)
	}
	if got := run("keys", "--help"); strings.Contains(got, ts.RootKey) {
		t.Fatalf("--help shows the root key from the environment:\n%s", got)
	}
	var vout bytes.Buffer
	vcmd := newRootCmd(&vout, &vout, func(k string) string {
		return map[string]string{"LATCHKEY_SERVER": ts.URL, "LATCHKEY_ROOT_KEY": ts.RootKey}[k]
	})
	vcmd.SetArgs([]string{"keys", "verify", mustNewSecret()})
	if err := vcmd.Execute(); err == nil || !strings.Contains(vout.String(), "NOT_FOUND") {
		t.Fatalf("verify of an unknown key: got err %v, output %q; want NOT_FOUND and a failing exit", err, vout.String())
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--rate-limit", "-5"}, "--rate-limit must not be negative"},
		{[]string{"--rate-limit", "5", "--rate-window", "1500ms"}, "--rate-window must be a whole number of seconds"},
	} {
		var out bytes.Buffer
		cmd := newRootCmd(&out, &out, func(k string) string {
			return map[string]string{"LATCHKEY_SERVER": ts.URL, "LATCHKEY_ROOT_KEY": ts.RootKey}[k]
		})
		cmd.SetArgs(append([]string{"keys", "create", "--name", "bad"}, tt.args...))
		if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("keys create %v: got %v, want an error saying %q", tt.args, err, tt.want)
		}
	}
	if got := run("keys", "list", "-o", "json"); strings.Contains(got, `"bad"`) {
		t.Errorf("a refused create made a key: %s", got)
	}
}

// TestFirstStartOnATakenPort checks that a first start that cannot listen
// creates nothing, so the next start still shows the root key.
func TestFirstStartOnATakenPort(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	db := filepath.Join(t.TempDir(), "latchkey.db")
	cfg := DefaultConfig()
	cfg.Listen, cfg.DatabaseURL = taken.Addr().String(), db
	var out, logs bytes.Buffer
	err = serve(context.Background(), cfg, &out, &logs)
	if err == nil || !strings.Contains(err.Error(), "listen on") {
		t.Fatalf("serve on a taken port: got %v, want a listen error", err)
	}
	if strings.Contains(out.String(), "lk_") {
		t.Fatalf("a failed start printed a key: %q", out.String())
	}
	ts := MustStartServer(t, Config{DatabaseURL: db})
	if ts.RootKey == "" {
		t.Fatal("the next start did not show the root key")
	}
}

// TestCLIServerURL checks that a server address without a scheme is named
// as the problem.
func TestCLIServerURL(t *testing.T) {
	var out bytes.Buffer
	cmd := newRootCmd(&out, &out, func(k string) string {
		return map[string]string{"LATCHKEY_SERVER": "localhost:8080", "LATCHKEY_ROOT_KEY": "lk_x"}[k]
	})
	cmd.SetArgs([]string{"keys", "list"})
	if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), "want a URL like http://") {
		t.Fatalf("got %v, want an error naming the URL form", err)
	}
}

// TestFirstStartWithRedisDown checks that a first start whose Redis does not
// answer fails before it creates the root key, which the next start shows.
func TestFirstStartWithRedisDown(t *testing.T) {
	db := filepath.Join(t.TempDir(), "latchkey.db")
	cfg := DefaultConfig()
	cfg.Listen, cfg.DatabaseURL, cfg.RedisURL = "127.0.0.1:0", db, "redis://127.0.0.1:1/0"
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out, logs bytes.Buffer
	if err := serve(ctx, cfg, &out, &logs); err == nil || !strings.Contains(err.Error(), "LATCHKEY_REDIS_URL") {
		t.Fatalf("serve with Redis down: got %v, want an error naming LATCHKEY_REDIS_URL", err)
	}
	if ts := MustStartServer(t, Config{DatabaseURL: db}); ts.RootKey == "" {
		t.Fatal("the next start did not show the root key")
	}
}

// TestSecretsStayOutOfHelpAndErrors checks that secret settings from the
// environment are not shown as flag defaults by --help, and that a bad
// Redis URL is refused without repeating it.
func TestSecretsStayOutOfHelpAndErrors(t *testing.T) {
	env := map[string]string{
		"LATCHKEY_ADMIN_SECRET": "operator-secret-0123456789",
		"LATCHKEY_REDIS_URL":    "redis://:redis-pass-42@127.0.0.1:6379/0",
		"LATCHKEY_DATABASE_URL": "postgres://lk:db-pass-42@db.internal/latchkey",
	}
	var out bytes.Buffer
	cmd := newRootCmd(&out, &out, func(k string) string { return env[k] })
	cmd.SetArgs([]string{"serve", "--help"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"operator-secret-0123456789", "redis-pass-42", "db-pass-42"} {
		if strings.Contains(out.String(), secret) {
			t.Errorf("serve --help shows %q from the environment", secret)
		}
	}
	c := DefaultConfig()
	c.RedisURL = "redis://default:Sup3r%Secret@127.0.0.1:6379/0"
	if err := c.Validate(); err == nil || strings.Contains(err.Error(), "Sup3r") {
		t.Errorf("bad Redis URL: got %v, want an error without the password", err)
	}
}
