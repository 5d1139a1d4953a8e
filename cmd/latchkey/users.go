package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/client"
	"github.com/spf13/cobra"
)

// usersCmds are `latchkey users`: the people who sign in to the account,
// and their roles.
func usersCmds(f *apiFlags, stdout io.Writer) []*cobra.Command {
	return []*cobra.Command{
		listCmd(f, stdout, "List the account's users and roles", memberColumns, (*client.Client).ListUsers),
		newUsersCreateCmd(f, stdout), newUsersUpdateCmd(f, stdout),
	}
}

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

// newUsersCreateCmd is `users create`: a user with a password and a role
// in the account.
func newUsersCreateCmd(f *apiFlags, stdout io.Writer) *cobra.Command {
	var in client.UserCreate
	var password, role string
	var pwStdin bool
	cmd := itemCmd(f, stdout, &cobra.Command{
		Use:   "create",
		Short: "Create a user in the account",
		PreRunE: func(cmd *cobra.Command, _ []string) (err error) {
			in.Password, err = readPassword(cmd, password, pwStdin)
			return err
		},
	}, memberColumns, func(cmd *cobra.Command, c *client.Client, _ []string) (*latchkey.Member, error) {
		in.Role = latchkey.Role(role)
		return c.CreateUser(cmd.Context(), &in)
	})
	cmd.Flags().StringVar(&in.Email, "email", "", "email to sign in with")
	cmd.Flags().StringVar(&in.Name, "name", "", "name")
	cmd.Flags().StringVar(&password, "password", "", "password, 12+ characters (prefer --password-stdin: flags show in ps)")
	cmd.Flags().BoolVar(&pwStdin, "password-stdin", false, "read the password from the first line of stdin")
	cmd.Flags().StringVar(&role, "role", "member", "admin or member (read-only)")
	_ = cmd.MarkFlagRequired("email")
	_ = cmd.RegisterFlagCompletionFunc("role", fixedValues("admin", "member"))
	return cmd
}

// newUsersUpdateCmd is `users update`: a role through the account's
// membership, the other fields through PATCH /v1/users/{id}.
func newUsersUpdateCmd(f *apiFlags, stdout io.Writer) *cobra.Command {
	var name, password, role string
	var disabled, pwStdin bool
	var id int64
	patch := map[string]any{}
	cmd := apiCmd(f, &cobra.Command{
		Use:               "update USER_ID",
		Short:             "Change a user's role, name, password, or deactivate them",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: firstArgOnly(completeUserIDs(f)),
		PreRunE: func(cmd *cobra.Command, args []string) (err error) {
			if id, err = parseKeyID(args[0]); err != nil {
				return usageErrorf("USER_ID: %q is not a user id", args[0])
			}
			pw, err := readPassword(cmd, password, pwStdin)
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("name") {
				patch["name"] = name
			}
			if cmd.Flags().Changed("disabled") {
				patch["disabled"] = disabled
			}
			if pw != "" {
				patch["password"] = pw
			}
			if len(patch) == 0 && role == "" {
				return usageErrorf("nothing to update: set --role, --name, --disabled or --password")
			}
			return nil
		},
	}, func(cmd *cobra.Command, c *client.Client, _ []string) error {
		m := &latchkey.Member{}
		if role != "" {
			account, err := accountID(cmd.Context(), c, f.account)
			if err != nil {
				return err
			}
			if m, err = c.SetMemberRole(cmd.Context(), account, id, latchkey.Role(role)); err != nil {
				return err
			}
		}
		if len(patch) > 0 {
			// The client package has no method for PATCH /v1/users/{id}.
			if err := call(cmd.Context(), c, "PATCH", fmt.Sprintf("/v1/users/%d", id), patch, m); err != nil {
				return err
			}
		}
		return memberColumns.emit(f, stdout, m, []*latchkey.Member{m})
	})
	cmd.Flags().StringVar(&role, "role", "", "admin or member")
	cmd.Flags().StringVar(&name, "name", "", "name")
	cmd.Flags().BoolVar(&disabled, "disabled", false, "deactivate the user and end their sessions (--disabled=false reactivates)")
	cmd.Flags().StringVar(&password, "password", "", "reset the password (prefer --password-stdin)")
	cmd.Flags().BoolVar(&pwStdin, "password-stdin", false, "read the new password from the first line of stdin")
	_ = cmd.RegisterFlagCompletionFunc("role", fixedValues("admin", "member"))
	return cmd
}

// accountID returns the id of the account the caller acts in: the one
// --account names, else the only one it reaches.
func accountID(ctx context.Context, c *client.Client, account string) (int64, error) {
	accounts, err := c.ListAccounts(ctx)
	if err != nil {
		return 0, err
	}
	for _, a := range accounts {
		if account != "" && (account == a.Name || account == itoa(a.ID)) {
			return a.ID, nil
		}
	}
	if account == "" && len(accounts) == 1 {
		return accounts[0].ID, nil
	}
	if account == "" {
		return 0, usageErrorf("--account: you reach %d accounts; name one", len(accounts))
	}
	return 0, usageErrorf("--account: no account %q", account)
}

// completeUserIDs completes a user id from the account's users.
func completeUserIDs(f *apiFlags) completeFunc {
	return completeFrom(f, (*client.Client).ListUsers, func(m *latchkey.Member) (string, string) {
		return itoa(m.ID), m.Email + " (" + string(m.Role) + ")"
	})
}

// memberColumns is the table of an account's users.
var memberColumns = columns[*latchkey.Member]{
	header: []string{"ID", "EMAIL", "NAME", "ROLE", "CREATED"},
	row: func(m *latchkey.Member) []string {
		return []string{itoa(m.ID), m.Email, m.Name, string(m.Role), timeOr(&m.CreatedAt, "-")}
	},
}
