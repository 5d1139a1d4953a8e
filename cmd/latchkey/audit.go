package main

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/client"
	"github.com/spf13/cobra"
)

// auditCmds are `latchkey audit`: the account's log of every mutation.
func auditCmds(f *apiFlags, stdout io.Writer) []*cobra.Command {
	var o client.AuditOptions
	var actorID int64
	var actorKind, since, until string
	var all bool
	list := apiCmd(f, &cobra.Command{
		Use:   "list",
		Short: "List audit events, newest first",
		PreRunE: func(cmd *cobra.Command, _ []string) (err error) {
			o.ActorKind = latchkey.ActorKind(actorKind)
			if cmd.Flags().Changed("actor-id") {
				o.ActorID = &actorID
			}
			if o.Since, err = parseWhen("since", since); err != nil {
				return err
			}
			o.Until, err = parseWhen("until", until)
			return err
		},
	}, func(cmd *cobra.Command, c *client.Client, _ []string) error {
		p, err := listPages(all, o.Cursor, func(cursor string) (*client.Page[*latchkey.AuditEvent], error) {
			o.Cursor = cursor
			return c.ListAudit(cmd.Context(), o)
		})
		if err != nil {
			return err
		}
		return auditColumns.emitPage(f, stdout, p)
	})
	fl := list.Flags()
	fl.Int64Var(&o.KeyID, "key", 0, "events about this key id")
	fl.StringVar(&actorKind, "actor-kind", "", "operator, root_key, user or system")
	fl.Int64Var(&actorID, "actor-id", 0, "events by this actor id (with --actor-kind)")
	fl.StringVar(&o.Action, "action", "", "action, like key.update")
	fl.StringVar(&since, "since", "", "from: RFC 3339 time or a duration ago like 24h")
	fl.StringVar(&until, "until", "", "to: RFC 3339 time or a duration ago")
	pageFlags(list, &o.Limit, &o.Cursor, &all, "events")
	_ = list.RegisterFlagCompletionFunc("key", completeKeyIDs(f))
	_ = list.RegisterFlagCompletionFunc("actor-kind", fixedValues(string(latchkey.ActorOperator), string(latchkey.ActorRootKey), string(latchkey.ActorUser), string(latchkey.ActorSystem)))
	_ = list.RegisterFlagCompletionFunc("action", fixedValues(latchkey.ActionKeyCreate, latchkey.ActionKeyUpdate, latchkey.ActionKeyDelete,
		latchkey.ActionKeyRevoke, latchkey.ActionKeyRotate, latchkey.ActionDeviceDelete, latchkey.ActionPermissionCreate,
		latchkey.ActionPermissionDelete, latchkey.ActionAccountCreate, latchkey.ActionUserCreate, latchkey.ActionMemberSet,
		latchkey.ActionSessionLogin, latchkey.ActionSessionLogout, latchkey.ActionSessionReuse))

	return []*cobra.Command{list}
}

// auditColumns is the table of audit events: who did what to which
// target, and the names of the fields it changed.
var auditColumns = columns[*latchkey.AuditEvent]{
	header: []string{"ID", "TIME", "ACTOR", "ACTION", "TARGET", "CHANGED", "IP"},
	row: func(e *latchkey.AuditEvent) []string {
		changed := make([]string, 0, len(e.Changes))
		for field := range e.Changes {
			changed = append(changed, field)
		}
		sort.Strings(changed)
		return []string{itoa(e.ID), timeOr(&e.Time, "-"), fmt.Sprintf("%s:%d", e.ActorKind, e.ActorID), e.Action,
			e.TargetType + ":" + e.TargetID, dash(strings.Join(changed, ",")), dash(e.IP)}
	},
}
