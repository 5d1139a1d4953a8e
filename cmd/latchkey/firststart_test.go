package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/latchkey/latchkey/internal/testenv"
	"github.com/latchkey/latchkey/internal/testenv/binary"
)

// TestWelcomeAsTheHelperReadsIt keeps internal/testenv/binary, which
// reads serve's welcome for the tests and benchmarks that run the real
// binary, in step with what serve writes.
func TestWelcomeAsTheHelperReadsIt(t *testing.T) {
	if binary.FirstStartFile != firstStartFile || !strings.HasPrefix(stopHint, binary.StopHint) {
		t.Errorf("binary.FirstStartFile %q and StopHint %q, want %q and a prefix of %q", binary.FirstStartFile, binary.StopHint, firstStartFile, stopHint)
	}
}

// TestFirstStartToAFile starts serve with stdout a pipe, as under a
// service manager or in a container: the root key and the setup link are
// in a file only its owner reads, named on stdout, and in no output
// stream; the next start says the store was set up and how to get a new
// link while nobody can sign in.
func TestFirstStartToAFile(t *testing.T) {
	dir := t.TempDir()
	ts := MustStartServer(t, Config{DatabaseURL: filepath.Join(dir, "lk.db")})
	w := ts.first
	if w.File != filepath.Join(dir, firstStartFile) {
		t.Fatalf("first start's file: got %q, want %q (beside the SQLite file)\n%s", w.File, filepath.Join(dir, firstStartFile), strings.Join(w.Lines, "\n"))
	}
	st, err := os.Stat(w.File)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("first start's file: got mode %04o, want 0600", st.Mode().Perm())
	}
	if w.RootKey == "" || !strings.HasPrefix(w.SetupLink, ts.URL+"/setup?token=") {
		t.Fatalf("the file holds root key %q and link %q, want both", w.RootKey, w.SetupLink)
	}
	token := strings.TrimPrefix(w.SetupLink, ts.URL+"/setup?token=")
	for name, out := range map[string]string{"stdout": w.Printed(), "the log": ts.logs.String()} {
		if strings.Contains(out, w.RootKey) || strings.Contains(out, token) {
			t.Errorf("%s holds the root key or the setup token:\n%s", name, out)
		}
	}
	// The link opens the web UI's setup page, and a browser opening the
	// server's root lands in the UI.
	if r := (testenv.HTTP{URL: ts.URL}).Do(t, "GET", "/setup?token="+token, nil); r.Status != http.StatusOK {
		t.Errorf("GET the setup link: got %d, want 200", r.Status)
	}
	if r := (testenv.HTTP{URL: ts.URL}).Do(t, "GET", "/", nil, "Accept", "text/html"); r.Status != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
		t.Errorf("GET / from a browser: got %d %s, want the web UI's page", r.Status, r.Header.Get("Content-Type"))
	}

	ts.Stop()
	again := MustStartServer(t, Config{DatabaseURL: filepath.Join(dir, "lk.db")})
	out := strings.Join(again.first.Lines, "\n")
	if again.first.RootKey != "" || again.first.File != "" || !strings.Contains(out, "set up before") || !strings.Contains(out, "latchkey setup-link") {
		t.Errorf("second start: got\n%s\nwant no secret, that the store was set up before, and how to get a new link", out)
	}
}

// TestFirstStartNeedsItsFile refuses to bootstrap an empty store when the
// first start's file cannot be written (the root key would be lost), and
// does not mind the directory on a store set up before.
func TestFirstStartNeedsItsFile(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "lk.db")
	cfg := Config{DatabaseURL: db, DataDir: filepath.Join(dir, "missing")}
	if _, err := startServer(t, cfg); err == nil || !strings.Contains(err.Error(), "LATCHKEY_DATA_DIR") {
		t.Fatalf("first start with a data directory that does not exist: got %v, want a refusal naming LATCHKEY_DATA_DIR", err)
	}
	ts := MustStartServer(t, Config{DatabaseURL: db})
	if ts.RootKey == "" {
		t.Fatal("the store was bootstrapped by the refused start: its root key is lost")
	}
	ts.Stop()
	MustStartServer(t, cfg) // set up: the missing directory does not matter
}

// TestFirstStartOnATerminal starts serve with stdout a terminal: the root
// key and the link are printed there, and no file is written.
func TestFirstStartOnATerminal(t *testing.T) {
	master, tty := mustPTY(t)
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.Listen, cfg.DatabaseURL, cfg.LogLevel = "127.0.0.1:0", filepath.Join(dir, "lk.db"), "warn"
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, tty, io.Discard) }()
	defer func() { cancel(); <-done }()
	w, err := binary.ReadWelcome(master)
	if err != nil {
		t.Error(err)
	}
	go io.Copy(io.Discard, master)
	if w.RootKey == "" || !strings.Contains(w.SetupLink, "/setup?token=") || w.File != "" {
		t.Fatalf("on a terminal: got root key %q, link %q, file %q, want the first two printed and no file\n%s", w.RootKey, w.SetupLink, w.File, strings.Join(w.Lines, "\n"))
	}
	if _, err := os.Stat(filepath.Join(dir, firstStartFile)); !os.IsNotExist(err) {
		t.Errorf("a file was written beside the terminal's output: %v", err)
	}
}

