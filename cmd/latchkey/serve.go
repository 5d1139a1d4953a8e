package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"time"

	"github.com/latchkey/latchkey"
	lkhttp "github.com/latchkey/latchkey/internal/http"
	"github.com/latchkey/latchkey/internal/http/auth"
	"github.com/latchkey/latchkey/internal/http/compat"
	"github.com/latchkey/latchkey/internal/http/httpx"
	"github.com/latchkey/latchkey/internal/http/ui"
	"github.com/latchkey/latchkey/internal/inmem"
	"github.com/latchkey/latchkey/internal/password"
	"github.com/latchkey/latchkey/internal/redis"
	"github.com/latchkey/latchkey/internal/sqldb"
	"github.com/spf13/cobra"
)

// newServeCmd is `latchkey serve`, every setting of Config a flag.
func newServeCmd(stdout, stderr io.Writer, getenv func(string) string) *cobra.Command {
	cmd, cfg := configCmd("serve", "Run the Latchkey server (applies migrations first)", getenv,
		func(ctx context.Context, cfg *Config) error {
			if err := cfg.Validate(); err != nil {
				return err
			}
			return serve(ctx, *cfg, stdout, stderr)
		})
	cfg.BindFlags(cmd.Flags())
	return cmd
}

// newMigrateCmd is `latchkey migrate`: the store's schema brought up to
// date, without serving.
func newMigrateCmd(stdout, stderr io.Writer, getenv func(string) string) *cobra.Command {
	cmd, cfg := configCmd("migrate", "Apply the store's schema migrations and exit", getenv,
		func(ctx context.Context, cfg *Config) error {
			store, err := sqldb.Open(ctx, cfg.DatabaseURL, latchkey.SystemClock)
			if err != nil {
				return err
			}
			defer store.Close()
			if err := store.Migrate(ctx); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "migrations applied to %s\n", redactDSN(cfg.DatabaseURL))
			return nil
		})
	cmd.Flags().StringVar(&cfg.DatabaseURL, "database-url", cfg.DatabaseURL, "SQLite file path or postgres:// URL [LATCHKEY_DATABASE_URL]")
	return cmd
}

// configCmd is a command that works on the server's Config: the defaults,
// then the LATCHKEY_* variables, then the flags the caller binds on cfg.
func configCmd(use, short string, getenv func(string) string, run func(ctx context.Context, cfg *Config) error) (*cobra.Command, *Config) {
	cfg := DefaultConfig()
	cfg.LoadEnv(getenv)
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return run(cmd.Context(), &cfg) },
	}, &cfg
}

