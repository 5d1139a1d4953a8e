package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/sqldb"
	"github.com/spf13/cobra"
)

// This file holds what the first start shows once (the root key and the
// one-time setup link of the web UI) and `latchkey setup-link`, which
// issues a new link while no user exists. Neither ever goes to a log
// stream: it is printed when stdout is a terminal, otherwise written to a
// file only its owner can read, and only that file's path is printed.

// The files the secrets go to when stdout is not a terminal, in
// Config.dataDir.
const (
	firstStartFile = "latchkey-first-start.txt"
	setupLinkFile  = "latchkey-setup-link.txt"
)

// isTerminal reports whether w is a terminal a person reads, rather than a
// pipe, a file or a journal that keeps what it is given, or /dev/null,
// which would lose it: a character device whose terminal settings can be
// read (isTTY).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0 && isTTY(f)
}

// showSecret shows text, which holds secrets, once: on stdout when it is a
// terminal; otherwise in dir/name, created 0600 (replacing an older one),
// with only its path and what it holds (what) printed.
func showSecret(stdout io.Writer, dir, name, what, text string) error {
	if isTerminal(stdout) {
		_, err := io.WriteString(stdout, text)
		return err
	}
	path, err := writePrivate(dir, name, text)
	if err != nil {
		return fmt.Errorf("%s: stdout is not a terminal, so they go to a file, which could not be written: %w", what, err)
	}
	fmt.Fprintf(stdout, "\n%s: not printed here, where a log could keep them, but written to this file, readable only by you (read it, then delete it):\n\n  %s\n\n", what, path)
	return nil
}

// writePrivate writes text to dir/name with mode 0600, through a temporary
// file renamed into place, so the file never exists with other modes or
// half written. It returns the file's absolute path.
func writePrivate(dir, name, text string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(abs, "."+name+"-*") // 0600
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return "", err
	}
	if _, err := tmp.WriteString(text); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	path := filepath.Join(abs, name)
	return path, os.Rename(tmp.Name(), path)
}

// dataDir is where the first start's file goes: LATCHKEY_DATA_DIR, else
// the SQLite file's directory, else (PostgreSQL) the working directory.
func (c *Config) dataDir() string {
	if c.DataDir != "" {
		return c.DataDir
	}
	dsn := c.DatabaseURL
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return "."
	}
	dsn = strings.TrimPrefix(dsn, "file:")
	if i := strings.IndexByte(dsn, '?'); i >= 0 {
		dsn = dsn[:i]
	}
	return filepath.Dir(dsn)
}

// setupLink is the web UI's setup page with a one-time token.
func setupLink(base, token string) string {
	return strings.TrimRight(base, "/") + "/setup?token=" + url.QueryEscape(token)
}

// firstStartText is what the first start shows once: the root key, the
// setup link and two curl lines that work as printed.
func firstStartText(base string, boot *sqldb.Bootstrap, until time.Time) string {
	root := boot.Secret
	return fmt.Sprintf(`
First start: created account %q and a root key holding every permission.
This root key is shown once, now. Store it somewhere safe:

  %s

Choose the first admin's email and password in the web UI with this link
(it works once, until %s):

  %s

Try the root key (bash):

  KEY=$(curl -s %s/v1/keys -H "Authorization: Bearer %s" -H "Content-Type: application/json" -d '{"name":"my first key"}' | sed -n 's/.*"secret":"\([^"]*\)".*/\1/p')
  curl -s %s/v1/keys/verify -H "Authorization: Bearer %s" -H "Content-Type: application/json" -d "{\"key\":\"$KEY\"}"

`, boot.Account.Name, root, until.UTC().Format(time.RFC3339), setupLink(base, boot.SetupToken), base, root, base, root)
}

// setupLinkText is what `latchkey setup-link` shows once.
func setupLinkText(base, token string, until time.Time) string {
	return fmt.Sprintf("\nChoose the first admin's email and password in the web UI with this link\n(it works once, until %s):\n\n  %s\n\n",
		until.UTC().Format(time.RFC3339), setupLink(base, token))
}

