//go:build !linux

package binary

import (
	"os"
	"syscall"
)

// sysProcAttr leaves the child in the caller's process group.
func sysProcAttr() *syscall.SysProcAttr { return nil }

// killGroup kills the child.
func killGroup(p *os.Process) { p.Kill() }
