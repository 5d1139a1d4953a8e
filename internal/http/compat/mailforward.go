package compat

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/http/auth"
)

// Seed 000 — PATCH /api/admin/api-tokens/{id}, the admin API of a mail
// forwarding service. A signed-in account admin (the __Host-access cookie
// plus X-CSRF-Token) patches a token's owner_email, status, expires_at,
// revoked and revoked_reason. Checks, first failure wins:
//
//	401 invalid_or_expired_session  no cookie, or a dead session
//	403 forbidden                   not an admin of the account
//	403 csrf_required               no X-CSRF-Token
//	403 invalid_csrf_token          X-CSRF-Token is not the family's
//	400 invalid_params, field       a NUL byte or invalid UTF-8 in the
//	                                path, query or X-Account-ID (before
//	                                any other check)
//	400 invalid_params, field id    id is not a positive integer
//	415 unsupported_media_type      a Content-Type that is neither JSON nor a
//	                                form (application/x-www-form-urlencoded)
//	413 payload_too_large           a body over 64 KiB
//	400 invalid_params, field       a NUL byte or invalid UTF-8 in any
//	                                body field
//	400 invalid_params, field,      the first field failing the product's
//	    constraints                 DTO checks (type, length, enum, date),
//	                                in the order owner_email, status,
//	                                expires_at, revoked, revoked_reason
//	                                ("body", no constraints, when the body
//	                                is not a JSON object)
//	404 api_token_not_found, id     no such token in the account
//	400 invalid_params, field       a field the product checks after the
//	                                lookup: a malformed owner_email, null
//	                                or "" expires_at (tokens here always
//	                                expire), a null status or revoked
//	400 invalid_params, reason      status_revoked_conflict,
//	                                status_expires_at_conflict, empty_patch
//
// and 200 {ok, updated, deleted:false, item}. Errors are {"error": code};
// a store that cannot be reached answers 503 service_unavailable with
// Retry-After.

// mailForwardError is a seed 000 error: a status and {"error": code} with the
// field, reason or id at fault.
type mailForwardError struct {
	reply
	Error       string            `json:"error"`
	Field       string            `json:"field,omitempty"`
	Constraints map[string]string `json:"constraints,omitempty"`
	Reason      string            `json:"reason,omitempty"`
	Hint        string            `json:"hint,omitempty"`
	Where       string            `json:"where,omitempty"`
	ID          *int64            `json:"id,omitempty"`
}

func (e *mailForwardError) head() reply { return e.reply }
func (e *mailForwardError) body() any   { return e }

// mailForwardFail is the error {"error": code} with a status.
func mailForwardFail(status int, code string) *mailForwardError {
	return &mailForwardError{reply: reply{Status: status}, Error: code}
}

func badMailForwardField(field string) *mailForwardError {
	e := mailForwardFail(http.StatusBadRequest, "invalid_params")
	e.Field = field
	return e
}

func badMailForwardPatch(reason string) *mailForwardError {
	e := mailForwardFail(http.StatusBadRequest, "invalid_params")
	e.Reason = reason
	return e
}

// mailForward is seed 000's answer to the failures every surface meets; a
// string holding a NUL byte or invalid UTF-8 is answered as the product
// answers a bad field.
var mailForward = &surface{
	name:        "seed000",
	internal:    func() replier { return mailForwardFail(http.StatusInternalServerError, "internal_error") },
	unavailable: func(int) replier { return mailForwardFail(http.StatusServiceUnavailable, "service_unavailable") },
	badMedia: func(*http.Request) replier {
		return mailForwardFail(http.StatusUnsupportedMediaType, "unsupported_media_type")
	},
	badString: func(field, _ string) replier { return badMailForwardField(field) },
	// As the product's Express body parsers: JSON or a form.
	form:       map[string]formKind{"days": formInt},
	tooLarge:   func() replier { return mailForwardFail(http.StatusRequestEntityTooLarge, "payload_too_large") },
	unreadable: func() replier { return badMailForwardField("body") },
	badID:      func() replier { return badMailForwardField("id") },
}

