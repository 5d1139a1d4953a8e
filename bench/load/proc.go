package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/latchkey/latchkey/internal/testenv/binary"
)

// child is a server process started by the orchestrator. Every child is
// registered in children and stopped by stopAll, which main defers; each
// also gets SIGKILL from the kernel if the orchestrator dies (see
// internal/testenv/binary).
type child struct {
	name string
	*binary.Proc
	logPath string // its stderr
}

var (
	childrenMu sync.Mutex
	children   []*child
)

// startChild runs bin with args and env (added to this process's
// environment without its LATCHKEY_* settings), stderr to logPath, and
// waits (up to 60s) for the line announcing its address; for latchkey
// (latchkeyOutput) for its whole welcome, with a first start's root key.
func startChild(ctx context.Context, name, bin string, args, env []string, logPath string, latchkeyOutput bool) (*child, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	p, err := binary.Start(ctx, binary.Options{Bin: bin, Args: args, Env: env, Stderr: logf, AddressOnly: !latchkeyOutput})
	if err != nil {
		logf.Close()
		if ctx.Err() != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%s: %w; its log:\n%s", name, err, tail(logPath, 2000))
	}
	go func() { <-p.Done(); logf.Close() }()
	c := &child{name: name, Proc: p, logPath: logPath}
	childrenMu.Lock()
	children = append(children, c)
	childrenMu.Unlock()
	return c, nil
}

// stop sends SIGTERM (latchkey drains and flushes usage), waits up to 15s,
// then kills the process group. It reports how the process ended.
func (c *child) stop() error {
	if err := c.Proc.Stop(); err != nil {
		return fmt.Errorf("%s: %w", c.name, err)
	}
	return nil
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