// TestDevNullIsNotATerminal keeps the first start's secrets out of
// /dev/null, a character device that is no terminal: they would be lost.
func TestDevNullIsNotATerminal(t *testing.T) {
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Skip(err)
	}
	defer null.Close()
	if isTerminal(null) {
		t.Errorf("%s counts as a terminal", os.DevNull)
	}
	if _, tty := mustPTY(t); !isTerminal(tty) {
		t.Errorf("a pseudo-terminal does not count as a terminal")
	}
}

// TestConcurrentFirstStarts starts several instances on one empty store
// together: exactly one bootstraps, and the others say it was done.
func TestConcurrentFirstStarts(t *testing.T) {
	dsns := map[string]string{"sqlite": filepath.Join(t.TempDir(), "lk.db")}
	if os.Getenv("LATCHKEY_TEST_POSTGRES_URL") != "" {
		dsns["postgres"] = testenv.PostgresDSN(t)
	}
	for name, dsn := range dsns {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			const n = 4
			starts := make([]*testServer, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range starts {
				wg.Add(1)
				go func() {
					defer wg.Done()
					starts[i], errs[i] = startServer(t, Config{DatabaseURL: dsn, DataDir: dir})
				}()
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				t.Fatal(err)
			}
			booted := 0
			for _, ts := range starts {
				switch out := strings.Join(ts.first.Lines, "\n"); {
				case ts.first.File != "":
					booted++
				case !strings.Contains(out, "set up before"):
					t.Errorf("a start that did not bootstrap printed\n%s\nwant that the store was set up before", out)
				}
			}
			if booted != 1 {
				t.Errorf("got %d starts that bootstrapped, want exactly 1", booted)
			}
		})
	}
}

// TestSetupLinkCommand issues a new link while nobody can sign in, into
// a file only its owner reads, and refuses once a user exists.
func TestSetupLinkCommand(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "lk.db")
	ts := MustStartServer(t, Config{DatabaseURL: db})
	env := map[string]string{"LATCHKEY_DATABASE_URL": db, "LATCHKEY_LISTEN": strings.TrimPrefix(ts.URL, "http://")}
	out := mustCLI(t, env, "setup-link")
	path := filepath.Join(dir, setupLinkFile)
	if !strings.Contains(out, path) || strings.Contains(out, "token=") {
		t.Fatalf("setup-link printed\n%s\nwant the path %s and no link", out, path)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("setup link's file: got mode %04o, want 0600", st.Mode().Perm())
	}
	b, _ := os.ReadFile(path)
	w := &binary.Welcome{}
	for _, l := range strings.Split(string(b), "\n") {
		w.Add(l)
	}
	if !strings.HasPrefix(w.SetupLink, ts.URL+"/setup?token=") {
		t.Fatalf("setup link's file holds\n%s\nwant a link to %s/setup", b, ts.URL)
	}
	if r := (testenv.HTTP{URL: ts.URL}).Do(t, "GET", strings.TrimPrefix(w.SetupLink, ts.URL), nil); r.Status != http.StatusOK {
		t.Errorf("GET the new link: got %d, want 200", r.Status)
	}

	// Once a user exists, there is nothing to set up.
	ts.mustStatus(t, http.StatusCreated, "POST", "/v1/users", map[string]any{"email": "ada@acme.test", "password": "correct horse battery", "role": "admin"})
	r := runCLI(t, env, "setup-link")
	if r.code != exitFailure || !strings.Contains(r.stderr, "conflict") {
		t.Errorf("setup-link with a user: got exit %d, stderr %q, want 1 and a conflict", r.code, r.stderr)
	}
	if r := runCLI(t, env, "setup-link", "--ttl", "0s"); r.code != exitUsage {
		t.Errorf("setup-link --ttl 0s: got exit %d, want 2", r.code)
	}
}

// TestLoginDoesNotEchoTheCredential types a root key at login's prompt on
// a terminal: the terminal shows nothing of it.
func TestLoginDoesNotEchoTheCredential(t *testing.T) {
	isolateConfig(t)
	ts := MustStartServer(t, Config{})
	master, tty := mustPTY(t)
	promptR, promptW := io.Pipe()
	var stdout bytes.Buffer
	root := newRootCmd(&stdout, promptW, func(k string) string { return map[string]string{"LATCHKEY_SERVER": ts.URL}[k] })
	root.SetIn(tty)
	root.SetArgs([]string{"login"})
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(context.Background()); promptW.Close() }()

	// The echo is off before the prompt is printed, so what is typed once
	// the prompt shows is not echoed.
	prompt := make([]byte, len("root key: "))
	if _, err := io.ReadFull(promptR, prompt); err != nil || string(prompt) != "root key: " {
		t.Fatalf("prompt: got %q, %v", prompt, err)
	}
	go io.Copy(io.Discard, promptR)
	if _, err := master.Write([]byte(ts.RootKey + "\n")); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("login: %v", err)
	}
	// Whatever the terminal echoed is ahead of this mark in its output.
	if _, err := tty.Write([]byte("END-OF-TEST\n")); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(master)
	var shown []string
	for sc.Scan() && !strings.Contains(sc.Text(), "END-OF-TEST") {
		shown = append(shown, sc.Text())
	}
	if s := strings.Join(shown, "\n"); strings.Contains(s, ts.RootKey) || strings.Contains(s, "lk_") {
		t.Errorf("the terminal echoed the credential: %q", s)
	}
	if !strings.Contains(stdout.String(), "saved profile") {
		t.Errorf("login printed %q, want the saved profile", stdout.String())
	}
}
