package compat

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/http/auth"
)

// This file holds the rest of the mail-forwarding admin API's token
// resource, so its admin client can manage its tokens, with the shapes of
// the product's reference. A signed-in account admin (the __Host-access
// cookie; X-CSRF-Token on POST and DELETE) calls:
//
//	GET    /api/admin/api-tokens       200 {items, pagination: {total, limit, offset}}
//	       filters owner_email, status (active|revoked|expired), active
//	       (1/0, true/false, yes/no, on/off), limit (1..200, 50), offset
//	GET    /api/admin/api-tokens/{id}  200 {item}
//	POST   /api/admin/api-tokens       {owner_email, days (1..90), user_agent?}
//	       201 {ok, created: true, token, token_type: "api_key", item}
//	DELETE /api/admin/api-tokens/{id}  200 {ok, deleted: true, item}
//
// A token is an api key of the account; its secret is shown once, in the
// create answer. user_agent, when sent, is stored as the token's user
// agent (and the creation's audit actor's) in place of the request's.

// Page sizes of the list, as the product's reference gives them.
const (
	mailForwardDefaultLimit = 50
	mailForwardMaxLimit     = 200
	mailForwardMaxDays      = 90
)

// mailForwardList is the list answer.
type mailForwardList struct {
	Items      []mailForwardToken `json:"items"`
	Pagination struct {
		Total  int `json:"total"`
		Limit  int `json:"limit"`
		Offset int `json:"offset"`
	} `json:"pagination"`
}

// handleMailForwardList is GET /api/admin/api-tokens.
func (s *Surfaces) handleMailForwardList(w http.ResponseWriter, r *http.Request) replier {
	p, e := s.mailForwardPrincipal(r)
	if e != nil {
		return e
	}
	q := r.URL.Query()
	filter := latchkey.KeyFilter{AccountID: p.AccountID, Kind: ptrTo(latchkey.KindAPI)}
	if v := strings.TrimSpace(q.Get("owner_email")); v != "" {
		email := latchkey.NormalizeEmail(v)
		filter.OwnerEmail = &email
	}
	status := strings.ToLower(strings.TrimSpace(q.Get("status")))
	if status != "" && !mailForwardStatuses[status] {
		return badMailForwardField("status")
	}
	var active *bool
	if v := q.Get("active"); v != "" {
		b, ok := mailForwardBool(json.RawMessage(strconv.Quote(v)))
		if !ok {
			return badMailForwardField("active")
		}
		active = &b
	}
	limit, ok := queryInt(q.Get("limit"), mailForwardDefaultLimit, 1, mailForwardMaxLimit)
	if !ok {
		return badMailForwardField("limit")
	}
	offset, ok := queryInt(q.Get("offset"), 0, 0, maxListedKeys)
	if !ok {
		return badMailForwardField("offset")
	}
	keys, err := s.allKeys(actorContext(r, p), filter)
	if err != nil {
		return s.failure(mailForward, err)
	}
	now := s.now()
	out := mailForwardList{Items: []mailForwardToken{}}
	for _, k := range keys {
		t := newMailForwardToken(k, now)
		if status != "" && t.Status != status || active != nil && t.Active != *active {
			continue
		}
		if out.Pagination.Total >= offset && len(out.Items) < limit {
			out.Items = append(out.Items, t)
		}
		out.Pagination.Total++
	}
	out.Pagination.Limit, out.Pagination.Offset = limit, offset
	return jsonAnswer(http.StatusOK, out)
}

// queryInt reads an integer query parameter in [lo, hi]; empty is def.
func queryInt(v string, def, lo, hi int) (int, bool) {
	if v = strings.TrimSpace(v); v == "" {
		return def, true
	}
	n, err := strconv.Atoi(v)
	return n, err == nil && n >= lo && n <= hi
}

func ptrTo[T any](v T) *T { return &v }

// mailForwardTarget authenticates an admin and finds the token {id} names
// in the account.
func (s *Surfaces) mailForwardTarget(r *http.Request) (*auth.Principal, *latchkey.Key, replier) {
	p, id, e := callerAndID(mailForward, r, s.mailForwardPrincipal)
	if e != nil {
		return nil, nil, e
	}
	k, err := s.Keys.FindKeyByID(actorContext(r, p), p.AccountID, id)
	if e := s.outcome(mailForward, err, mailForwardNotFound(id), nil); e != nil {
		return nil, nil, e
	}
	if k.Kind != latchkey.KindAPI { // root keys are not this product's tokens
		return nil, nil, mailForwardNotFound(id)
	}
	return p, k, nil
}

