package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// child is a server process started by the orchestrator. Every child is
// registered in children and stopped by stopAll, which main defers; each
// also gets SIGKILL from the kernel if the orchestrator dies (Pdeathsig).
type child struct {
	name    string
	cmd     *exec.Cmd
	done    chan struct{} // closed when the process has exited
	waitErr error

	addr     string        // http://host:port from its listening line
	startup  time.Duration // process start → listening line
	rootKey  string        // latchkey's first-start root key, if printed
	logPath  string        // its stderr
	stopOnce sync.Once
}

var (
	childrenMu sync.Mutex
	children   []*child
)

var listenRE = regexp.MustCompile(`listening on (http://\S+)`)

// startChild runs bin with args and env (see childEnv), stderr to logPath,
// and waits (up to 60s) for the line announcing its address. For latchkey
// it also reads the root key of a first start (from the file whose path it
// prints) and waits for the "Stop with Ctrl-C" line.
func startChild(ctx context.Context, name, bin string, args, env []string, logPath string, latchkeyOutput bool) (*child, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stderr = logf
	cmd.Env = childEnv(env...)
	// Own process group (a terminal's Ctrl-C reaches only the orchestrator,
	// which then stops the child itself) and SIGKILL if we die first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		return nil, err
	}
	c := &child{name: name, cmd: cmd, done: make(chan struct{}), logPath: logPath}
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	childrenMu.Lock()
	children = append(children, c)
	childrenMu.Unlock()

	type ready struct {
		addr, root string
		at         time.Duration
		err        error
	}
	readyc := make(chan ready, 1)
	go func() {
		br := bufio.NewReader(stdout)
		var r ready
		sent := false
		for {
			line, err := br.ReadString('\n')
			if line != "" && !sent {
				if r.addr == "" {
					if m := listenRE.FindStringSubmatch(line); m != nil {
						r.addr, r.at = m[1], time.Since(t0)
						if !latchkeyOutput {
							readyc <- r
							sent = true
						}
					}
				} else if t := strings.TrimSpace(line); strings.HasSuffix(t, string(filepath.Separator)+firstStartFile) {
					// Stdout is a pipe: the root key is in the file it names.
					if b, err := os.ReadFile(t); err == nil {
						r.root = rootKeyIn(string(b))
					}
				} else if k := rootKeyIn(line); k != "" {
					r.root = k
				} else if strings.HasPrefix(line, "Stop with Ctrl-C") {
					readyc <- r
					sent = true
				}
			}
			if err != nil {
				if !sent {
					r.err = fmt.Errorf("%s closed its output before it was ready", name)
					readyc <- r
				}
				return
			}
		}
	}()
	go func() {
		c.waitErr = cmd.Wait()
		logf.Close()
		close(c.done)
	}()

	timer := time.NewTimer(60 * time.Second)
	defer timer.Stop()
	select {
	case r := <-readyc:
		if r.err != nil {
			c.stop()
			return nil, fmt.Errorf("%w; its log:\n%s", r.err, tail(logPath, 2000))
		}
		c.addr, c.rootKey, c.startup = r.addr, r.root, r.at
		return c, nil
	case <-c.done:
		return nil, fmt.Errorf("%s exited before it was ready (%v); its log:\n%s", name, c.waitErr, tail(logPath, 2000))
	case <-timer.C:
		c.stop()
		return nil, fmt.Errorf("%s did not print its address within 60s", name)
	case <-ctx.Done():
		c.stop()
		return nil, ctx.Err()
	}
}

// firstStartFile is the file latchkey's first start writes its root key
// to when its stdout is not a terminal (cmd/latchkey).
const firstStartFile = "latchkey-first-start.txt"

// rootKeyIn returns the root key in text: a line that holds only an lk_
// secret.
func rootKeyIn(text string) string {
	for _, line := range strings.Split(text, "\n") {
		if t := strings.TrimSpace(line); strings.HasPrefix(t, "lk_") && !strings.ContainsAny(t, " \t") {
			return t
		}
	}
	return ""
}

// stop sends SIGTERM (latchkey drains and flushes usage), waits up to 15s,
// then kills the process group. It reports how the process ended.
func (c *child) stop() error {
	var err error
	c.stopOnce.Do(func() {
		pid := c.cmd.Process.Pid
		select {
		case <-c.done:
		default:
			_ = syscall.Kill(pid, syscall.SIGTERM)
			select {
			case <-c.done:
			case <-time.After(15 * time.Second):
				_ = syscall.Kill(-pid, syscall.SIGKILL)
				<-c.done
				err = fmt.Errorf("%s did not stop within 15s of SIGTERM; killed", c.name)
			}
		}
		// The group too, in case the child left anything behind.
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		if err == nil && c.waitErr != nil {
			var ee *exec.ExitError
			if !errors.As(c.waitErr, &ee) || ee.ExitCode() != 0 {
				err = fmt.Errorf("%s: %v", c.name, c.waitErr)
			}
		}
	})
	return err
}

// stopAll stops every child still running.
func stopAll() {
	childrenMu.Lock()
	cs := append([]*child(nil), children...)
	childrenMu.Unlock()
	for _, c := range cs {
		if err := c.stop(); err != nil {
			fmt.Fprintln(os.Stderr, "load:", err)
		}
	}
}

// memory is a process's resident set, from /proc/PID/status.
type memory struct {
	RSS, HWM int64 // VmRSS, VmHWM (peak) in kB
}

func (m memory) String() string {
	return fmt.Sprintf("VmRSS %.1f MiB (peak VmHWM %.1f MiB)", float64(m.RSS)/1024, float64(m.HWM)/1024)
}

// readMemory reads a process's VmRSS and VmHWM from /proc.
func readMemory(pid int) (memory, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return memory{}, err
	}
	var m memory
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		v, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			m.RSS = v
		case "VmHWM:":
			m.HWM = v
		}
	}
	return m, nil
}

// childEnv is this process's environment without any LATCHKEY_* setting
// of the shell it runs in, plus extra ("NAME=value"): a server under test
// gets only the settings the tool chose. Database and Redis URLs travel
// this way rather than as flags, which show in ps.
func childEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LATCHKEY_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// runCmd runs a short command (a build, a migration) and returns its error
// with its output. A nil env inherits this process's environment.
func runCmd(ctx context.Context, dir string, env []string, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return nil
}

// tail returns at most the last n bytes of a file.
func tail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > n {
		_, _ = f.Seek(st.Size()-n, io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	return string(b)
}

// clockTick is USER_HZ, the unit of /proc/PID/stat times: 100 on every
// Linux architecture Go supports.
const clockTick = 10 * time.Millisecond

// processCPU is the user+system CPU time of a process and all its threads,
// from /proc/PID/stat (10 ms resolution).
func processCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("odd /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("odd /proc/%d/stat", pid)
	}
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("odd /proc/%d/stat", pid)
	}
	return time.Duration(ut+st) * clockTick, nil
}

// selfCPU is this process's user+system CPU time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