// mailForwardToken is a token as the product shows it. status is the token's
// lifecycle label (active, revoked or expired); active says whether it
// works now, so a disabled key reads status "active", active false.
type mailForwardToken struct {
	ID            int64      `json:"id"`
	OwnerEmail    *string    `json:"owner_email"`
	Status        string     `json:"status"`
	CreatedAt     time.Time  `json:"created_at"`
	ExpiresAt     *time.Time `json:"expires_at"`
	RevokedAt     *time.Time `json:"revoked_at"`
	RevokedReason *string    `json:"revoked_reason"`
	CreatedIP     *string    `json:"created_ip"`
	UserAgent     *string    `json:"user_agent"`
	LastUsedAt    *time.Time `json:"last_used_at"`
	Active        bool       `json:"active"`
}

// mailForwardUpdated is the 200 answer.
type mailForwardUpdated struct {
	OK      bool             `json:"ok"`
	Updated bool             `json:"updated"`
	Deleted bool             `json:"deleted"`
	Item    mailForwardToken `json:"item"`
}

func newMailForwardToken(k *latchkey.Key, now time.Time) mailForwardToken {
	st := k.StatusAt(now)
	label := string(st)
	if st == latchkey.StatusDisabled {
		label = string(latchkey.StatusActive)
	}
	return mailForwardToken{
		ID: k.ID, OwnerEmail: k.OwnerEmail, Status: label, CreatedAt: k.CreatedAt.UTC(),
		ExpiresAt: utcPtr(k.ExpiresAt), RevokedAt: utcPtr(k.RevokedAt), RevokedReason: k.RevokedReason,
		CreatedIP: nonEmpty(k.CreatedIP), UserAgent: nonEmpty(k.UserAgent), LastUsedAt: utcPtr(k.LastUsedAt),
		Active: st == latchkey.StatusActive,
	}
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// handleMailForwardPatch is PATCH /api/admin/api-tokens/{id}: the checks
// in the order the comment at the top of this file lists, then the update.
func (s *Surfaces) handleMailForwardPatch(w http.ResponseWriter, r *http.Request) replier {
	p, id, e := callerAndID(mailForward, r, s.mailForwardPrincipal)
	if e != nil {
		return e
	}
	m, e := decodeJSON(mailForward, w, r, parseMailForwardBody)
	if e != nil {
		return e
	}
	// As the product: its DTO checks, then the lookup, then the rest.
	if terr := checkMailForwardDTO(m); terr != nil {
		return terr
	}
	ctx := actorContext(r, p)
	notFound := mailForwardFail(http.StatusNotFound, "api_token_not_found")
	notFound.ID = &id
	_, err := s.Keys.FindKeyByID(ctx, p.AccountID, id)
	if e := s.outcome(mailForward, err, notFound, nil); e != nil {
		return e
	}
	now := s.now()
	u, terr := decodeMailForwardPatch(m, now)
	if terr != nil {
		return terr
	}
	k, err := s.Keys.UpdateKey(ctx, p.AccountID, id, u)
	if e := s.outcome(mailForward, err, notFound, func(err error) replier {
		return badMailForwardField(mailForwardField(firstField(err)))
	}); e != nil {
		return e
	}
	return jsonAnswer(http.StatusOK, mailForwardUpdated{OK: true, Updated: true, Item: newMailForwardToken(k, now)})
}

// mailForwardPrincipal authenticates the caller the way the product does: the
// session cookie, then the admin role, then CSRF.
func (s *Surfaces) mailForwardPrincipal(r *http.Request) (*auth.Principal, replier) {
	unauthorized := mailForwardFail(http.StatusUnauthorized, "invalid_or_expired_session")
	forbidden := mailForwardFail(http.StatusForbidden, "forbidden")
	token, ok := auth.AccessCookieValue(r)
	if !ok {
		return nil, unauthorized
	}
	p, err := s.Auth.UserSession(r, token)
	switch latchkey.ErrorCode(err) {
	case "":
	case latchkey.EUNAUTHORIZED:
		return nil, unauthorized
	case latchkey.EFORBIDDEN:
		return nil, forbidden
	default:
		return nil, s.failure(mailForward, err)
	}
	if p.Role != latchkey.RoleAdmin {
		return nil, forbidden
	}
	p.Cookie = true
	switch err := s.Auth.CheckCSRF(r, p); {
	case err == nil:
	case errors.Is(err, auth.ErrCSRFRequired):
		return nil, mailForwardFail(http.StatusForbidden, "csrf_required")
	default:
		return nil, mailForwardFail(http.StatusForbidden, "invalid_csrf_token")
	}
	return p, nil
}

// mailForwardField names a core field as the document does.
func mailForwardField(core string) string {
	switch core {
	case "owner_email", "revoked_reason", "expires_at":
		return core
	}
	return "body"
}

// mailForwardStatuses are the status values the document allows.
var mailForwardStatuses = map[string]bool{"active": true, "revoked": true, "expired": true}

// maxReasonLen is the product's limit on revoked_reason, in characters.
const maxReasonLen = 255

// parseMailForwardBody reads a seed 000 body: a JSON object, or nothing (an
// empty patch).
func parseMailForwardBody(b []byte) (map[string]json.RawMessage, replier) {
	if len(strings.TrimSpace(string(b))) == 0 {
		return map[string]json.RawMessage{}, nil
	}
	m, err := parseObject(b)
	if err != nil {
		return nil, badMailForwardField("body")
	}
	return m, nil
}

// badMailForwardDTO is the product's answer to a failed DTO check: the field and
// class-validator's message for each failed constraint.
func badMailForwardDTO(field string, constraints map[string]string) *mailForwardError {
	e := badMailForwardField(field)
	e.Constraints = constraints
	return e
}

// checkMailForwardDTO makes the checks the product's update DTO makes before the
// token is looked up, in its order: each present, non-null field's type,
// length, enum and date format. The rest waits for decodeMailForwardPatch.
func checkMailForwardDTO(m map[string]json.RawMessage) replier {
	present := func(name string) (json.RawMessage, bool) {
		raw, ok := m[name]
		return raw, ok && !isNull(raw)
	}
	if raw, ok := present("owner_email"); ok {
		v, isStr := asString(raw)
		n := utf8.RuneCountInString(strings.TrimSpace(v))
		switch {
		case !isStr:
			return badMailForwardDTO("owner_email", map[string]string{"isString": "owner_email must be a string"})
		case n < 1:
			return badMailForwardDTO("owner_email", map[string]string{"minLength": "owner_email must be longer than or equal to 1 characters"})
		case n > maxEmailLen:
			return badMailForwardDTO("owner_email", map[string]string{"maxLength": fmt.Sprintf("owner_email must be shorter than or equal to %d characters", maxEmailLen)})
		}
	}
	if raw, ok := present("status"); ok {
		const matches = "status must match /^(active|revoked|expired)$/ regular expression"
		v, isStr := asString(raw)
		switch {
		case !isStr:
			return badMailForwardDTO("status", map[string]string{"isString": "status must be a string", "matches": matches})
		case !mailForwardStatuses[strings.ToLower(strings.TrimSpace(v))]:
			return badMailForwardDTO("status", map[string]string{"matches": matches})
		}
	}
	if raw, ok := present("expires_at"); ok {
		if v, isStr := asString(raw); !isStr || strings.TrimSpace(v) != "" {
			if _, okt := asTime(strings.TrimSpace(v)); !isStr || !okt {
				return badMailForwardDTO("expires_at", map[string]string{"isDate": "expires_at must be a Date instance"})
			}
		}
	}
	if raw, ok := present("revoked"); ok {
		if _, okb := mailForwardBool(raw); !okb {
			n, isInt := asInt(raw)
			switch {
			case isInt && n < 0:
				return badMailForwardDTO("revoked", map[string]string{"min": "revoked must not be less than 0"})
			case isInt:
				return badMailForwardDTO("revoked", map[string]string{"max": "revoked must not be greater than 1"})
			}
			return badMailForwardDTO("revoked", map[string]string{"isInt": "revoked must be an integer number"})
		}
	}
	if raw, ok := present("revoked_reason"); ok {
		v, isStr := asString(raw)
		switch {
		case !isStr:
			return badMailForwardDTO("revoked_reason", map[string]string{"isString": "revoked_reason must be a string"})
		case utf8.RuneCountInString(strings.TrimSpace(v)) > maxReasonLen:
			return badMailForwardDTO("revoked_reason", map[string]string{"maxLength": fmt.Sprintf("revoked_reason must be shorter than or equal to %d characters", maxReasonLen)})
		}
	}
	return nil
}

// maxEmailLen is the product's limit on owner_email, in characters.
const maxEmailLen = 254

// decodeMailForwardPatch turns a seed 000 body that passed checkMailForwardDTO into a
// key update, making the checks the product makes after the lookup: the
// mailbox format, null where a value is needed, and how the fields agree.
// Unknown fields are ignored. now is the expiry status:"expired" sets.
func decodeMailForwardPatch(m map[string]json.RawMessage, now time.Time) (*latchkey.KeyUpdate, replier) {
	u := &latchkey.KeyUpdate{}

	if raw, ok := m["owner_email"]; ok {
		v, ok := asString(raw)
		email := strings.ToLower(strings.TrimSpace(v))
		if !ok || utf8.RuneCountInString(email) > maxEmailLen || latchkey.ValidateEmail("owner_email", email) != nil {
			return nil, badMailForwardField("owner_email")
		}
		u.OwnerEmail = latchkey.Some(email)
	}

	status := ""
	if raw, ok := m["status"]; ok {
		v, ok := asString(raw)
		status = strings.ToLower(strings.TrimSpace(v))
		if !ok || !mailForwardStatuses[status] {
			return nil, badMailForwardField("status")
		}
	}

	var expiresAt *time.Time
	if raw, ok := m["expires_at"]; ok {
		// Tokens here always expire: null and "" are refused.
		v, ok := asString(raw)
		t, okt := asTime(strings.TrimSpace(v))
		if !ok || !okt {
			return nil, badMailForwardField("expires_at")
		}
		expiresAt = &t
	}

	var revoked *bool
	if raw, ok := m["revoked"]; ok {
		v, ok := mailForwardBool(raw)
		if !ok {
			return nil, badMailForwardField("revoked")
		}
		if status != "" && (v && status != "revoked" || !v && status == "revoked") {
			return nil, badMailForwardPatch("status_revoked_conflict")
		}
		revoked = &v
	}

	if raw, ok := m["revoked_reason"]; ok {
		switch v, ok := asString(raw); {
		case isNull(raw):
			u.RevokedReason = latchkey.Null[string]()
		case !ok:
			return nil, badMailForwardField("revoked_reason")
		default:
			v = strings.TrimSpace(v)
			if utf8.RuneCountInString(v) > maxReasonLen || strings.ContainsRune(v, 0) {
				return nil, badMailForwardField("revoked_reason")
			}
			if v == "" {
				u.RevokedReason = latchkey.Null[string]()
			} else {
				u.RevokedReason = latchkey.Some(v)
			}
		}
	}

	if status == "revoked" || status == "active" {
		revokes := status == "revoked"
		u.Revoked = &revokes
	}
	if status == "expired" {
		// A revoked token stays revoked: revocation outranks expiry.
		if expiresAt != nil && expiresAt.After(now) {
			return nil, badMailForwardPatch("status_expires_at_conflict")
		}
		if expiresAt == nil {
			expiresAt = &now
		}
	}
	if revoked != nil {
		u.Revoked = revoked
	}
	// As the product: revoking a revoked token stamps revoked_at anew.
	u.Restamp = u.Revoked != nil && *u.Revoked
	if expiresAt != nil {
		u.ExpiresAt = latchkey.Some(*expiresAt)
	}
	if u.Empty() {
		return nil, badMailForwardPatch("empty_patch")
	}
	if err := u.Validate(); err != nil {
		return nil, badMailForwardField(mailForwardField(firstField(err)))
	}
	return u, nil
}

// mailForwardBool reads revoked as the product does: a boolean, 0 or 1, or one of
// the strings 1/true/yes/on and 0/false/no/off.
func mailForwardBool(raw json.RawMessage) (bool, bool) {
	if v, ok := asBool(raw); ok {
		return v, true
	}
	if n, ok := asInt(raw); ok && (n == 0 || n == 1) {
		return n == 1, true
	}
	if s, ok := asString(raw); ok {
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "1", "true", "yes", "on":
			return true, true
		case "0", "false", "no", "off":
			return false, true
		}
	}
	return false, false
}
