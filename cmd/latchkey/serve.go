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
	"time"

	"github.com/latchkey/latchkey"
	lkhttp "github.com/latchkey/latchkey/internal/http"
	"github.com/latchkey/latchkey/internal/http/auth"
	"github.com/latchkey/latchkey/internal/http/compat"
	"github.com/latchkey/latchkey/internal/inmem"
	"github.com/latchkey/latchkey/internal/password"
	"github.com/latchkey/latchkey/internal/redis"
	"github.com/latchkey/latchkey/internal/sqldb"
	"github.com/spf13/cobra"
)

func newServeCmd(stdout, stderr io.Writer, getenv func(string) string) *cobra.Command {
	cfg := DefaultConfig()
	cfg.LoadEnv(getenv)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the Latchkey server (applies migrations first)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cfg.Validate(); err != nil {
				return err
			}
			return serve(cmd.Context(), cfg, stdout, stderr)
		},
	}
	cfg.BindFlags(cmd.Flags())
	return cmd
}

func newMigrateCmd(stdout, stderr io.Writer, getenv func(string) string) *cobra.Command {
	cfg := DefaultConfig()
	cfg.LoadEnv(getenv)
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply the store's schema migrations and exit",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			store, err := sqldb.Open(cmd.Context(), cfg.DatabaseURL, latchkey.SystemClock)
			if err != nil {
				return err
			}
			defer store.Close()
			if err := store.Migrate(cmd.Context()); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "migrations applied to %s\n", redactDSN(cfg.DatabaseURL))
			return nil
		},
	}
	cmd.Flags().StringVar(&cfg.DatabaseURL, "database-url", cfg.DatabaseURL, "SQLite file path or postgres:// URL [LATCHKEY_DATABASE_URL]")
	return cmd
}

