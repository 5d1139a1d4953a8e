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

// newUsersCmd is `latchkey users`: the people who sign in to the account,
// and their roles.
func newUsersCmd(stdout io.Writer, getenv func(string) string) *cobra.Command {
	f := &apiFlags{}
	cmd := group(&cobra.Command{Use: "users", Short: "Manage the account's users and their roles"})
	f.bind(cmd, getenv)
	cmd.AddCommand(newUsersListCmd(f, stdout), newUsersCreateCmd(f, stdout), newUsersUpdateCmd(f, stdout))
	return cmd
}

func printMembers(w io.Writer, members []*latchkey.Member) {
	rows := make([][]string, len(members))
	for i, m := range members {
		rows[i] = []string{itoa(m.ID), m.Email, m.Name, string(m.Role), timeOr(&m.CreatedAt, "-")}
	}
	printTable(w, []string{"ID", "EMAIL", "NAME", "ROLE", "CREATED"}, rows)
}

func memberIDs(members []*latchkey.Member) []string {
	ids := make([]string, len(members))
	for i, m := range members {
		ids[i] = itoa(m.ID)
	}
	return ids
}

func newUsersListCmd(f *apiFlags, stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the account's users and roles",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			members, err := c.ListUsers(cmd.Context())
			if err != nil {
				return err
			}
			p := client.Page[*latchkey.Member]{Data: members}
			return f.emit(stdout, p, memberIDs(p.Data), func(w io.Writer) { printMembers(w, p.Data) })
		},
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

func newUsersCreateCmd(f *apiFlags, stdout io.Writer) *cobra.Command {
	var email, name, password, role string
	var pwStdin bool
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a user in the account",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			pw, err := readPassword(cmd, password, pwStdin)
			if err != nil {
				return err
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			m, err := c.CreateUser(cmd.Context(), &client.UserCreate{Email: email, Name: name, Password: pw, Role: latchkey.Role(role)})
			if err != nil {
				return err
			}
			return f.emit(stdout, m, []string{itoa(m.ID)}, func(w io.Writer) { printMembers(w, []*latchkey.Member{m}) })
		},
	}
	cmd.Flags().StringVar(&email, "email", "", "email to sign in with")
	cmd.Flags().StringVar(&name, "name", "", "name")
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
	cmd := &cobra.Command{
		Use:               "update USER_ID",
		Short:             "Change a user's role, name, password, or deactivate them",
		Args:              usageArgs(cobra.ExactArgs(1)),
		ValidArgsFunction: firstArgOnly(completeUserIDs(f)),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseKeyID(args[0])
			if err != nil {
				return usageErrorf("USER_ID: %q is not a user id", args[0])
			}
			pw, err := readPassword(cmd, password, pwStdin)
			if err != nil {
				return err
			}
			patch := map[string]any{}
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
			c, err := f.client()
			if err != nil {
				return err
			}
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
			return f.emit(stdout, m, []string{itoa(id)}, func(w io.Writer) { printMembers(w, []*latchkey.Member{m}) })
		},
	}
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
	return fromServer(f, func(ctx context.Context, c *client.Client, _ []string, toComplete string) ([]string, error) {
		members, err := c.ListUsers(ctx)
		if err != nil {
			return nil, err
		}
		var out []string
		for _, m := range members {
			if id := itoa(m.ID); strings.HasPrefix(id, toComplete) {
				out = append(out, id+"\t"+m.Email+" ("+string(m.Role)+")")
			}
		}
		return out, nil
	})
}
