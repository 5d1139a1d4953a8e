package main

import (
	"fmt"
	"os"
	"syscall"
	"testing"
	"unsafe"
)

// mustPTY opens a pseudo-terminal: what is written to tty, a terminal to
// the code under test, is read from master, and what is written to master
// is typed at tty. The test is skipped where no pseudo-terminal can be had.
func mustPTY(tb testing.TB) (master, tty *os.File) {
	tb.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		tb.Skipf("no pseudo-terminal: %v", err)
	}
	var unlock int32
	var n uint32
	if err := ptyIoctl(m, syscall.TIOCSPTLCK, unsafe.Pointer(&unlock)); err != nil {
		m.Close()
		tb.Skipf("no pseudo-terminal: unlock: %v", err)
	}
	if err := ptyIoctl(m, syscall.TIOCGPTN, unsafe.Pointer(&n)); err != nil {
		m.Close()
		tb.Skipf("no pseudo-terminal: number: %v", err)
	}
	t, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		tb.Skipf("no pseudo-terminal: %v", err)
	}
	tb.Cleanup(func() { t.Close(); m.Close() })
	return m, t
}

// ptyIoctl is one ioctl on the master side.
func ptyIoctl(f *os.File, req uintptr, arg unsafe.Pointer) error {
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), req, uintptr(arg)); e != 0 {
		return e
	}
	return nil
}
