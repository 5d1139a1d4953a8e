//go:build !(linux || darwin || freebsd)

package main

import "os"

// echoOff is not available here: a credential typed at the prompt is
// echoed (prefer --credential-stdin or LATCHKEY_ROOT_KEY).
func echoOff(*os.File) (restore func(), ok bool) { return nil, false }

// isTTY reports whether f is a character device, the closest this
// platform gets here to "a terminal".
func isTTY(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
