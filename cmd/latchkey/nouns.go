package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/latchkey/latchkey/client"
	"github.com/spf13/cobra"
)

// This file holds the shapes the nouns' commands (keys, permissions, users,
// accounts, audit) share: the noun itself, a subcommand that calls the
// server, a table of items, and a list followed page by page.

// nouns are the commands that call a server, each a noun of the API with
// its subcommands.
var nouns = []struct {
	use, short  string
	subcommands func(f *apiFlags, stdout io.Writer) []*cobra.Command
}{
	{"keys", "Manage and verify keys on a running server", keysCmds},
	{"permissions", "Manage the account's permission catalogue", permissionsCmds},
	{"users", "Manage the account's users and their roles", usersCmds},
	{"accounts", "List and create accounts (tenants)", accountsCmds},
	{"audit", "Read the account's audit log", auditCmds},
}

// newNounCmds returns the nouns' commands. Each refuses an unknown
// subcommand, and binds the server flags its subcommands read.
func newNounCmds(stdout io.Writer, getenv func(string) string) []*cobra.Command {
	var out []*cobra.Command
	for _, n := range nouns {
		f := &apiFlags{}
		cmd := group(&cobra.Command{Use: n.use, Short: n.short})
		f.bind(cmd, getenv)
		cmd.AddCommand(n.subcommands(f, stdout)...)
		out = append(out, cmd)
	}
	return out
}

// apiCmd completes cmd as a subcommand that calls the server: its Args
// check refuses as bad usage, and run is handed the client the flags name.
// cmd.PreRunE, when set, checks flag values before the client is made (bad
// usage is reported before a missing credential); it runs inside RunE, so
// after cobra's own checks of required and exclusive flags, which cobra
// runs after PreRunE.
func apiCmd(f *apiFlags, cmd *cobra.Command, run func(cmd *cobra.Command, c *client.Client, args []string) error) *cobra.Command {
	if cmd.Args == nil {
		cmd.Args = cobra.NoArgs
	}
	cmd.Args = usageArgs(cmd.Args)
	check := cmd.PreRunE
	cmd.PreRunE = nil
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if check != nil {
			if err := check(cmd, args); err != nil {
				return err
			}
		}
		c, err := f.client()
		if err != nil {
			return err
		}
		return run(cmd, c, args)
	}
	return cmd
}

// createCmd is `NOUN create NAME` with one optional string flag, for a
// route that answers the new item; create may be a method expression like
// (*client.Client).CreateAccount.
func createCmd[T any](f *apiFlags, stdout io.Writer, short string, cols columns[T], flag, usage string,
	create func(c *client.Client, ctx context.Context, name, value string) (T, error)) *cobra.Command {
	var value string
	cmd := itemCmd(f, stdout, &cobra.Command{Use: "create NAME", Short: short, Args: cobra.ExactArgs(1)}, cols,
		func(cmd *cobra.Command, c *client.Client, args []string) (T, error) {
			return create(c, cmd.Context(), args[0], value)
		})
	cmd.Flags().StringVar(&value, flag, "", usage)
	return cmd
}

// listCmd is `NOUN list` for a route that answers all its items at once,
// printed as cols; list may be a method expression like
// (*client.Client).ListUsers.
func listCmd[T any](f *apiFlags, stdout io.Writer, short string, cols columns[T], list func(c *client.Client, ctx context.Context) ([]T, error)) *cobra.Command {
	return apiCmd(f, &cobra.Command{Use: "list", Short: short}, func(cmd *cobra.Command, c *client.Client, _ []string) error {
		items, err := list(c, cmd.Context())
		if err != nil {
			return err
		}
		return cols.emitList(f, stdout, items)
	})
}