// serve runs the server until ctx is done, then drains requests and
// flushes the write-behind buffers. Each step is a function below.
func serve(ctx context.Context, cfg Config, stdout, stderr io.Writer) error {
	logger := newLogger(stderr, cfg)
	store, err := openStore(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer store.Close()
	deps, err := openDeps(ctx, cfg, store, logger)
	if err != nil {
		return err
	}
	defer deps.close()
	// Listen before the first-start bootstrap: a root key created by a
	// start that then fails (the port taken) would never be shown.
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	defer ln.Close()
	if err := checkFirstStartFile(ctx, stdout, cfg, store); err != nil {
		return err
	}
	started := time.Now()
	boot, err := store.Bootstrap(ctx)
	if err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	verifier, stopVerifier := startVerifier(cfg, store, deps, logger)
	srv := &http.Server{
		Handler:           newHandler(cfg, store, deps, verifier, logger),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slogErrorLog(logger),
	}
	base := "http://" + ln.Addr().String()
	printWelcome(stdout, base, cfg)
	if err := showStart(ctx, stdout, base, cfg, store, boot, started); err != nil {
		return errors.Join(err, stopVerifier())
	}
	fmt.Fprintln(stdout, stopHint)
	logger.Info("serving", "addr", ln.Addr().String(), "version", latchkey.Version)
	err = runUntilDone(ctx, srv, ln, logger)
	err = errors.Join(err, stopVerifier())
	logger.Info("stopped")
	return err
}

// openStore opens the store cfg names and brings its schema up to date.
// The caller closes it.
func openStore(ctx context.Context, cfg Config, logger *slog.Logger) (*sqldb.Store, error) {
	store, err := sqldb.Open(ctx, cfg.DatabaseURL, latchkey.SystemClock, sqldb.WithTimeout(cfg.storeTimeout()), sqldb.WithLogger(logger))
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	if err := store.Migrate(ctx); err != nil {
		store.Close()
		return nil, fmt.Errorf("migrate: %w", err)
	}
	return store, nil
}

// deps are what the verifier and the handler share beside the store: the
// server's secret key, the trusted proxies, the counters (in memory, or in
// Redis for every instance) and the readiness checks.
type deps struct {
	secretKey    []byte
	proxies      []netip.Prefix
	limiter      *inmem.RateLimiter
	loginLimiter latchkey.RateLimiter
	redis        *redis.Client // nil without LATCHKEY_REDIS_URL
	checks       []lkhttp.Check
}

// openDeps reads the secret key and connects to Redis when cfg names it.
// Rate limits and credits are counted in memory by this instance, or
// shared through Redis by every instance (and counted in memory only while
// Redis is down).
func openDeps(ctx context.Context, cfg Config, store *sqldb.Store, logger *slog.Logger) (*deps, error) {
	var d deps
	var err error
	if d.secretKey, err = serverSecretKey(ctx, cfg, store); err != nil {
		return nil, err
	}
	if d.proxies, err = cfg.trustedProxies(); err != nil {
		return nil, err
	}
	d.checks = []lkhttp.Check{{Name: "store", Check: store.Ping}}
	if store.FeedStatus().Shared {
		d.checks = append(d.checks, lkhttp.Check{Name: "feed", Check: feedCheck(store)})
	}
	d.limiter = inmem.NewRateLimiter()
	d.loginLimiter = inmem.NewRateLimiter()
	if cfg.RedisURL != "" {
		d.redis, err = redis.Open(ctx, cfg.RedisURL, redis.Options{Prefix: redisPrefix(d.secretKey), Logger: logger})
		if err != nil {
			return nil, fmt.Errorf("LATCHKEY_REDIS_URL: %w", err)
		}
		d.loginLimiter = d.redis.RateLimiter("login", d.loginLimiter)
		d.checks = append(d.checks, lkhttp.Check{Name: "redis", Check: d.redis.Ping, Degraded: true})
	}
	return &d, nil
}

// close closes the Redis client, if any.
func (d *deps) close() {
	if d.redis != nil {
		d.redis.Close()
	}
}

// startVerifier builds the verifier on the store and starts its
// background work: the change feed's evictions, the usage flush and the
// store's maintenance. stop ends that work and flushes the last usage.
func startVerifier(cfg Config, store *sqldb.Store, d *deps, logger *slog.Logger) (v *inmem.Verifier, stop func() error) {
	v = inmem.NewVerifier(store, d.limiter, latchkey.SystemClock, logger)
	v.MaxAge = cfg.cacheMaxAge()
	v.LoadTimeout = cfg.storeTimeout()
	if d.redis != nil {
		v.Shared = d.redis.Counters(cfg.redisFailClosed())
	}
	cancelFeed := store.Subscribe(v.Invalidate)
	runCtx, stopRun := context.WithCancel(context.Background())
	runDone := make(chan struct{})
	go func() { defer close(runDone); v.Run(runCtx) }()
	go maintain(runCtx, store, logger)
	go warm(runCtx, store, v, cfg.warmKeys(), logger)
	return v, func() error {
		defer cancelFeed()
		stopRun()
		<-runDone
		closeCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := v.Close(closeCtx); err != nil {
			logger.Error("final usage flush failed", "err", err)
			return err
		}
		return nil
	}
}

// warm loads the n most recently used keys into the cache in the
// background, beside the first requests (readiness does not wait for it),
// so a restarted or newly deployed instance does not answer its busiest
// keys cold.
func warm(ctx context.Context, store *sqldb.Store, v *inmem.Verifier, n int, logger *slog.Logger) {
	if n <= 0 {
		return
	}
	hashes, err := store.RecentSecretHashes(ctx, n)
	if err != nil {
		logger.Warn("cache warm-up skipped", "err", err)
		return
	}
	logger.Info("cache warmed", "keys", v.Warm(ctx, hashes), "of", len(hashes))
}

// newHandler builds the native API, the seed surfaces and the web UI on
// the services, all authenticating through one Authenticator.
func newHandler(cfg Config, store *sqldb.Store, d *deps, verifier *inmem.Verifier, logger *slog.Logger) http.Handler {
	clock := latchkey.SystemClock
	authn := &auth.Authenticator{
		Verifier:       verifier,
		Accounts:       store,
		Users:          store,
		Sessions:       store,
		Setup:          store,
		Passwords:      password.New(),
		LoginLimiter:   d.loginLimiter,
		SecretKey:      d.secretKey,
		AdminSecret:    cfg.AdminSecret,
		TrustedProxies: d.proxies,
		Clock:          clock,
	}
	api := &lkhttp.Server{
		Keys:        store,
		Permissions: store,
		Audit:       store,
		Accounts:    store,
		Verifier:    verifier,
		Users:       store,
		Auth:        authn,
		Checks:      d.checks,
		Logger:      logger,
		Clock:       clock,
		UIPath:      "/admin",
	}
	if d.redis != nil {
		api.RedisUp = d.redis.Up
	}
	if store.FeedStatus().Shared {
		api.Feed = store.FeedStatus // one instance on SQLite has no feed to report
	}
	api.Surfaces = []lkhttp.Surface{
		&compat.Surfaces{Auth: authn, Keys: store, Logger: logger, Clock: clock},
		&ui.UI{Auth: authn, Keys: store, Permissions: store, Audit: store, Accounts: store, Users: store, Logger: logger, Clock: clock},
	}
	return api.Handler()
}

// runUntilDone serves on ln until ctx is done or the server fails, then
// lets the requests in flight finish (15 s at most).
func runUntilDone(ctx context.Context, srv *http.Server, ln net.Listener, logger *slog.Logger) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	var err error
	select {
	case err = <-errc:
	case <-ctx.Done():
		logger.Info("shutting down")
		shutCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		err = srv.Shutdown(shutCtx)
		cancel()
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// redisPrefix names a store's counters in Redis: the same for every
// instance on the store (they share its secret key), different for another
// deployment on the same Redis, and telling nothing of the key.
func redisPrefix(secretKey []byte) string {
	m := hmac.New(sha256.New, secretKey)
	m.Write([]byte("latchkey redis prefix"))
	return "latchkey:" + hex.EncodeToString(m.Sum(nil)[:8])
}

// serverSecretKey returns LATCHKEY_SECRET_KEY when it is set, else the key
// the store generated at its first start.
func serverSecretKey(ctx context.Context, cfg Config, store *sqldb.Store) ([]byte, error) {
	if cfg.SecretKey != "" {
		return cfg.secretKey()
	}
	key, err := store.SecretKey(ctx)
	if err != nil {
		return nil, fmt.Errorf("read secret key: %w", err)
	}
	return key, nil
}

// feedCheck reports the change feed down while it does not hear the store.
func feedCheck(store *sqldb.Store) func(context.Context) error {
	return func(context.Context) error {
		if st := store.FeedStatus(); !st.Connected {
			return latchkey.Errorf(latchkey.EUNAVAILABLE, "the change feed is down: changes made on other instances are not heard until it is back")
		}
		return nil
	}
}

// maintain trims the change log every minute and deletes long-dead session
// families and their rotated refresh tokens every hour, until ctx is done.
func maintain(ctx context.Context, store *sqldb.Store, logger *slog.Logger) {
	go every(ctx, time.Minute, func() {
		if _, err := store.TrimChanges(ctx); err != nil {
			logger.Warn("trimming the change log failed", "err", err)
		}
	})
	every(ctx, time.Hour, func() {
		if n, err := store.PruneSessions(ctx, 7*24*time.Hour); err != nil {
			logger.Warn("pruning sessions failed", "err", err)
		} else if n > 0 {
			logger.Info("pruned expired sessions", "rows", n)
		}
	})
}

// every calls fn every d until ctx is done.
func every(ctx context.Context, d time.Duration, fn func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}

// printWelcome tells a newcomer where the server is and what it offers.
// What the first start shows once follows it (showStart), then stopHint.
func printWelcome(w io.Writer, base string, cfg Config) {
	limits := "in memory, per instance"
	if cfg.RedisURL != "" {
		limits = "shared in Redis"
	}
	fmt.Fprintf(w, "Latchkey %s listening on %s (store: %s; rate limits and credits: %s)\n", latchkey.Version, base, redactDSN(cfg.DatabaseURL), limits)
	fmt.Fprintf(w, "  web UI: %s/admin   API description: %s/openapi.json   health: %s/healthz   metrics: %s/metrics\n", base, base, base, base)
	if u, err := url.Parse(base); err == nil && !httpx.IsLoopback(u.Host) {
		fmt.Fprintln(w, "  note: browsers keep the web UI's cookies only over HTTPS or on localhost; put TLS in front (README, Deploying) before signing in from another machine.")
	}
}

// stopHint ends the welcome text.
const stopHint = "Stop with Ctrl-C (SIGTERM also drains requests and flushes usage)."

// redactDSN hides a password in a postgres:// URL.
func redactDSN(dsn string) string {
	if u, err := parseURL(dsn); err == nil && u.User != nil {
		if _, ok := u.User.Password(); ok {
			return u.Redacted()
		}
	}
	return dsn
}
