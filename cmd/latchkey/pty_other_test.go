//go:build !linux

package main

import (
	"os"
	"testing"
)

// mustPTY skips: the tests open pseudo-terminals on Linux only.
func mustPTY(tb testing.TB) (master, tty *os.File) {
	tb.Skip("pseudo-terminal tests run on Linux")
	return nil, nil
}