// mailForwardNotFound is the 404 naming the id.
func mailForwardNotFound(id int64) *mailForwardError {
	e := mailForwardFail(http.StatusNotFound, "api_token_not_found")
	e.ID = &id
	return e
}

// handleMailForwardGet is GET /api/admin/api-tokens/{id}.
func (s *Surfaces) handleMailForwardGet(w http.ResponseWriter, r *http.Request) replier {
	_, k, e := s.mailForwardTarget(r)
	if e != nil {
		return e
	}
	return jsonAnswer(http.StatusOK, struct {
		Item mailForwardToken `json:"item"`
	}{newMailForwardToken(k, s.now())})
}

// handleMailForwardDelete is DELETE /api/admin/api-tokens/{id}: the item
// as it was, then gone.
func (s *Surfaces) handleMailForwardDelete(w http.ResponseWriter, r *http.Request) replier {
	p, k, e := s.mailForwardTarget(r)
	if e != nil {
		return e
	}
	err := s.Keys.DeleteKey(actorContext(r, p), k.AccountID, k.ID)
	if e := s.outcome(mailForward, err, mailForwardNotFound(k.ID), nil); e != nil {
		return e
	}
	return jsonAnswer(http.StatusOK, struct {
		OK      bool             `json:"ok"`
		Deleted bool             `json:"deleted"`
		Item    mailForwardToken `json:"item"`
	}{true, true, newMailForwardToken(k, s.now())})
}

// mailForwardCreated is the create answer.
type mailForwardCreated struct {
	OK        bool             `json:"ok"`
	Created   bool             `json:"created"`
	Token     string           `json:"token"`
	TokenType string           `json:"token_type"`
	Item      mailForwardToken `json:"item"`
}

// handleMailForwardCreate is POST /api/admin/api-tokens.
func (s *Surfaces) handleMailForwardCreate(w http.ResponseWriter, r *http.Request) replier {
	p, m, e := callerAndBody(mailForward, w, r, s.mailForwardPrincipal, parseMailForwardBody)
	if e != nil {
		return e
	}
	now := s.now()
	c, ua, e := decodeMailForwardCreate(m, now)
	if e != nil {
		return e
	}
	actor := p.Actor
	if ua != "" {
		actor.UserAgent = ua
	}
	k, secret, err := s.Keys.CreateKey(latchkey.NewContextWithActor(r.Context(), actor), p.AccountID, c)
	if e := s.outcome(mailForward, err, nil, func(err error) replier {
		return badMailForwardField(mailForwardField(firstField(err)))
	}); e != nil {
		return e
	}
	return jsonAnswer(http.StatusCreated, mailForwardCreated{OK: true, Created: true, Token: secret, TokenType: "api_key",
		Item: newMailForwardToken(k, now)})
}

// decodeMailForwardCreate reads {owner_email, days, user_agent?} into a key
// to create, expiring days from now, and the user agent to stamp ("" for
// the request's).
func decodeMailForwardCreate(m map[string]json.RawMessage, now time.Time) (*latchkey.KeyCreate, string, replier) {
	v, ok := asString(m["owner_email"])
	email := latchkey.NormalizeEmail(v)
	if !ok || utf8.RuneCountInString(email) > maxEmailLen || latchkey.ValidateEmail("owner_email", email) != nil {
		return nil, "", badMailForwardField("owner_email")
	}
	days, ok := asInt(m["days"])
	if !ok || days < 1 || days > mailForwardMaxDays {
		e := badMailForwardField("days")
		e.Hint = "integer 1.." + strconv.Itoa(mailForwardMaxDays)
		return nil, "", e
	}
	ua := ""
	if raw, ok := m["user_agent"]; ok && !isNull(raw) {
		if ua, ok = asString(raw); !ok || len(ua) > maxUserAgentLen {
			return nil, "", badMailForwardField("user_agent")
		}
		ua = strings.TrimSpace(ua)
	}
	expires := now.Add(time.Duration(days) * 24 * time.Hour)
	return &latchkey.KeyCreate{Kind: latchkey.KindAPI, Name: email, OwnerEmail: &email, ExpiresAt: &expires}, ua, nil
}

// maxUserAgentLen bounds the user_agent a token is created with.
const maxUserAgentLen = 512
