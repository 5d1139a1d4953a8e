package main

import (
	"context"
	"fmt"
	"io"
	"strconv"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/client"
	"github.com/spf13/cobra"
)

// usersCmds are `latchkey users`: the people who sign in to the account,
// and their roles.
func usersCmds(f *apiFlags, stdout io.Writer) []*cobra.Command {
	return []*cobra.Command{
		listCmd(f, stdout, "List the account's users and roles", userColumns, (*client.Client).ListUsers),
		newUsersCreateCmd(f, stdout), newUsersUpdateCmd(f, stdout), newUsersChangePasswordCmd(f, stdout),
	}
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
	}, userColumns, func(cmd *cobra.Command, c *client.Client, _ []string) (*latchkey.Member, error) {
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
	var patch client.UserUpdate
	cmd := apiCmd(f, &cobra.Command{
		Use:               "update USER_ID",
		Short:             "Change a user's role, name, password, or deactivate them",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: firstArgOnly(completeUserIDs(f)),
		PreRunE: func(cmd *cobra.Command, args []string) (err error) {
			if id, err = parseUserID(args[0]); err != nil {
				return err
			}
			pw, err := readPassword(cmd, password, pwStdin)
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("name") {
				patch.Name = &name
			}
			if cmd.Flags().Changed("disabled") {
				patch.Disabled = &disabled
			}
			if pw != "" {
				patch.Password = &pw
			}
			if patch == (client.UserUpdate{}) && role == "" {
				return usageErrorf("nothing to update: set --role, --name, --disabled or --password")
			}
			return nil
		},
	}, func(cmd *cobra.Command, c *client.Client, _ []string) error {
		m := &latchkey.Member{}
		if role != "" {
			account, err := accountID(cmd.Context(), c, f.account, "--account")
			if err != nil {
				return err
			}
			if m, err = c.SetMemberRole(cmd.Context(), account, id, latchkey.Role(role)); err != nil {
				return err
			}
		}
		if patch != (client.UserUpdate{}) {
			u, err := c.UpdateUser(cmd.Context(), id, &patch)
			if err != nil {
				return err
			}
			m.User = *u
		}
		return userColumns.emit(f, stdout, m, []*latchkey.Member{m})
	})
	cmd.Flags().StringVar(&role, "role", "", "admin or member")
	cmd.Flags().StringVar(&name, "name", "", "name")
	cmd.Flags().BoolVar(&disabled, "disabled", false, "deactivate the user and end their sessions (--disabled=false reactivates)")
	cmd.Flags().StringVar(&password, "password", "", "reset the password and end their sessions (prefer --password-stdin)")
	cmd.Flags().BoolVar(&pwStdin, "password-stdin", false, "read the new password from the first line of stdin")
	_ = cmd.RegisterFlagCompletionFunc("role", fixedValues("admin", "member"))
	return cmd
}

// parseUserID reads a USER_ID argument.
func parseUserID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, usageErrorf("USER_ID: %q is not a user id", s)
	}
	return id, nil
}

// newUsersChangePasswordCmd is `users change-password`: your own password,
// as a user: it signs in with the current one (no root key needed) and
// sets the new one, which ends every session of yours.
func newUsersChangePasswordCmd(f *apiFlags, stdout io.Writer) *cobra.Command {
	var email string
	var fromStdin bool
	cmd := &cobra.Command{
		Use:   "change-password",
		Short: "Change your own password (you sign in with the current one)",
		Long: `change-password signs you in as --email with your current password and sets a
new one; every session of yours ends, so sign in again. The passwords are
typed at prompts that do not echo, or with --password-stdin read from the
first two lines of stdin: the current one, then the new one.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.resolve(); err != nil {
				return err
			}
			prompts := []string{"current password: ", "new password: "}
			if !fromStdin {
				prompts = append(prompts, "new password again: ")
			}
			pw, err := readSecrets(cmd.Context(), cmd.InOrStdin(), cmd.ErrOrStderr(), fromStdin, prompts...)
			if err != nil {
				return usageErrorf("passwords: %v", err)
			}
			if len(pw) == 3 && pw[1] != pw[2] {
				return usageErrorf("the new passwords differ")
			}
			c := client.New(f.server, "")
			s, err := c.Login(cmd.Context(), email, pw[0])
			if err != nil {
				return err
			}
			c.AccessToken = s.AccessToken
			if err := c.ChangePassword(cmd.Context(), pw[0], pw[1]); err != nil {
				return err
			}
			return f.emitDone(stdout, map[string]any{"email": email, "password_changed": true}, email,
				fmt.Sprintf("changed the password of %s; every session of yours has ended: sign in again", email))
		},
	}
	cmd.Flags().StringVar(&email, "email", "", "your email")
	cmd.Flags().BoolVar(&fromStdin, "password-stdin", false, "read the current and the new password from the first two lines of stdin")
	_ = cmd.MarkFlagRequired("email")
	return cmd
}

// accountID returns the id of the account the caller acts in: the one
// account names (an id or a name; what says where it was given), else the
// only one the caller reaches.
func accountID(ctx context.Context, c *client.Client, account, what string) (int64, error) {
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
		return 0, usageErrorf("%s: you reach %d accounts; name one", what, len(accounts))
	}
	return 0, usageErrorf("%s: no account %q", what, account)
}

// completeUserIDs completes a user id from the account's users.
func completeUserIDs(f *apiFlags) completeFunc {
	return completeFrom(f, (*client.Client).ListUsers, func(m *latchkey.Member) (string, string) {
		return itoa(m.ID), m.Email + " (" + string(m.Role) + ")"
	})
}

// userColumns is the table of an account's users.
var userColumns = columns[*latchkey.Member]{
	header: []string{"ID", "EMAIL", "NAME", "ROLE", "STATUS", "CREATED"},
	row: func(m *latchkey.Member) []string {
		status := "active"
		if m.Disabled {
			status = "disabled"
		}
		return []string{itoa(m.ID), m.Email, m.Name, dash(string(m.Role)), status, timeOr(&m.CreatedAt, "-")}
	},
}
