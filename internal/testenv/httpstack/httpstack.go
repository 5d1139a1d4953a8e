// Package httpstack serves the whole HTTP surface (the native API, the
// seed surfaces and the web UI) on a real store, migrated and
// bootstrapped, wired as latchkey serve wires it. It is the fixture of the
// suites that drive every route end to end: internal/http's,
// internal/http/compat's and internal/http/ui's (from their external test
// packages, so no import cycle). Only tests import it.
package httpstack

import (
	"context"
	"log/slog"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/latchkey/latchkey"
	lkhttp "github.com/latchkey/latchkey/internal/http"
	"github.com/latchkey/latchkey/internal/http/auth"
	"github.com/latchkey/latchkey/internal/http/compat"
	"github.com/latchkey/latchkey/internal/http/ui"
	"github.com/latchkey/latchkey/internal/inmem"
	"github.com/latchkey/latchkey/internal/password"
	"github.com/latchkey/latchkey/internal/sqldb"
	"github.com/latchkey/latchkey/internal/testenv"
)

// Options are what the suites wire differently.
type Options struct {
	// AdminSecret is the operator's X-Admin-Secret.
	AdminSecret string
	// LoginLimiter throttles sign-in; nil does not throttle it.
	LoginLimiter latchkey.RateLimiter
	// Passwords hashes passwords; nil is argon2id with production costs.
	Passwords latchkey.PasswordHasher
}

// Stack is one server on one fresh store.
type Stack struct {
	Handler  http.Handler
	Logs     *testenv.Buffer // all the server logged, debug and up
	Boot     *sqldb.Bootstrap
	Store    *sqldb.Store
	Verifier *inmem.Verifier // Flush writes its usage behind at once
}

// New serves everything on the store at dsn, which it migrates and
// bootstraps; the store and the verifier close when the test ends, and a
// failed test logs what the server logged.
func New(tb testing.TB, dsn string, opts Options) *Stack {
	tb.Helper()
	ctx := context.Background()
	st := &Stack{Logs: &testenv.Buffer{}}
	logger := slog.New(slog.NewTextHandler(st.Logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("server log:\n%s", st.Logs)
		}
	})
	store, err := sqldb.Open(ctx, dsn, latchkey.SystemClock)
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() { store.Close() })
	if err := store.Migrate(ctx); err != nil {
		tb.Fatalf("migrate: %v", err)
	}
	if st.Boot, err = store.Bootstrap(ctx); err != nil || st.Boot == nil {
		tb.Fatalf("bootstrap: got %v, %v, want a root key", st.Boot, err)
	}
	secretKey, err := store.SecretKey(ctx)
	if err != nil {
		tb.Fatalf("secret key: %v", err)
	}
	verifier := inmem.NewVerifier(store, inmem.NewRateLimiter(), latchkey.SystemClock, logger)
	tb.Cleanup(func() { verifier.Close(context.Background()) })
	tb.Cleanup(store.Subscribe(verifier.Invalidate)) // a change is heard at once, as serve wires it
	if opts.Passwords == nil {
		opts.Passwords = password.New()
	}
	authn := &auth.Authenticator{Verifier: verifier, Accounts: store, Users: store, Sessions: store, Setup: store,
		Passwords: opts.Passwords, LoginLimiter: opts.LoginLimiter, SecretKey: secretKey, AdminSecret: opts.AdminSecret}
	api := &lkhttp.Server{Keys: store, Permissions: store, Audit: store, Accounts: store, Verifier: verifier,
		Users: store, Auth: authn, Logger: logger, UIPath: "/admin"}
	api.Surfaces = []lkhttp.Surface{
		&compat.Surfaces{Auth: authn, Keys: store, Logger: logger},
		&ui.UI{Auth: authn, Keys: store, Permissions: store, Audit: store, Accounts: store, Users: store, Logger: logger},
	}
	st.Handler, st.Store, st.Verifier = api.Handler(), store, verifier
	return st
}

// SQLiteDSN returns a fresh SQLite file for one test.
func SQLiteDSN(tb testing.TB) string { return filepath.Join(tb.TempDir(), "latchkey.db") }

// EachStore runs fn with a fresh SQLite file and with a fresh schema of
// the PostgreSQL at LATCHKEY_TEST_POSTGRES_URL (skipped without it,
// failing under CI=true), each as a subtest.
func EachStore(t *testing.T, fn func(t *testing.T, dsn string)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLiteDSN(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, testenv.PostgresDSN(t)) })
}
