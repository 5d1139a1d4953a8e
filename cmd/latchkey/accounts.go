package main

import (
	"io"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/client"
	"github.com/spf13/cobra"
)

// newAccountsCmd is `latchkey accounts`: the tenants. Listing shows the
// accounts the caller reaches; creating one is the operator's.
func newAccountsCmd(stdout io.Writer, getenv func(string) string) *cobra.Command {
	f := &apiFlags{}
	cmd := group(&cobra.Command{Use: "accounts", Short: "List and create accounts (tenants)"})
	f.bind(cmd, getenv)

	printAccounts := func(w io.Writer, accounts []*latchkey.Account) {
		rows := make([][]string, len(accounts))
		for i, a := range accounts {
			rows[i] = []string{itoa(a.ID), a.Name, a.KeyPrefix, timeOr(&a.CreatedAt, "-")}
		}
		printTable(w, []string{"ID", "NAME", "KEY PREFIX", "CREATED"}, rows)
	}

	list := &cobra.Command{
		Use:   "list",
		Short: "List the accounts you reach",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			accounts, err := c.ListAccounts(cmd.Context())
			if err != nil {
				return err
			}
			p := client.Page[*latchkey.Account]{Data: accounts}
			ids := make([]string, len(p.Data))
			for i, a := range p.Data {
				ids[i] = itoa(a.ID)
			}
			return f.emit(stdout, p, ids, func(w io.Writer) { printAccounts(w, p.Data) })
		},
	}

	var prefix string
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create an account (operator only: --admin-secret)",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			a, err := c.CreateAccount(cmd.Context(), args[0], prefix)
			if err != nil {
				return err
			}
			return f.emit(stdout, a, []string{itoa(a.ID)}, func(w io.Writer) { printAccounts(w, []*latchkey.Account{a}) })
		},
	}
	create.Flags().StringVar(&prefix, "key-prefix", "", "prefix of the account's key secrets (default lk)")

	cmd.AddCommand(list, create)
	return cmd
}
