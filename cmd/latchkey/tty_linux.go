package main

import "syscall"

// The ioctls that read and write a terminal's settings on Linux.
const (
	ioctlGetTermios = syscall.TCGETS
	ioctlSetTermios = syscall.TCSETS
)
