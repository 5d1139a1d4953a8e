package binary

import (
	"os"
	"syscall"
)

// sysProcAttr gives a child its own process group, so that a terminal's
// Ctrl-C reaches only the caller, and SIGKILL if the caller dies first.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// killGroup kills the child's process group, whatever it left behind too.
func killGroup(p *os.Process) {
	if syscall.Kill(-p.Pid, syscall.SIGKILL) != nil {
		p.Kill()
	}
}
