package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

// This file reads passwords and credentials: from a flag, from stdin, or
// typed at a terminal that does not echo them (echoOff, tty_*.go).

// readPassword returns --password, or the first line of stdin with
// --password-stdin (a flag's value shows in ps).
func readPassword(cmd *cobra.Command, flag string, fromStdin bool) (string, error) {
	if !fromStdin {
		return flag, nil
	}
	if flag != "" {
		return "", usageErrorf("--password and --password-stdin: give one")
	}
	line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
	if err != nil && line == "" {
		return "", usageErrorf("--password-stdin: no password on stdin")
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// readSecrets reads one line of in per prompt, each after its prompt on
// stderr (none when quiet: the lines come from a pipe the caller asked
// for). A terminal does not echo them, so a secret is not left on the
// screen or in a recording of it. It returns as many lines (without their
// line ends) as prompts, "" past an error.
func readSecrets(ctx context.Context, in io.Reader, stderr io.Writer, quiet bool, prompts ...string) ([]string, error) {
	lines := make([]string, len(prompts))
	f, ok := in.(*os.File)
	if ok {
		var restore func()
		if restore, ok = echoOff(f); ok { // before a prompt: nothing typed after it is echoed
			defer restore()
		}
	}
	br := bufio.NewReader(in)
	for i, prompt := range prompts {
		if !quiet {
			fmt.Fprint(stderr, prompt)
		}
		line, err := readLine(ctx, br)
		if ok {
			fmt.Fprintln(stderr) // the line end the terminal did not echo
		}
		lines[i] = strings.TrimRight(line, "\r\n")
		if err != nil && (line == "" || i < len(prompts)-1) {
			return lines, err
		}
	}
	return lines, nil
}

// readLine reads a line of br, or gives up when ctx is done (Ctrl-C
// while the echo is off: the deferred restore must run).
func readLine(ctx context.Context, br *bufio.Reader) (string, error) {
	type answer struct {
		line string
		err  error
	}
	done := make(chan answer, 1)
	go func() {
		line, err := br.ReadString('\n')
		done <- answer{line, err}
	}()
	select {
	case a := <-done:
		return a.line, a.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}
