package main

import (
	"fmt"
	"io"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/client"
	"github.com/spf13/cobra"
)

// newPermissionsCmd is `latchkey permissions`: the account's catalogue of
// the permission names keys may hold.
func newPermissionsCmd(stdout io.Writer, getenv func(string) string) *cobra.Command {
	f := &apiFlags{}
	cmd := group(&cobra.Command{Use: "permissions", Short: "Manage the account's permission catalogue"})
	f.bind(cmd, getenv)

	list := &cobra.Command{
		Use:   "list",
		Short: "List the permission names keys may hold",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			perms, err := c.ListPermissions(cmd.Context())
			if err != nil {
				return err
			}
			p := client.Page[*latchkey.Permission]{Data: perms}
			names := make([]string, len(p.Data))
			rows := make([][]string, len(p.Data))
			for i, perm := range p.Data {
				names[i] = perm.Name
				rows[i] = []string{perm.Name, perm.Description, timeOr(&perm.CreatedAt, "-")}
			}
			return f.emit(stdout, p, names, func(w io.Writer) {
				printTable(w, []string{"NAME", "DESCRIPTION", "CREATED"}, rows)
			})
		},
	}

	var description string
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Add a permission name to the catalogue",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			perm, err := c.CreatePermission(cmd.Context(), args[0], description)
			if err != nil {
				return err
			}
			return f.emit(stdout, perm, []string{perm.Name}, func(w io.Writer) {
				printTable(w, []string{"NAME", "DESCRIPTION", "CREATED"}, [][]string{{perm.Name, perm.Description, timeOr(&perm.CreatedAt, "-")}})
			})
		},
	}
	create.Flags().StringVar(&description, "description", "", "what the permission allows")

	del := &cobra.Command{
		Use:               "delete NAME",
		Short:             "Remove a permission name from the catalogue",
		Args:              usageArgs(cobra.ExactArgs(1)),
		ValidArgsFunction: firstArgOnly(completePermissions(f)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			if err := c.DeletePermission(cmd.Context(), args[0]); err != nil {
				return err
			}
			return f.emit(stdout, map[string]any{"name": args[0], "deleted": true}, []string{args[0]}, func(w io.Writer) {
				fmt.Fprintf(w, "deleted permission %s\n", args[0])
			})
		},
	}

	cmd.AddCommand(list, create, del)
	return cmd
}
