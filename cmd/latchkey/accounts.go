package main

import (
	"fmt"
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
		newMembersCmd(f, stdout),
	}
}

// newMembersCmd is `accounts members`: the users who belong to an
// account (users update --role gives one a role).
func newMembersCmd(f *apiFlags, stdout io.Writer) *cobra.Command {
	cmd := group(&cobra.Command{Use: "members", Short: "Take users out of an account"})
	remove := apiCmd(f, &cobra.Command{
		Use:   "remove ACCOUNT USER_ID",
		Short: "Take a user out of an account (its last admin stays)",
		Long: `remove takes a user out of ACCOUNT (an id or a name): they keep their
sign-in and their other accounts, and lose this one. The account's last
admin cannot be removed: make another user admin first.`,
		Args: cobra.ExactArgs(2),
		ValidArgsFunction: func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			switch len(args) {
			case 0:
				return completeAccounts(f)(cmd, args, toComplete)
			case 1:
				return completeUserIDs(f)(cmd, nil, toComplete)
			}
			return nil, cobra.ShellCompDirectiveNoFileComp
		},
	}, func(cmd *cobra.Command, c *client.Client, args []string) error {
		userID, err := parseUserID(args[1])
		if err != nil {
			return err
		}
		account, err := accountID(cmd.Context(), c, args[0], "ACCOUNT")
		if err != nil {
			return err
		}
		if err := c.RemoveMember(cmd.Context(), account, userID); err != nil {
			return err
		}
		return f.emitDone(stdout, map[string]any{"account_id": account, "user_id": userID, "removed": true}, args[1],
			fmt.Sprintf("removed user %d from account %d", userID, account))
	})
	cmd.AddCommand(remove)
	return cmd
}

// completeAccounts completes an account name from the accounts the caller
// reaches.
func completeAccounts(f *apiFlags) completeFunc {
	return completeFrom(f, (*client.Client).ListAccounts, func(a *latchkey.Account) (string, string) {
		return a.Name, "account " + itoa(a.ID)
	})
}

// accountColumns is the table of accounts.
var accountColumns = columns[*latchkey.Account]{
	header: []string{"ID", "NAME", "KEY PREFIX", "CREATED"},
	row: func(a *latchkey.Account) []string {
		return []string{itoa(a.ID), a.Name, a.KeyPrefix, timeOr(&a.CreatedAt, "-")}
	},
}