// checkFirstStartFile makes sure, before an empty store is bootstrapped,
// that the first start's file can be written when stdout is not a
// terminal: a root key created and never shown is lost. A store that has
// an account is not bootstrapped, so nothing is checked.
func checkFirstStartFile(ctx context.Context, stdout io.Writer, cfg Config, store *sqldb.Store) error {
	if isTerminal(stdout) {
		return nil
	}
	if accounts, err := store.FindAccounts(ctx); err == nil && len(accounts) > 0 {
		return nil
	}
	return checkDataDir(cfg.dataDir())
}

// checkDataDir makes sure a file can be created in dir.
func checkDataDir(dir string) error {
	f, err := os.CreateTemp(dir, ".latchkey-check-*")
	if err != nil {
		return fmt.Errorf("LATCHKEY_DATA_DIR / --data-dir: stdout is not a terminal, so the first start's root key and setup link go to a file in %s, which cannot be written: %w", dir, err)
	}
	f.Close()
	return os.Remove(f.Name())
}

// showStart tells what this start found in the store: on the first start
// the root key and the setup link (see showSecret; the link was issued
// after started); on a store set up before, by this or another instance,
// that it was done there; and while nobody can sign in yet, how to get a
// new setup link.
func showStart(ctx context.Context, stdout io.Writer, base string, cfg Config, store *sqldb.Store, boot *sqldb.Bootstrap, started time.Time) error {
	if boot != nil {
		until := started.Add(sqldb.SetupTokenTTL).Truncate(time.Second)
		return showSecret(stdout, cfg.dataDir(), firstStartFile, "First start: the root key and the setup link", firstStartText(base, boot, until))
	}
	fmt.Fprintln(stdout, "This store was set up before, by this or another instance: its root key and setup link were shown there, once.")
	if users, err := store.FindUsers(ctx); err == nil && len(users) == 0 {
		cmd := "latchkey setup-link   # with this server's LATCHKEY_DATABASE_URL"
		if !strings.HasPrefix(cfg.DatabaseURL, "postgres") {
			cmd = "latchkey setup-link --database-url " + shellQuote(cfg.DatabaseURL)
		}
		fmt.Fprintf(stdout, "No user can sign in yet, and the first start's setup link works for one hour. For a new one:\n\n  %s\n\n", cmd)
	}
	return nil
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-:@=") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// newSetupLinkCmd is `latchkey setup-link`: a new one-time setup link for
// a store nobody can sign in to yet (the first start's lives an hour). It
// works on the store directly, as migrate does, and ends any older link.
func newSetupLinkCmd(stdout io.Writer, getenv func(string) string) *cobra.Command {
	var base string
	var ttl time.Duration
	cmd, cfg := configCmd("setup-link", "Issue a new one-time setup link for the web UI while no user exists", getenv,
		func(ctx context.Context, cfg *Config) error {
			if ttl <= 0 {
				return usageErrorf("--ttl must be positive, got %s", ttl)
			}
			if base == "" {
				base = "http://" + cfg.Listen
			}
			if err := checkServer(base); err != nil {
				return usageErrorf("--base-url: want a URL like https://keys.example.com, got %q", base)
			}
			if !isTerminal(stdout) {
				if err := checkDataDir(cfg.dataDir()); err != nil {
					return err
				}
			}
			store, err := sqldb.Open(ctx, cfg.DatabaseURL, latchkey.SystemClock)
			if err != nil {
				return err
			}
			defer store.Close()
			started := time.Now()
			token, err := store.IssueSetupToken(ctx, ttl)
			if err != nil {
				return err
			}
			until := started.Add(ttl).Truncate(time.Second)
			return showSecret(stdout, cfg.dataDir(), setupLinkFile, "The setup link", setupLinkText(base, token, until))
		})
	cmd.Args = usageArgs(cobra.NoArgs)
	fl := cmd.Flags()
	fl.StringVar(&cfg.DatabaseURL, "database-url", cfg.DatabaseURL, "SQLite file path or postgres:// URL [LATCHKEY_DATABASE_URL]")
	fl.StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "where the link's file goes when stdout is not a terminal (default: the SQLite file's directory, or the working directory) [LATCHKEY_DATA_DIR]")
	fl.StringVar(&base, "base-url", "", "the server's address as a browser reaches it (default: http:// and LATCHKEY_LISTEN)")
	fl.DurationVar(&ttl, "ttl", sqldb.SetupTokenTTL, "how long the link works")
	return cmd
}
