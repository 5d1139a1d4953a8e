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
	"github.com/latchkey/latchkey/internal/http/httpx"
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
//	415 unsupported_media_type      a Content-Type that is not JSON
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

// tokenError is a seed 000 error: a status and {"error": code} with the
// field, reason or id at fault.
type tokenError struct {
	Status      int               `json:"-"`
	Error       string            `json:"error"`
	Field       string            `json:"field,omitempty"`
	Constraints map[string]string `json:"constraints,omitempty"`
	Reason      string            `json:"reason,omitempty"`
	ID          *int64            `json:"id,omitempty"`
	RetryAfter  int               `json:"-"` // seconds, sent as Retry-After
}

func badTokenField(field string) *tokenError {
	return &tokenError{Status: http.StatusBadRequest, Error: "invalid_params", Field: field}
}

func badTokenPatch(reason string) *tokenError {
	return &tokenError{Status: http.StatusBadRequest, Error: "invalid_params", Reason: reason}
}

func renderToken(w http.ResponseWriter, e *tokenError) {
	setRetryAfter(w, e.RetryAfter)
	httpx.WriteJSON(w, e.Status, e)
}

func renderTokenInternal(w http.ResponseWriter) {
	renderToken(w, &tokenError{Status: http.StatusInternalServerError, Error: "internal_error"})
}

// renderTokenBadString answers a string holding a NUL byte or invalid
// UTF-8 as the product answers a bad field.
func renderTokenBadString(w http.ResponseWriter, err error) {
	field, _, _ := badStringField(err)
	renderToken(w, badTokenField(field))
}

// tokenFailure is the answer to an unexpected service error: 503 when the
// store cannot be reached, else a logged 500.
func (s *Surfaces) tokenFailure(err error) *tokenError {
	if secs, ok := s.unavailable("seed000", err); ok {
		return &tokenError{Status: http.StatusServiceUnavailable, Error: "service_unavailable", RetryAfter: secs}
	}
	s.logInternal("seed000", err)
	return &tokenError{Status: http.StatusInternalServerError, Error: "internal_error"}
}

