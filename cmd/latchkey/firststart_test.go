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
)

// welcome is what one start of serve showed: the lines it printed up to
// its stop hint and, when it wrote the first start's file, that file's
// lines after them, with what the tests look for picked out.
type welcome struct {
	lines     []string
	url       string // the listening address
	rootKey   string // the first start's root key
	setupLink string // the first start's setup link
	file      string // the first start's file, when stdout was not a terminal
}

// readWelcome reads a start's stdout up to its stop hint. A line naming the
// first start's file is followed by the file's lines.
func readWelcome(tb testing.TB, sc *bufio.Scanner) *welcome {
	tb.Helper()
	w := &welcome{}
	for sc.Scan() {
		line := sc.Text()
		w.add(line)
		if p := strings.TrimSpace(line); strings.HasSuffix(p, string(filepath.Separator)+firstStartFile) {
			w.file = p
			b, err := os.ReadFile(p)
			if err != nil {
				tb.Errorf("the first start's file: %v", err)
			}
			for _, l := range strings.Split(string(b), "\n") {
				w.add(l)
			}
		}
		if strings.HasPrefix(line, stopHint) {
			break
		}
	}
	return w
}

// add keeps one line, and what it names.
func (w *welcome) add(line string) {
	w.lines = append(w.lines, line)
	if i := strings.Index(line, "listening on "); i >= 0 {
		w.url = strings.Fields(line[i+len("listening on "):])[0]
	}
	f := strings.Fields(line)
	switch {
	case len(f) == 1 && strings.HasPrefix(f[0], "lk_"):
		w.rootKey = f[0]
	case len(f) == 1 && strings.Contains(f[0], "/setup?token="):
		w.setupLink = f[0]
	}
}

// printed is what the start wrote to stdout itself, without the file.
func (w *welcome) printed() string {
	var b strings.Builder
	for _, l := range w.lines {
		b.WriteString(l + "\n")
		if strings.TrimSpace(l) == w.file && w.file != "" {
			break
		}
	}
	return b.String()
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
	if w.file != filepath.Join(dir, firstStartFile) {
		t.Fatalf("first start's file: got %q, want %q (beside the SQLite file)\n%s", w.file, filepath.Join(dir, firstStartFile), strings.Join(w.lines, "\n"))
	}
	st, err := os.Stat(w.file)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("first start's file: got mode %04o, want 0600", st.Mode().Perm())
	}
	if w.rootKey == "" || !strings.HasPrefix(w.setupLink, ts.URL+"/setup?token=") {
		t.Fatalf("the file holds root key %q and link %q, want both", w.rootKey, w.setupLink)
	}
	token := strings.TrimPrefix(w.setupLink, ts.URL+"/setup?token=")
	for name, out := range map[string]string{"stdout": w.printed(), "the log": ts.logs.String()} {
		if strings.Contains(out, w.rootKey) || strings.Contains(out, token) {
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
	out := strings.Join(again.first.lines, "\n")
	if again.first.rootKey != "" || again.first.file != "" || !strings.Contains(out, "set up before") || !strings.Contains(out, "latchkey setup-link") {
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
	w := readWelcome(t, bufio.NewScanner(master))
	go io.Copy(io.Discard, master)
	if w.rootKey == "" || !strings.Contains(w.setupLink, "/setup?token=") || w.file != "" {
		t.Fatalf("on a terminal: got root key %q, link %q, file %q, want the first two printed and no file\n%s", w.rootKey, w.setupLink, w.file, strings.Join(w.lines, "\n"))
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
				switch out := strings.Join(ts.first.lines, "\n"); {
				case ts.first.file != "":
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
	w := &welcome{}
	for _, l := range strings.Split(string(b), "\n") {
		w.add(l)
	}
	if !strings.HasPrefix(w.setupLink, ts.URL+"/setup?token=") {
		t.Fatalf("setup link's file holds\n%s\nwant a link to %s/setup", b, ts.URL)
	}
	if r := (testenv.HTTP{URL: ts.URL}).Do(t, "GET", strings.TrimPrefix(w.setupLink, ts.URL), nil); r.Status != http.StatusOK {
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
