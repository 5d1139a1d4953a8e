//go:build !(linux || darwin || freebsd)

package main

import "os"

// echoOff is not available here: a credential typed at the prompt is
// echoed (prefer --credential-stdin or LATCHKEY_ROOT_KEY).
func echoOff(*os.File) (restore func(), ok bool) { return nil, false }
