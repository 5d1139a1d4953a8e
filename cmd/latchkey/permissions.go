package main

import (
	"fmt"
	"io"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/client"
	"github.com/spf13/cobra"
)

// permissionsCmds are `latchkey permissions`: the account's catalogue of
// the permission names keys may hold.
func permissionsCmds(f *apiFlags, stdout io.Writer) []*cobra.Command {
	del := apiCmd(f, &cobra.Command{Use: "delete NAME", Short: "Remove a permission name from the catalogue", Args: cobra.ExactArgs(1),
		ValidArgsFunction: firstArgOnly(completePermissions(f))},
		func(cmd *cobra.Command, c *client.Client, args []string) error {
			if err := c.DeletePermission(cmd.Context(), args[0]); err != nil {
				return err
			}
			return f.emitDone(stdout, map[string]any{"name": args[0], "deleted": true}, args[0], fmt.Sprintf("deleted permission %s", args[0]))
		})
	return []*cobra.Command{
		listCmd(f, stdout, "List the permission names keys may hold", permissionColumns, (*client.Client).ListPermissions),
		createCmd(f, stdout, "Add a permission name to the catalogue", permissionColumns,
			"description", "what the permission allows", (*client.Client).CreatePermission),
		del,
	}
}

// permissionColumns is the table of the catalogue.
var permissionColumns = columns[*latchkey.Permission]{
	header: []string{"NAME", "DESCRIPTION", "CREATED"},
	row: func(p *latchkey.Permission) []string {
		return []string{p.Name, p.Description, timeOr(&p.CreatedAt, "-")}
	},
}