// tokenItem is a token as the product shows it. status is the token's
// lifecycle label (active, revoked or expired); active says whether it
// works now, so a disabled key reads status "active", active false.
type tokenItem struct {
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

// tokenUpdated is the 200 answer.
type tokenUpdated struct {
	OK      bool      `json:"ok"`
	Updated bool      `json:"updated"`
	Deleted bool      `json:"deleted"`
	Item    tokenItem `json:"item"`
}

func newTokenItem(k *latchkey.Key, now time.Time) tokenItem {
	st := k.StatusAt(now)
	label := string(st)
	if st == latchkey.StatusDisabled {
		label = string(latchkey.StatusActive)
	}
	return tokenItem{
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

func (s *Surfaces) handleTokenPatch(w http.ResponseWriter, r *http.Request) {
	p, terr := s.tokenPrincipal(r)
	if terr != nil {
		renderToken(w, terr)
		return
	}
	id, ok := parseID(r.PathValue("id"))
	if !ok {
		renderToken(w, badTokenField("id"))
		return
	}
	if mt := mediaType(r); mt != "" && !isJSONMediaType(mt) {
		renderToken(w, &tokenError{Status: http.StatusUnsupportedMediaType, Error: "unsupported_media_type"})
		return
	}
	b, err := readBody(w, r)
	if errors.Is(err, errTooLarge) {
		renderToken(w, &tokenError{Status: http.StatusRequestEntityTooLarge, Error: "payload_too_large"})
		return
	} else if _, _, bad := badStringField(err); bad {
		renderTokenBadString(w, err)
		return
	} else if err != nil {
		renderToken(w, badTokenField("body"))
		return
	}
	m, terr := parseTokenBody(b)
	if terr != nil {
		renderToken(w, terr)
		return
	}
	// As the product: its DTO checks, then the lookup, then the rest.
	if terr := checkTokenDTO(m); terr != nil {
		renderToken(w, terr)
		return
	}
	ctx := actorContext(r, p)
	notFound := &tokenError{Status: http.StatusNotFound, Error: "api_token_not_found", ID: &id}
	switch _, err := s.Keys.FindKeyByID(ctx, p.AccountID, id); latchkey.ErrorCode(err) {
	case "":
	case latchkey.ENOTFOUND:
		renderToken(w, notFound)
		return
	default:
		renderToken(w, s.tokenFailure(err))
		return
	}
	now := s.now()
	u, terr := decodeTokenPatch(m, now)
	if terr != nil {
		renderToken(w, terr)
		return
	}
	k, err := s.Keys.UpdateKey(ctx, p.AccountID, id, u)
	switch latchkey.ErrorCode(err) {
	case "":
	case latchkey.ENOTFOUND: // deleted meanwhile
		renderToken(w, notFound)
		return
	case latchkey.EINVALID:
		renderToken(w, badTokenField(tokenField(firstField(err))))
		return
	default:
		renderToken(w, s.tokenFailure(err))
		return
	}
	httpx.WriteJSON(w, http.StatusOK, tokenUpdated{OK: true, Updated: true, Item: newTokenItem(k, now)})
}

// tokenPrincipal authenticates the caller the way the product does: the
// session cookie, then the admin role, then CSRF.
func (s *Surfaces) tokenPrincipal(r *http.Request) (*auth.Principal, *tokenError) {
	unauthorized := &tokenError{Status: http.StatusUnauthorized, Error: "invalid_or_expired_session"}
	forbidden := &tokenError{Status: http.StatusForbidden, Error: "forbidden"}
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
		return nil, s.tokenFailure(err)
	}
	if p.Role != latchkey.RoleAdmin {
		return nil, forbidden
	}
	p.Cookie = true
	switch err := s.Auth.CheckCSRF(r, p); {
	case err == nil:
	case errors.Is(err, auth.ErrCSRFRequired):
		return nil, &tokenError{Status: http.StatusForbidden, Error: "csrf_required"}
	default:
		return nil, &tokenError{Status: http.StatusForbidden, Error: "invalid_csrf_token"}
	}
	return p, nil
}

// tokenField names a core field as the document does.
func tokenField(core string) string {
	switch core {
	case "owner_email", "revoked_reason", "expires_at":
		return core
	}
	return "body"
}

// tokenStatuses are the status values the document allows.
var tokenStatuses = map[string]bool{"active": true, "revoked": true, "expired": true}

// maxReasonLen is the product's limit on revoked_reason, in characters.
const maxReasonLen = 255

// parseTokenBody reads a seed 000 body: a JSON object, or nothing (an
// empty patch).
func parseTokenBody(b []byte) (map[string]json.RawMessage, *tokenError) {
	if len(strings.TrimSpace(string(b))) == 0 {
		return map[string]json.RawMessage{}, nil
	}
	m, err := parseObject(b)
	if err != nil {
		return nil, badTokenField("body")
	}
	return m, nil
}

// badTokenDTO is the product's answer to a failed DTO check: the field and
// class-validator's message for each failed constraint.
func badTokenDTO(field string, constraints map[string]string) *tokenError {
	return &tokenError{Status: http.StatusBadRequest, Error: "invalid_params", Field: field, Constraints: constraints}
}

// checkTokenDTO makes the checks the product's update DTO makes before the
// token is looked up, in its order: each present, non-null field's type,
// length, enum and date format. The rest waits for decodeTokenPatch.
func checkTokenDTO(m map[string]json.RawMessage) *tokenError {
	present := func(name string) (json.RawMessage, bool) {
		raw, ok := m[name]
		return raw, ok && !isNull(raw)
	}
	if raw, ok := present("owner_email"); ok {
		v, isStr := asString(raw)
		n := utf8.RuneCountInString(strings.TrimSpace(v))
		switch {
		case !isStr:
			return badTokenDTO("owner_email", map[string]string{"isString": "owner_email must be a string"})
		case n < 1:
			return badTokenDTO("owner_email", map[string]string{"minLength": "owner_email must be longer than or equal to 1 characters"})
		case n > maxEmailLen:
			return badTokenDTO("owner_email", map[string]string{"maxLength": fmt.Sprintf("owner_email must be shorter than or equal to %d characters", maxEmailLen)})
		}
	}
	if raw, ok := present("status"); ok {
		const matches = "status must match /^(active|revoked|expired)$/ regular expression"
		v, isStr := asString(raw)
		switch {
		case !isStr:
			return badTokenDTO("status", map[string]string{"isString": "status must be a string", "matches": matches})
		case !tokenStatuses[strings.ToLower(strings.TrimSpace(v))]:
			return badTokenDTO("status", map[string]string{"matches": matches})
		}
	}
	if raw, ok := present("expires_at"); ok {
		if v, isStr := asString(raw); !isStr || strings.TrimSpace(v) != "" {
			if _, okt := asTime(strings.TrimSpace(v)); !isStr || !okt {
				return badTokenDTO("expires_at", map[string]string{"isDate": "expires_at must be a Date instance"})
			}
		}
	}
	if raw, ok := present("revoked"); ok {
		if _, okb := tokenBool(raw); !okb {
			n, isInt := asInt(raw)
			switch {
			case isInt && n < 0:
				return badTokenDTO("revoked", map[string]string{"min": "revoked must not be less than 0"})
			case isInt:
				return badTokenDTO("revoked", map[string]string{"max": "revoked must not be greater than 1"})
			}
			return badTokenDTO("revoked", map[string]string{"isInt": "revoked must be an integer number"})
		}
	}
	if raw, ok := present("revoked_reason"); ok {
		v, isStr := asString(raw)
		switch {
		case !isStr:
			return badTokenDTO("revoked_reason", map[string]string{"isString": "revoked_reason must be a string"})
		case utf8.RuneCountInString(strings.TrimSpace(v)) > maxReasonLen:
			return badTokenDTO("revoked_reason", map[string]string{"maxLength": fmt.Sprintf("revoked_reason must be shorter than or equal to %d characters", maxReasonLen)})
		}
	}
	return nil
}

// maxEmailLen is the product's limit on owner_email, in characters.
const maxEmailLen = 254

// decodeTokenPatch turns a seed 000 body that passed checkTokenDTO into a
// key update, making the checks the product makes after the lookup: the
// mailbox format, null where a value is needed, and how the fields agree.
// Unknown fields are ignored. now is the expiry status:"expired" sets.
func decodeTokenPatch(m map[string]json.RawMessage, now time.Time) (*latchkey.KeyUpdate, *tokenError) {
	u := &latchkey.KeyUpdate{}

	if raw, ok := m["owner_email"]; ok {
		v, ok := asString(raw)
		email := strings.ToLower(strings.TrimSpace(v))
		if !ok || utf8.RuneCountInString(email) > maxEmailLen || latchkey.ValidateEmail("owner_email", email) != nil {
			return nil, badTokenField("owner_email")
		}
		u.OwnerEmail = latchkey.Some(email)
	}

	status := ""
	if raw, ok := m["status"]; ok {
		v, ok := asString(raw)
		status = strings.ToLower(strings.TrimSpace(v))
		if !ok || !tokenStatuses[status] {
			return nil, badTokenField("status")
		}
	}

	var expiresAt *time.Time
	if raw, ok := m["expires_at"]; ok {
		// Tokens here always expire: null and "" are refused.
		v, ok := asString(raw)
		t, okt := asTime(strings.TrimSpace(v))
		if !ok || !okt {
			return nil, badTokenField("expires_at")
		}
		expiresAt = &t
	}

	var revoked *bool
	if raw, ok := m["revoked"]; ok {
		v, ok := tokenBool(raw)
		if !ok {
			return nil, badTokenField("revoked")
		}
		if status != "" && (v && status != "revoked" || !v && status == "revoked") {
			return nil, badTokenPatch("status_revoked_conflict")
		}
		revoked = &v
	}

	if raw, ok := m["revoked_reason"]; ok {
		switch v, ok := asString(raw); {
		case isNull(raw):
			u.RevokedReason = latchkey.Null[string]()
		case !ok:
			return nil, badTokenField("revoked_reason")
		default:
			v = strings.TrimSpace(v)
			if utf8.RuneCountInString(v) > maxReasonLen || strings.ContainsRune(v, 0) {
				return nil, badTokenField("revoked_reason")
			}
			if v == "" {
				u.RevokedReason = latchkey.Null[string]()
			} else {
				u.RevokedReason = latchkey.Some(v)
			}
		}
	}

	switch status {
	case "revoked":
		u.Revoked = ptr(true)
	case "active":
		u.Revoked = ptr(false)
	case "expired":
		// A revoked token stays revoked: revocation outranks expiry.
		if expiresAt != nil && expiresAt.After(now) {
			return nil, badTokenPatch("status_expires_at_conflict")
		}
		if expiresAt == nil {
			expiresAt = &now
		}
	}
	if revoked != nil {
		u.Revoked = revoked
	}
	if expiresAt != nil {
		u.ExpiresAt = latchkey.Some(*expiresAt)
	}
	if u.Empty() {
		return nil, badTokenPatch("empty_patch")
	}
	if err := u.Validate(); err != nil {
		return nil, badTokenField(tokenField(firstField(err)))
	}
	return u, nil
}

// tokenBool reads revoked as the product does: a boolean, 0 or 1, or one of
// the strings 1/true/yes/on and 0/false/no/off.
func tokenBool(raw json.RawMessage) (bool, bool) {
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

func ptr[T any](v T) *T { return &v }