// serve runs the server until ctx is done, then drains requests and
// flushes the write-behind buffers.
func serve(ctx context.Context, cfg Config, stdout, stderr io.Writer) error {
	logger := newLogger(stderr, cfg)
	clock := latchkey.SystemClock

	store, err := sqldb.Open(ctx, cfg.DatabaseURL, clock, sqldb.WithTimeout(cfg.storeTimeout()), sqldb.WithLogger(logger))
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	defer store.Close()
	if err := store.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	secretKey, err := serverSecretKey(ctx, cfg, store)
	if err != nil {
		return err
	}
	proxies, err := cfg.trustedProxies()
	if err != nil {
		return err
	}
	checks := []lkhttp.Check{{Name: "store", Check: store.Ping}}
	if store.FeedStatus().Shared {
		checks = append(checks, lkhttp.Check{Name: "feed", Check: feedCheck(store)})
	}
	// Rate limits and credits: counted in memory by this instance, or
	// shared through Redis by every instance (and counted in memory only
	// while Redis is down).
	limiter := inmem.NewRateLimiter()
	var loginLimiter latchkey.RateLimiter = inmem.NewRateLimiter()
	var rc *redis.Client
	if cfg.RedisURL != "" {
		rc, err = redis.Open(ctx, cfg.RedisURL, redis.Options{Prefix: redisPrefix(secretKey), Logger: logger})
		if err != nil {
			return fmt.Errorf("LATCHKEY_REDIS_URL: %w", err)
		}
		defer rc.Close()
		loginLimiter = rc.RateLimiter("login", loginLimiter)
		checks = append(checks, lkhttp.Check{Name: "redis", Check: rc.Ping, Degraded: true})
	}
	// Listen before the first-start bootstrap: a root key created by a
	// start that then fails (the port taken) would never be shown.
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	defer ln.Close()
	boot, err := store.Bootstrap(ctx)
	if err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}

	verifier := inmem.NewVerifier(store, limiter, clock, logger)
	verifier.MaxAge = cfg.cacheMaxAge()
	verifier.LoadTimeout = cfg.storeTimeout()
	if rc != nil {
		verifier.Shared = rc.Counters(cfg.redisFailClosed())
	}
	cancelFeed := store.Subscribe(verifier.Invalidate)
	defer cancelFeed()
	runCtx, stopRun := context.WithCancel(context.Background())
	runDone := make(chan struct{})
	go func() { defer close(runDone); verifier.Run(runCtx) }()
	go maintain(runCtx, store, logger)

	authn := &auth.Authenticator{
		Verifier:       verifier,
		Accounts:       store,
		Users:          store,
		Sessions:       store,
		Passwords:      password.New(),
		LoginLimiter:   loginLimiter,
		SecretKey:      secretKey,
		AdminSecret:    cfg.AdminSecret,
		TrustedProxies: proxies,
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
		Checks:      checks,
		Logger:      logger,
		Clock:       clock,
	}
	if rc != nil {
		api.RedisUp = rc.Up
	}
	if store.FeedStatus().Shared {
		api.Feed = store.FeedStatus // one instance on SQLite has no feed to report
	}
	api.Surfaces = []lkhttp.Surface{&compat.Surfaces{Auth: authn, Keys: store, Logger: logger, Clock: clock}}
	base := "http://" + ln.Addr().String()
	srv := &http.Server{
		Handler:           api.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slogErrorLog(logger),
	}
	printWelcome(stdout, base, cfg, boot)
	logger.Info("serving", "addr", ln.Addr().String(), "version", latchkey.Version)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
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
	stopRun()
	<-runDone
	closeCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if cerr := verifier.Close(closeCtx); cerr != nil {
		logger.Error("final usage flush failed", "err", cerr)
		err = errors.Join(err, cerr)
	}
	logger.Info("stopped")
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
// families and their rotated refresh tokens every hour.
func maintain(ctx context.Context, store *sqldb.Store, logger *slog.Logger) {
	trim := time.NewTicker(time.Minute)
	defer trim.Stop()
	prune := time.NewTicker(time.Hour)
	defer prune.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-trim.C:
			if _, err := store.TrimChanges(ctx); err != nil {
				logger.Warn("trimming the change log failed", "err", err)
			}
		case <-prune.C:
			if n, err := store.PruneSessions(ctx, 7*24*time.Hour); err != nil {
				logger.Warn("pruning sessions failed", "err", err)
			} else if n > 0 {
				logger.Info("pruned expired sessions", "rows", n)
			}
		}
	}
}

// printWelcome tells a newcomer where to go next. On the first start it
// prints the bootstrap root key, once, with two curl lines that work as
// printed; the key is never printed again nor logged.
func printWelcome(w io.Writer, base string, cfg Config, boot *sqldb.Bootstrap) {
	limits := "in memory, per instance"
	if cfg.RedisURL != "" {
		limits = "shared in Redis"
	}
	fmt.Fprintf(w, "Latchkey %s listening on %s (store: %s; rate limits and credits: %s)\n", latchkey.Version, base, redactDSN(cfg.DatabaseURL), limits)
	fmt.Fprintf(w, "  API description: %s/openapi.json   health: %s/healthz   metrics: %s/metrics\n", base, base, base)
	defer fmt.Fprintln(w, stopHint)
	if boot == nil {
		return
	}
	root := boot.Secret
	fmt.Fprintf(w, `
First start: created account %q and a root key holding every permission.
This root key is shown once, now. Store it somewhere safe:

  %s

Try it (bash):

  KEY=$(curl -s %s/v1/keys -H "Authorization: Bearer %s" -H "Content-Type: application/json" -d '{"name":"my first key"}' | sed -n 's/.*"secret":"\([^"]*\)".*/\1/p')
  curl -s %s/v1/keys/verify -H "Authorization: Bearer %s" -H "Content-Type: application/json" -d "{\"key\":\"$KEY\"}"

`, boot.Account.Name, root, base, root, base, root)
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