// itemCmd completes cmd as a subcommand whose call answers one item,
// printed as a row of cols.
func itemCmd[T any](f *apiFlags, stdout io.Writer, cmd *cobra.Command, cols columns[T], call func(cmd *cobra.Command, c *client.Client, args []string) (T, error)) *cobra.Command {
	return apiCmd(f, cmd, func(cmd *cobra.Command, c *client.Client, args []string) error {
		item, err := call(cmd, c, args)
		if err != nil {
			return err
		}
		return cols.emit(f, stdout, item, []T{item})
	})
}

// columns is how one kind of item prints as a table: the header, and a
// row per item whose first cell is the id that -o id prints.
type columns[T any] struct {
	header []string
	row    func(T) []string
}

// emit prints v as --output asks: JSON as the server sent it, or items as
// ids or as a table. A page's next cursor, when given, ends the table.
func (t columns[T]) emit(f *apiFlags, w io.Writer, v any, items []T, next ...*string) error {
	rows := make([][]string, len(items))
	ids := make([]string, len(items))
	for i, it := range items {
		rows[i] = t.row(it)
		ids[i] = rows[i][0]
	}
	return f.emit(w, v, ids, func(w io.Writer) {
		printTable(w, t.header, rows)
		if len(next) > 0 && next[0] != nil {
			fmt.Fprintf(w, "\nmore: --cursor %s (or --all)\n", *next[0])
		}
	})
}

// emitPage prints a page of items, with its next cursor under the table.
func (t columns[T]) emitPage(f *apiFlags, w io.Writer, p *client.Page[T]) error {
	return t.emit(f, w, p, p.Data, p.NextCursor)
}

// emitList prints items a route answers unpaged, as a page for -o json.
func (t columns[T]) emitList(f *apiFlags, w io.Writer, items []T) error {
	return t.emit(f, w, client.Page[T]{Data: items}, items)
}

// emitDone prints the outcome of a call that answers nothing: v for -o
// json, id for -o id, msg for a table.
func (f *apiFlags) emitDone(w io.Writer, v any, id, msg string) error {
	return f.emit(w, v, []string{id}, func(w io.Writer) { fmt.Fprintln(w, msg) })
}

// listPages reads the page at cursor and, with all, every page after it,
// gathered into one page (whose data is never null).
func listPages[T any](all bool, cursor string, list func(cursor string) (*client.Page[T], error)) (*client.Page[T], error) {
	p := &client.Page[T]{Data: []T{}}
	for {
		next, err := list(cursor)
		if err != nil {
			return nil, err
		}
		p.Data, p.NextCursor = append(p.Data, next.Data...), next.NextCursor
		if !all || next.NextCursor == nil {
			return p, nil
		}
		cursor = *next.NextCursor
	}
}

// pageFlags are the flags of a paged list.
func pageFlags(cmd *cobra.Command, limit *int, cursor *string, all *bool, what string) {
	cmd.Flags().IntVar(limit, "limit", 50, what+" per page (1-1000)")
	cmd.Flags().StringVar(cursor, "cursor", "", "next page cursor")
	cmd.Flags().BoolVar(all, "all", false, "follow the cursor to the last page")
}

// matching returns the completions of toComplete among items: each item's
// word (an id, a name) that starts with it, with its description after a
// tab when it has one.
func matching[T any](items []T, toComplete string, word func(T) (w, desc string)) []string {
	var out []string
	for _, it := range items {
		w, desc := word(it)
		switch {
		case !strings.HasPrefix(w, toComplete):
		case desc == "":
			out = append(out, w)
		default:
			out = append(out, w+"\t"+desc)
		}
	}
	return out
}

// completeFrom completes with the words of the items list reads from the
// server (see fromServer and matching); list may be a method expression
// like (*client.Client).ListUsers.
func completeFrom[T any](f *apiFlags, list func(c *client.Client, ctx context.Context) ([]T, error), word func(T) (w, desc string)) completeFunc {
	return fromServer(f, func(ctx context.Context, c *client.Client, _ []string, toComplete string) ([]string, error) {
		items, err := list(c, ctx)
		if err != nil {
			return nil, err
		}
		return matching(items, toComplete, word), nil
	})
}
