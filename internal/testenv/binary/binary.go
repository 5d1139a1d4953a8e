// Package binary builds the real latchkey binary and runs `latchkey serve`
// as a child process, for the tests and the bench/ programs that need the
// server as it ships: it reads the welcome the server prints (the address,
// and on a first start the root key and the setup link, printed on a
// terminal or written to the 0600 file whose path is printed), and stops or
// kills the process. It imports only the standard library, so programs can
// use it as well as tests; it asserts nothing and never waits unbounded.
package binary

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// What serve prints, as this package reads it (cmd/latchkey's tests check
// that these match what it writes).
const (
	// FirstStartFile is the file a first start writes the root key and the
	// setup link to when stdout is not a terminal; serve prints its path.
	FirstStartFile = "latchkey-first-start.txt"
	// StopHint starts the line that ends serve's welcome.
	StopHint = "Stop with Ctrl-C"
	// listening precedes the server's address in the first welcome line.
	listening = "listening on "
)

// Default bounds of Start and Stop.
const (
	DefaultStartTimeout = 60 * time.Second
	DefaultStopTimeout  = 15 * time.Second
)

// ErrKilled is what Stop reports when the process had to be killed after
// SIGTERM (errors.Is).
var ErrKilled = errors.New("killed")

// modulePath is the module this package builds from.
const modulePath = "github.com/latchkey/latchkey"

// ModuleRoot returns the directory of the latchkey module's go.mod: the one
// `go env GOMOD` names from the working directory, or else the one this
// package's source file is in (a program run from outside the module).
func ModuleRoot() (string, error) {
	root, err := moduleRootFrom("")
	if err == nil {
		return root, nil
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		if r, err2 := moduleRootFrom(filepath.Dir(file)); err2 == nil {
			return r, nil
		}
	}
	return "", err
}

// moduleRootFrom asks `go env GOMOD` in dir ("" for the working directory)
// and checks that the go.mod it names is latchkey's.
func moduleRootFrom(dir string) (string, error) {
	cmd := exec.Command("go", "env", "GOMOD")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside the latchkey module")
	}
	b, err := os.ReadFile(gomod)
	if err != nil {
		return "", err
	}
	if !strings.Contains(string(b), "module "+modulePath+"\n") {
		return "", fmt.Errorf("%s is not the latchkey module", gomod)
	}
	return filepath.Dir(gomod), nil
}

// Build runs `go build ./cmd/latchkey` from the module root and returns the
// path of the binary, written into dir.
func Build(dir string) (string, error) {
	return BuildPackage(context.Background(), dir, "./cmd/latchkey")
}

// BuildPackage builds pkg, a path relative to the module root such as
// "./bench/baseline", into dir and returns the binary's path (dir and the
// package's last element). The error holds the compiler's output.
func BuildPackage(ctx context.Context, dir, pkg string) (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, path.Base(pkg))
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, pkg)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", pkg, err, out)
	}
	return bin, nil
}

// Environ is this process's environment without any LATCHKEY_* setting of
// the shell it runs in, plus extra ("NAME=value"): a server under test gets
// only the settings its caller chose.
func Environ(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LATCHKEY_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// Welcome is what one start of serve showed: the lines it printed up to its
// stop hint and, when it wrote the first start's file, that file's lines
// after the one naming it, with what callers look for picked out.
type Welcome struct {
	Lines     []string
	URL       string // the listening address, http://host:port
	RootKey   string // the first start's root key ("" on a later start)
	SetupLink string // the first start's setup link
	File      string // the first start's file, when stdout was not a terminal
}

// ReadWelcome reads a start's output up to its stop hint. A line naming the
// first start's file is followed by the file's lines. It returns what it
// read with an error when the output ended before the stop hint or the file
// could not be read.
func ReadWelcome(r io.Reader) (*Welcome, error) {
	return readWelcome(r, false, nil)
}

// readWelcome is ReadWelcome that can stop at the address (addressOnly,
// for a program that prints no welcome) and calls found, when not nil, as
// soon as the address is read.
func readWelcome(r io.Reader, addressOnly bool, found func()) (*Welcome, error) {
	w := &Welcome{}
	var errs []error
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		hadURL := w.URL != ""
		w.Add(line)
		if !hadURL && w.URL != "" {
			if found != nil {
				found()
			}
			if addressOnly {
				return w, nil
			}
		}
		if p := strings.TrimSpace(line); strings.HasSuffix(p, string(filepath.Separator)+FirstStartFile) {
			w.File = p
			b, err := os.ReadFile(p)
			if err != nil {
				errs = append(errs, fmt.Errorf("the first start's file: %w", err))
			}
			for _, l := range strings.Split(string(b), "\n") {
				w.Add(l)
			}
		}
		if strings.HasPrefix(line, StopHint) {
			return w, errors.Join(errs...)
		}
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, err)
	}
	return w, errors.Join(append(errs, errors.New("the output ended before the welcome did"))...)
}

// Add keeps one line, and what it names: the address, a root key, a setup
// link (also for reading a file `latchkey setup-link` wrote).
func (w *Welcome) Add(line string) {
	w.Lines = append(w.Lines, line)
	if i := strings.Index(line, listening); i >= 0 && w.URL == "" {
		if f := strings.Fields(line[i+len(listening):]); len(f) > 0 {
			w.URL = f[0]
		}
	}
	f := strings.Fields(line)
	switch {
	case len(f) == 1 && strings.HasPrefix(f[0], "lk_"):
		w.RootKey = f[0]
	case len(f) == 1 && strings.Contains(f[0], "/setup?token="):
		w.SetupLink = f[0]
	}
}

