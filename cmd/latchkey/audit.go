package main

import (
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
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
			q := url.Values{}
			if cmd.Flags().Changed("key") {
				q.Set("key_id", itoa(keyID))
			}
			if cmd.Flags().Changed("actor-id") {
				q.Set("actor_id", itoa(actorID))
			}
			if actorKind != "" {
				q.Set("actor_kind", actorKind)
			}
			if action != "" {
				q.Set("action", action)
			}
			for name, v := range map[string]string{"since": since, "until": until} {
				if v == "" {
					continue
				}
				t, err := parseWhen(name, v)
				if err != nil {
					return err
				}
				q.Set(name, t.Format(time.RFC3339))
			}
			if limit > 0 {
				q.Set("limit", fmt.Sprint(limit))
			}
			if cursor != "" {
				q.Set("cursor", cursor)
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			var p page[*latchkey.AuditEvent]
			for {
				var next page[*latchkey.AuditEvent]
				if err := call(cmd.Context(), c, "GET", "/v1/audit?"+q.Encode(), nil, &next); err != nil {
					return err
				}
				p.Data, p.NextCursor = append(p.Data, next.Data...), next.NextCursor
				if !all || next.NextCursor == nil {
					break
				}
				q.Set("cursor", *next.NextCursor)
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
