//go:build linux || darwin || freebsd

package main

import (
	"os"
	"syscall"
	"unsafe"
)

// echoOff turns off the echo of the terminal f, keeping line editing and
// Ctrl-C, and returns the function that turns it back on; ok is false when
// f is not a terminal. It is golang.org/x/term's trick, on the standard
// library's syscall package.
func echoOff(f *os.File) (restore func(), ok bool) {
	fd := f.Fd()
	var old syscall.Termios
	if termios(fd, ioctlGetTermios, &old) != nil {
		return nil, false
	}
	t := old
	t.Lflag &^= syscall.ECHO
	t.Lflag |= syscall.ICANON | syscall.ISIG
	t.Iflag |= syscall.ICRNL
	if termios(fd, ioctlSetTermios, &t) != nil {
		return nil, false
	}
	return func() { _ = termios(fd, ioctlSetTermios, &old) }, true
}

// isTTY reports whether f is a terminal: its settings can be read (so
// /dev/null, a character device too, is not one).
func isTTY(f *os.File) bool {
	var t syscall.Termios
	return termios(f.Fd(), ioctlGetTermios, &t) == nil
}

// termios gets or sets (req) the terminal settings of fd.
func termios(fd, req uintptr, t *syscall.Termios) error {
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, fd, req, uintptr(unsafe.Pointer(t))); e != 0 {
		return e
	}
	return nil
}
