// The audit log page: every change of the account, newest first, with
// filters by key, actor kind and action, and pagination.

package ui

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/latchkey/latchkey"
)

// auditData is the page's state.
type auditData struct {
	Events                 []*latchkey.AuditEvent
	Emails                 map[int64]string // the account's users, by id, to name a user actor
	KeyID, Actor, Action   string
	Next                   string
	Actors                 []latchkey.ActorKind
	Filtered, NotFirstPage bool
}

// auditPage lists audit events.
func (u *UI) auditPage(w http.ResponseWriter, r *http.Request, p *page) {
	if !principal(r).Can(latchkey.PermAuditRead) {
		u.errorPage(w, r, p, latchkey.Errorf(latchkey.EFORBIDDEN, "your role may not read the audit log"))
		return
	}
	q := r.URL.Query()
	d := &auditData{KeyID: strings.TrimSpace(q.Get("key_id")), Actor: q.Get("actor"), Action: strings.TrimSpace(q.Get("action")),
		Actors: []latchkey.ActorKind{latchkey.ActorUser, latchkey.ActorRootKey, latchkey.ActorOperator}}
	f := latchkey.AuditFilter{AccountID: principal(r).AccountID, Limit: 50, Cursor: q.Get("cursor")}
	if d.KeyID != "" {
		id, err := strconv.ParseInt(d.KeyID, 10, 64)
		if err != nil {
			p.Error, p.Data = "key_id: must be a key id (a number)", d
			u.render(w, r, http.StatusBadRequest, "audit", p)
			return
		}
		f.KeyID = &id
	}
	if d.Actor != "" {
		k := latchkey.ActorKind(d.Actor)
		f.ActorKind = &k
	}
	if d.Action != "" {
		f.Action = &d.Action
	}
	d.Filtered, d.NotFirstPage = d.KeyID != "" || d.Actor != "" || d.Action != "", f.Cursor != ""
	events, next, err := u.Audit.FindAuditEvents(r.Context(), f)
	if err != nil {
		if latchkey.ErrorCode(err) == latchkey.EINVALID {
			p.Error, p.Data = latchkey.ErrorMessage(err), d
			u.render(w, r, http.StatusBadRequest, "audit", p)
			return
		}
		u.errorPage(w, r, p, err)
		return
	}
	d.Events, d.Next = events, nextPage(q, next, "key_id", "actor", "action")
	if ms, err := u.Users.FindMembers(r.Context(), principal(r).AccountID); err == nil {
		d.Emails = make(map[int64]string, len(ms))
		for _, m := range ms {
			d.Emails[m.ID] = m.Email
		}
	}
	p.Title, p.Nav, p.Data = "Audit log", "audit", d
	u.render(w, r, http.StatusOK, "audit", p)
}
