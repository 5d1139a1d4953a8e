package http

import (
	"net/http"
	"strconv"

	"github.com/latchkey/latchkey"
)

// handleAudit is GET /v1/audit: a page of the account's audit events,
// filtered by key, actor, action and time.
func (s *Server) handleAudit(w http.ResponseWriter, r *http.Request) error {
	q, err := parseQuery(r, "key_id", "actor_kind", "actor_id", "action", "since", "until", "limit", "cursor")
	if err != nil {
		return err
	}
	f := latchkey.AuditFilter{AccountID: accountOf(r), Cursor: q.Get("cursor")}
	if v := q.Get("key_id"); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id <= 0 {
			return latchkey.FieldError("key_id", "must be a positive integer")
		}
		f.KeyID = &id
	}
	if v := q.Get("actor_kind"); v != "" {
		k := latchkey.ActorKind(v)
		switch k {
		case latchkey.ActorOperator, latchkey.ActorRootKey, latchkey.ActorUser, latchkey.ActorSystem:
		default:
			return latchkey.FieldError("actor_kind", "must be one of operator, root_key, user, system")
		}
		f.ActorKind = &k
	}
	if v := q.Get("actor_id"); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id < 0 {
			return latchkey.FieldError("actor_id", "must be a non-negative integer")
		}
		f.ActorID = &id
	}
	if v := q.Get("action"); v != "" {
		f.Action = &v
	}
	if v := q.Get("since"); v != "" {
		t, err := queryTime(q, "since", s.now())
		if err != nil {
			return err
		}
		f.Since = &t
	}
	if v := q.Get("until"); v != "" {
		t, err := queryTime(q, "until", s.now())
		if err != nil {
			return err
		}
		f.Until = &t
	}
	if f.Since != nil && f.Until != nil && !f.Since.Before(*f.Until) {
		return latchkey.FieldError("since", "must be before until")
	}
	if f.Limit, err = queryLimit(q); err != nil {
		return err
	}
	events, next, err := s.Audit.FindAuditEvents(r.Context(), f)
	return reply(w, http.StatusOK, newPage(events, next), err)
}
