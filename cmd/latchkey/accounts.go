package main

import (
	"io"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/client"
	"github.com/spf13/cobra"
)

// accountsCmds are `latchkey accounts`: the tenants. Listing shows the
// accounts the caller reaches; creating one is the operator's.
func accountsCmds(f *apiFlags, stdout io.Writer) []*cobra.Command {
	return []*cobra.Command{
		listCmd(f, stdout, "List the accounts you reach", accountColumns, (*client.Client).ListAccounts),
		createCmd(f, stdout, "Create an account (operator only: --admin-secret)", accountColumns,
			"key-prefix", "prefix of the account's key secrets (default lk)", (*client.Client).CreateAccount),
	}
}

// accountColumns is the table of accounts.
var accountColumns = columns[*latchkey.Account]{
	header: []string{"ID", "NAME", "KEY PREFIX", "CREATED"},
	row: func(a *latchkey.Account) []string {
		return []string{itoa(a.ID), a.Name, a.KeyPrefix, timeOr(&a.CreatedAt, "-")}
	},
}
