package binary

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// childVar makes the test binary play the server (see TestMain).
const childVar = "BINARY_TEST_CHILD"

// TestMain runs the test binary as a stand-in for `latchkey serve` when
// childVar says how to behave, so Start, Stop and Kill are tested without
// building latchkey.
func TestMain(m *testing.M) {
	if mode := os.Getenv(childVar); mode != "" {
		os.Exit(child(mode))
	}
	os.Exit(m.Run())
}

// child prints a welcome as serve does (unless mode is "silent" or
// "exit") and waits for SIGTERM, which "stubborn" ignores.
func child(mode string) int {
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	switch mode {
	case "exit":
		fmt.Fprintln(os.Stderr, "cannot start")
		return 3
	case "silent":
	default:
		fmt.Println("Latchkey dev listening on http://127.0.0.1:1234 (store: x)")
		fmt.Print("\n  lk_root_key\n\n  http://127.0.0.1:1234/setup?token=t\n\n")
		fmt.Println(StopHint + " (SIGTERM also drains requests and flushes usage).")
	}
	for {
		<-term
		if mode != "stubborn" {
			return 0
		}
	}
}

// TestReadWelcomePrinted reads a first start shown on a terminal.
func TestReadWelcomePrinted(t *testing.T) {
	w, err := ReadWelcome(strings.NewReader("Latchkey v listening on http://127.0.0.1:9 (store: x)\r\n\r\n  lk_abc\r\n  http://127.0.0.1:9/setup?token=t\r\n" + StopHint + ".\r\nlater\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if w.URL != "http://127.0.0.1:9" || w.RootKey != "lk_abc" || w.SetupLink != "http://127.0.0.1:9/setup?token=t" || w.File != "" || len(w.Lines) != 5 {
		t.Errorf("got %+v, want the address, key and link of the text, and its 5 lines", w)
	}
}

// TestReadWelcomeFromFile reads a first start written to its file.
func TestReadWelcomeFromFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), FirstStartFile)
	if err := os.WriteFile(file, []byte("\n  lk_abc\n\n  http://h/setup?token=t\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := "Latchkey v listening on http://h (store: x)\nFirst start: the root key and the setup link are in\n\n  " + file + "\n\n" + StopHint + ".\n"
	w, err := ReadWelcome(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if w.File != file || w.RootKey != "lk_abc" || w.SetupLink != "http://h/setup?token=t" {
		t.Errorf("got %+v, want the file and what it holds", w)
	}
	if p := w.Printed(); strings.Contains(p, "lk_abc") || !strings.HasSuffix(p, file+"\n") {
		t.Errorf("Printed: got %q, want the output up to the file's name", p)
	}
}

// TestReadWelcomeEndsEarly reports output that ends before the stop hint.
func TestReadWelcomeEndsEarly(t *testing.T) {
	w, err := ReadWelcome(strings.NewReader("Latchkey v listening on http://h (store: x)\n"))
	if err == nil || w.URL != "http://h" {
		t.Errorf("got %+v, %v; want the address and an error", w, err)
	}
}

// start runs the test binary as a child in mode.
func start(t *testing.T, mode string, o Options) (*Proc, error) {
	t.Helper()
	o.Bin, o.Args, o.Env = os.Args[0], []string{"-test.run=^$"}, []string{childVar + "=" + mode}
	return Start(context.Background(), o)
}

// TestStartStopKill starts the stand-in, stops one with SIGTERM and kills
// another.
func TestStartStopKill(t *testing.T) {
	p, err := start(t, "serve", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if p.URL != "http://127.0.0.1:1234" || p.RootKey != "lk_root_key" || !strings.HasSuffix(p.SetupLink, "/setup?token=t") || p.Pid() == 0 {
		t.Errorf("got %+v, want the stand-in's welcome", p)
	}
	if err := p.Stop(); err != nil {
		t.Errorf("Stop: %v", err)
	}
	if err := p.Stop(); err != nil {
		t.Errorf("Stop again: %v", err)
	}
	p, err = start(t, "serve", Options{})
	if err != nil {
		t.Fatal(err)
	}
	p.Kill()
	select {
	case <-p.Done():
	default:
		t.Error("Kill returned before the process exited")
	}
}

// TestStopKillsAfterItsTimeout kills a process that ignores SIGTERM.
func TestStopKillsAfterItsTimeout(t *testing.T) {
	p, err := start(t, "stubborn", Options{StopTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(); !errors.Is(err, ErrKilled) {
		t.Errorf("Stop: got %v, want ErrKilled", err)
	}
}

// TestStartFails returns an error, not a hang, for a process that exits or
// prints nothing.
func TestStartFails(t *testing.T) {
	if _, err := start(t, "exit", Options{}); err == nil || !strings.Contains(err.Error(), "exit") {
		t.Errorf("a process that exits: got %v, want an error saying so", err)
	}
	if _, err := start(t, "silent", Options{StartTimeout: 100 * time.Millisecond}); err == nil {
		t.Error("a process that prints no welcome: got no error")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Start(ctx, Options{Bin: os.Args[0], Args: []string{"-test.run=^$"}, Env: []string{childVar + "=silent"}}); !errors.Is(err, context.Canceled) {
		t.Errorf("a cancelled start: got %v, want context.Canceled", err)
	}
}

// TestAddressOnly returns at the address, for a program with no welcome.
func TestAddressOnly(t *testing.T) {
	p, err := start(t, "serve", Options{AddressOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	if p.URL != "http://127.0.0.1:1234" || len(p.Lines) != 1 {
		t.Errorf("got %+v, want the address line alone", p)
	}
}
