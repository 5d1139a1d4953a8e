package main

import (
	"context"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/client"
	"github.com/spf13/cobra"
)

// completeFunc completes an argument or a flag value in a shell
// (cobra's __complete).
type completeFunc = func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective)

// fixedValues completes a flag that takes one of a few words.
func fixedValues(values ...string) completeFunc {
	return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return values, cobra.ShellCompDirectiveNoFileComp
	}
}

// completionContext is the command's context, or a background one
// (cobra's __complete may run without one).
func completionContext(cmd *cobra.Command) context.Context {
	if ctx := cmd.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}

// fromServer completes with what list reads from the server, within
// completionTimeout; a server that cannot be reached completes nothing.
func fromServer(f *apiFlags, list func(ctx context.Context, c *client.Client, args []string, toComplete string) ([]string, error)) completeFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		c, err := f.client()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		ctx, cancel := context.WithTimeout(completionContext(cmd), completionTimeout)
		defer cancel()
		out, err := list(ctx, c, args, toComplete)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// completePermissions completes permission names from the account's
// catalogue on the server.
func completePermissions(f *apiFlags) completeFunc {
	return completeFrom(f, (*client.Client).ListPermissions, func(p *latchkey.Permission) (string, string) {
		return p.Name, p.Description
	})
}

// firstArgOnly completes the first argument with fn and nothing after it.
func firstArgOnly(fn completeFunc) completeFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return fn(cmd, args, toComplete)
	}
}
