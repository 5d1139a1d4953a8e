// Command latchkey is the one Latchkey binary: the server (serve), schema
// migrations (migrate), version, and the CLI that manages a running server
// through the client package (keys, permissions, users, accounts, audit,
// login). It is the only package that wires the others together.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/latchkey/latchkey"
	"github.com/spf13/cobra"
)

// main runs the command line and exits with its code.
func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// Exit codes of the binary.
const (
	exitOK      = 0 // done
	exitFailure = 1 // the server refused, could not be reached, or the work failed
	exitUsage   = 2 // bad usage: an unknown command or flag, a bad flag value
)

// run executes the command line args and returns the exit code, having
// printed any error on stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	root := newRootCmd(stdout, stderr, getenv)
	root.SetArgs(args)
	return exitCode(stderr, root.ExecuteContext(ctx))
}

// exitCode prints err on stderr and maps it to an exit code: 2 for bad
// usage, 1 for an API refusal (printed with its code) and any other
// failure.
func exitCode(stderr io.Writer, err error) int {
	if err == nil {
		return exitOK
	}
	if code, msg, fields, ok := refusal(err); ok {
		fmt.Fprintf(stderr, "latchkey: %s: %s\n", code, msg)
		names := make([]string, 0, len(fields))
		for name := range fields {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			fmt.Fprintf(stderr, "  %s: %s\n", name, fields[name])
		}
		return exitFailure
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "latchkey") {
		msg = "latchkey: " + msg
	}
	fmt.Fprintln(stderr, msg)
	if isUsage(err) {
		return exitUsage
	}
	return exitFailure
}

// usageError is bad usage of the command line, exit code 2.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// usageErrorf returns a usageError with a formatted message.
func usageErrorf(format string, args ...any) error {
	return &usageError{fmt.Errorf(format, args...)}
}

// isUsage reports whether err is bad usage: one of ours, or one of cobra's
// own, which it returns as plain errors.
func isUsage(err error) bool {
	var ue *usageError
	if errors.As(err, &ue) {
		return true
	}
	msg := err.Error()
	for _, prefix := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "required flag", "accepts ", "requires at least", "invalid argument", "flag needs an argument", "if any flags in the group"} {
		if strings.HasPrefix(msg, prefix) {
			return true
		}
	}
	return false
}

// usageArgs wraps a cobra argument check so that its refusal is bad usage.
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, a []string) error {
		if err := check(cmd, a); err != nil {
			return &usageError{fmt.Errorf("%s: %w", cmd.CommandPath(), err)}
		}
		return nil
	}
}

// group makes a noun's command refuse an unknown subcommand as bad usage
// (cobra would print the help and succeed) and print its help when called
// alone.
func group(cmd *cobra.Command) *cobra.Command {
	cmd.Args = cobra.ArbitraryArgs
	cmd.SuggestionsMinimumDistance = 2
	cmd.RunE = func(cmd *cobra.Command, a []string) error {
		if len(a) == 0 {
			return cmd.Help()
		}
		msg := fmt.Sprintf("unknown command %q for %q", a[0], cmd.CommandPath())
		if s := cmd.SuggestionsFor(a[0]); len(s) > 0 {
			msg += "; did you mean " + strings.Join(s, " or ") + "?"
		}
		return usageErrorf("%s (see %s --help)", msg, cmd.CommandPath())
	}
	return cmd
}

// newRootCmd is the whole command line.
func newRootCmd(stdout, stderr io.Writer, getenv func(string) string) *cobra.Command {
	root := &cobra.Command{
		Use:           "latchkey",
		Short:         "Latchkey issues, manages and verifies API keys",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return &usageError{fmt.Errorf("%s: %w", cmd.CommandPath(), err)}
	})
	root.AddCommand(newServeCmd(stdout, stderr, getenv), newMigrateCmd(stdout, stderr, getenv), newSetupLinkCmd(stdout, getenv), newVersionCmd(stdout))
	root.AddCommand(newNounCmds(stdout, getenv)...)
	root.AddCommand(newLoginCmd(stdout, getenv))
	return root
}

// newVersionCmd is `latchkey version`.
func newVersionCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  usageArgs(cobra.NoArgs),
		Run: func(cmd *cobra.Command, args []string) {
			fmt.Fprintln(stdout, "latchkey", latchkey.Version)
		},
	}
}

// newLogger returns the process logger writing to w.
func newLogger(w io.Writer, cfg Config) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