// Printed is what the start wrote to its output itself, without the file.
func (w *Welcome) Printed() string {
	var b strings.Builder
	for _, l := range w.Lines {
		b.WriteString(l + "\n")
		if w.File != "" && strings.TrimSpace(l) == w.File {
			break
		}
	}
	return b.String()
}

// Options says how to start the binary.
type Options struct {
	Bin    string    // the binary (Build's path)
	Args   []string  // default: serve
	Env    []string  // "NAME=value" added to Environ()
	Dir    string    // working directory; default: this process's
	Stderr io.Writer // the server's log; default: discarded

	// AddressOnly returns once the address is printed, for a program that
	// prints no welcome after it (bench/baseline).
	AddressOnly bool
	// StartTimeout bounds the wait for the welcome (DefaultStartTimeout).
	StartTimeout time.Duration
	// StopTimeout bounds Stop's wait after SIGTERM (DefaultStopTimeout).
	StopTimeout time.Duration
}

// Proc is a running binary and the welcome it printed.
type Proc struct {
	Welcome
	Startup time.Duration // process start → address printed

	cmd         *exec.Cmd
	stopTimeout time.Duration
	done        chan struct{} // closed once the process has exited
	waitErr     error
	endOnce     sync.Once
	endErr      error
}

// Start starts o.Bin (default args: serve) with its stdout read for the
// welcome, and returns once the welcome is read: within o.StartTimeout, or
// when ctx ends or the process exits first, killing it and returning an
// error. The process's later output is discarded. On Linux it has its own
// process group (a terminal's Ctrl-C reaches only the caller, which stops
// it) and is killed if the caller dies first.
func Start(ctx context.Context, o Options) (*Proc, error) {
	args := o.Args
	if args == nil {
		args = []string{"serve"}
	}
	cmd := exec.Command(o.Bin, args...)
	cmd.Env = Environ(o.Env...)
	cmd.Dir = o.Dir
	cmd.Stderr = o.Stderr
	cmd.SysProcAttr = sysProcAttr()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p := &Proc{cmd: cmd, stopTimeout: o.StopTimeout, done: make(chan struct{})}
	if p.stopTimeout <= 0 {
		p.stopTimeout = DefaultStopTimeout
	}
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", o.Bin, err)
	}
	type read struct {
		w       *Welcome
		startup time.Duration
		err     error
	}
	readc := make(chan read, 1)
	go func() {
		var r read
		r.w, r.err = readWelcome(stdout, o.AddressOnly, func() { r.startup = time.Since(t0) })
		readc <- r
		io.Copy(io.Discard, stdout)
	}()
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()

	limit := o.StartTimeout
	if limit <= 0 {
		limit = DefaultStartTimeout
	}
	timer := time.NewTimer(limit)
	defer timer.Stop()
	name := filepath.Base(o.Bin)
	select {
	case r := <-readc:
		if r.err == nil && r.w.URL == "" {
			r.err = errors.New("no address in its welcome")
		}
		if r.err != nil {
			// Ended output usually means the process exited: say how.
			select {
			case <-p.done:
				r.err = fmt.Errorf("%w (%s exited: %v)", r.err, name, p.waitErr)
			case <-time.After(time.Second):
			}
			p.Kill()
			return nil, fmt.Errorf("%s: %w", name, r.err)
		}
		p.Welcome, p.Startup = *r.w, r.startup
		return p, nil
	case <-p.done:
		return nil, fmt.Errorf("%s exited before it was ready: %v", name, p.waitErr)
	case <-timer.C:
		p.Kill()
		return nil, fmt.Errorf("%s did not print its welcome within %v", name, limit)
	case <-ctx.Done():
		p.Kill()
		return nil, ctx.Err()
	}
}

// Pid is the process's id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Done is closed once the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Kill sends SIGKILL (to the process group on Linux) and waits for the
// process to exit: a crash, with no warning. Later calls, and Stop after
// it, do nothing more.
func (p *Proc) Kill() {
	p.endOnce.Do(func() {
		select {
		case <-p.done:
		default:
			killGroup(p.cmd.Process)
			<-p.done
		}
	})
}

// Stop sends SIGTERM (serve drains requests and flushes usage) and waits
// for the exit, killing the process after the stop timeout. It returns an
// error wrapping ErrKilled when it had to kill, or the exit's error when the
// process exited other than with status 0. Later calls return the same.
func (p *Proc) Stop() error {
	p.endOnce.Do(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Signal(syscall.SIGTERM)
			timer := time.NewTimer(p.stopTimeout)
			defer timer.Stop()
			select {
			case <-p.done:
			case <-timer.C:
				killGroup(p.cmd.Process)
				<-p.done
				p.endErr = fmt.Errorf("%s did not stop within %v of SIGTERM: %w", filepath.Base(p.cmd.Path), p.stopTimeout, ErrKilled)
				return
			}
		}
		if p.waitErr != nil {
			p.endErr = fmt.Errorf("%s: %w", filepath.Base(p.cmd.Path), p.waitErr)
		}
	})
	return p.endErr
}
