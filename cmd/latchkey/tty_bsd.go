//go:build darwin || freebsd

package main

import "syscall"

// The ioctls that read and write a terminal's settings on macOS and
// FreeBSD.
const (
	ioctlGetTermios = syscall.TIOCGETA
	ioctlSetTermios = syscall.TIOCSETA
)
