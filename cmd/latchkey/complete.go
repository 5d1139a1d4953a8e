package main

import (
	"context"
	"strings"

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
	return fromServer(f, func(ctx context.Context, c *client.Client, _ []string, toComplete string) ([]string, error) {
		perms, err := c.ListPermissions(ctx)
		if err != nil {
			return nil, err
		}
		var out []string
		for _, perm := range perms {
			if strings.HasPrefix(perm.Name, toComplete) {
				if perm.Description != "" {
					out = append(out, perm.Name+"\t"+perm.Description)
				} else {
					out = append(out, perm.Name)
				}
			}
		}
		return out, nil
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
