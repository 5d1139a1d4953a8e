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

// newAuditCmd is `latchkey audit`: the account's log of every mutation.
func newAuditCmd(stdout io.Writer, getenv func(string) string) *cobra.Command {
	f := &apiFlags{}
	cmd := group(&cobra.Command{Use: "audit", Short: "Read the account's audit log"})
	f.bind(cmd, getenv)

	var keyID, actorID int64
	var actorKind, action, since, until, cursor string
	var limit int
	var all bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List audit events, newest first",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			o := client.AuditOptions{KeyID: keyID, ActorKind: latchkey.ActorKind(actorKind), Action: action, Limit: limit, Cursor: cursor}
			if cmd.Flags().Changed("actor-id") {
				o.ActorID = &actorID
			}
			var err error
			if o.Since, err = parseWhen("since", since); err != nil {
				return err
			}
			if o.Until, err = parseWhen("until", until); err != nil {
				return err
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			var p client.Page[*latchkey.AuditEvent]
			for {
				next, err := c.ListAudit(cmd.Context(), o)
				if err != nil {
					return err
				}
				p.Data, p.NextCursor = append(p.Data, next.Data...), next.NextCursor
				if !all || next.NextCursor == nil {
					break
				}
				o.Cursor = *next.NextCursor
			}
			if p.Data == nil {
				p.Data = []*latchkey.AuditEvent{}
			}
			ids := make([]string, len(p.Data))
			rows := make([][]string, len(p.Data))
			for i, e := range p.Data {
				ids[i] = itoa(e.ID)
				changed := make([]string, 0, len(e.Changes))
				for field := range e.Changes {
					changed = append(changed, field)
				}
				sort.Strings(changed)
				rows[i] = []string{ids[i], timeOr(&e.Time, "-"), fmt.Sprintf("%s:%d", e.ActorKind, e.ActorID), e.Action,
					e.TargetType + ":" + e.TargetID, dash(strings.Join(changed, ",")), dash(e.IP)}
			}
			return f.emit(stdout, p, ids, func(w io.Writer) {
				printTable(w, []string{"ID", "TIME", "ACTOR", "ACTION", "TARGET", "CHANGED", "IP"}, rows)
				if p.NextCursor != nil {
					fmt.Fprintf(w, "\nmore: --cursor %s (or --all)\n", *p.NextCursor)
				}
			})
		},
	}
	fl := list.Flags()
	fl.Int64Var(&keyID, "key", 0, "events about this key id")
	fl.StringVar(&actorKind, "actor-kind", "", "operator, root_key, user or system")
	fl.Int64Var(&actorID, "actor-id", 0, "events by this actor id (with --actor-kind)")
	fl.StringVar(&action, "action", "", "action, like key.update")
	fl.StringVar(&since, "since", "", "from: RFC 3339 time or a duration ago like 24h")
	fl.StringVar(&until, "until", "", "to: RFC 3339 time or a duration ago")
	fl.IntVar(&limit, "limit", 50, "events per page (1-1000)")
	fl.StringVar(&cursor, "cursor", "", "next page cursor")
	fl.BoolVar(&all, "all", false, "follow the cursor to the last page")
	_ = list.RegisterFlagCompletionFunc("key", completeKeyIDs(f))
	_ = list.RegisterFlagCompletionFunc("actor-kind", fixedValues(string(latchkey.ActorOperator), string(latchkey.ActorRootKey), string(latchkey.ActorUser), string(latchkey.ActorSystem)))
	_ = list.RegisterFlagCompletionFunc("action", fixedValues(latchkey.ActionKeyCreate, latchkey.ActionKeyUpdate, latchkey.ActionKeyDelete,
		latchkey.ActionKeyRevoke, latchkey.ActionKeyRotate, latchkey.ActionDeviceDelete, latchkey.ActionPermissionCreate,
		latchkey.ActionPermissionDelete, latchkey.ActionAccountCreate, latchkey.ActionUserCreate, latchkey.ActionMemberSet,
		latchkey.ActionSessionLogin, latchkey.ActionSessionLogout, latchkey.ActionSessionReuse))

	cmd.AddCommand(list)
	return cmd
}
