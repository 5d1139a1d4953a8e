package compat

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/http/auth"
)

// Seed 002 — PATCH /apikeys/{id}, the PulseCRM public API. A signed-in
// user (Authorization: Bearer <access token>, optional x-account-id,
// default the user's first account) who is an admin of the account sets a
// key's description, flatPermissionsList and expiresAt. The body is the
// product's ApiKeyInput: description and flatPermissionsList are required
// and replace the stored values; expiresAt null or "" means no expiry, and
// an absent expiresAt keeps the stored one. Checks, first failure wins:
//
//	400 Bad Request                 a NUL byte or invalid UTF-8 in the
//	                                path, query or x-account-id
//	401 User not authenticated      no bearer, or a dead session
//	403 API keys cannot update other API keys   the bearer is an api or root key
//	403 User does not have the required permissions   not an admin of the account
//	404 API key not found           the id names no key (ids are strings here)
//	400 Bad Request                 a Content-Type that is not JSON, a bad body
//	413 Payload Too Large           a body over 64 KiB
//	400 Bad Request                 a NUL byte or invalid UTF-8 in any
//	                                body field
//	400 Invalid permissions provided   a name not in the account's catalogue
//	404 API key not found           no such key in the account
//
// and 200 {"success": true}. Errors are the product's {"error", "message"};
// a store that cannot be reached answers 503 Service Unavailable with
// Retry-After.

// pulseCRMError is a seed 002 error: a status and {"error": label} with an
// optional longer message.
type pulseCRMError struct {
	reply
	Error   string `json:"error"`
	Message string `json:"message,omitempty"`
}

func (e *pulseCRMError) head() reply { return e.reply }
func (e *pulseCRMError) body() any   { return e }

// pulseCRMFail is the error {"error": label, "message": msg} with a status.
func pulseCRMFail(status int, label, msg string) *pulseCRMError {
	return &pulseCRMError{reply: reply{Status: status}, Error: label, Message: msg}
}

func badPulseCRM(msg string) *pulseCRMError {
	return pulseCRMFail(http.StatusBadRequest, "Bad Request", msg)
}

// pulseCRM is seed 002's answer to the failures every surface meets; a
// string holding a NUL byte or invalid UTF-8 is worded as the surface
// words a bad field ("description: ...").
var pulseCRM = &surface{
	name:     "seed002",
	internal: func() replier { return pulseCRMFail(http.StatusInternalServerError, "Internal server error", "") },
	unavailable: func(int) replier {
		return pulseCRMFail(http.StatusServiceUnavailable, "Service Unavailable",
			"the service is temporarily unavailable; retry after the number of seconds in Retry-After")
	},
	badMedia:  func(*http.Request) replier { return badPulseCRM("Content-Type must be application/json") },
	badString: func(field, msg string) replier { return badPulseCRM(field + ": " + msg) },
	tooLarge: func() replier {
		return pulseCRMFail(http.StatusRequestEntityTooLarge, "Payload Too Large", "the request body must be at most 64 KiB")
	},
	unreadable: func() replier { return badPulseCRM("could not read the request body") },
	badID:      func() replier { return errPulseCRMNotFound }, // as the product: no such key
}

var errPulseCRMNotFound = pulseCRMFail(http.StatusNotFound, "API key not found", "")

// handlePulseCRMPatch is PATCH /apikeys/{id}: the checks in the order the
// comment at the top of this file lists, then the update.
func (s *Surfaces) handlePulseCRMPatch(w http.ResponseWriter, r *http.Request) replier {
	p, id, e := callerAndID(pulseCRM, r, s.pulseCRMPrincipal)
	if e != nil {
		return e
	}
	u, e := decodeJSON(pulseCRM, w, r, decodePulseCRMInput)
	if e != nil {
		return e
	}
	_, err := s.Keys.UpdateKey(actorContext(r, p), p.AccountID, id, u)
	if e := s.outcome(pulseCRM, err, errPulseCRMNotFound, pulseCRMInvalid); e != nil {
		return e
	}
	return jsonAnswer(http.StatusOK, struct {
		Success bool `json:"success"`
	}{true})
}

// pulseCRMPrincipal authenticates a user by bearer access token and requires
// the admin role in the chosen account. Any key as the bearer is refused.
func (s *Surfaces) pulseCRMPrincipal(r *http.Request) (*auth.Principal, replier) {
	unauthorized := pulseCRMFail(http.StatusUnauthorized, "User not authenticated", "send Authorization: Bearer <access token>")
	token, ok := auth.BearerToken(r)
	if !ok || token == "" {
		return nil, unauthorized
	}
	if latchkey.CheckSecret(token) {
		return nil, pulseCRMFail(http.StatusForbidden, "API keys cannot update other API keys", "")
	}
	p, err := s.Auth.UserSession(r, token)
	switch latchkey.ErrorCode(err) {
	case "":
	case latchkey.EUNAUTHORIZED:
		unauthorized.Message = "invalid or expired session"
		return nil, unauthorized
	case latchkey.EFORBIDDEN: // not a member of the account x-account-id names, or of any
		return nil, pulseCRMFail(http.StatusForbidden, "User does not have the required permissions",
			"you are not a member of this account")
	default:
		return nil, s.failure(pulseCRM, err)
	}
	if p.Role != latchkey.RoleAdmin {
		return nil, pulseCRMFail(http.StatusForbidden, "User does not have the required permissions",
			"only account administrators can update API keys")
	}
	return p, nil
}

// pulseCRMInvalid words an invalid-input error with the document's names.
func pulseCRMInvalid(err error) replier {
	switch firstField(err) {
	case "permissions":
		return pulseCRMFail(http.StatusBadRequest, "Invalid permissions provided", "flatPermissionsList: "+fieldMessage(err))
	case "description":
		return badPulseCRM("description: " + fieldMessage(err))
	}
	return badPulseCRM(latchkey.ErrorMessage(err))
}

// decodePulseCRMInput turns a seed 002 body (ApiKeyInput) into a key update.
// Unknown fields are ignored.
func decodePulseCRMInput(b []byte) (*latchkey.KeyUpdate, replier) {
	m, e := requireObject(b, badPulseCRM, "the request body must be a JSON object with description and flatPermissionsList",
		"the request body is not valid JSON")
	if e != nil {
		return nil, e
	}
	u := &latchkey.KeyUpdate{}
	desc, e := pulseCRMRequired(m, "description", "a string", asString)
	if e != nil {
		return nil, e
	}
	u.Description = &desc
	if err := u.Validate(); err != nil {
		return nil, pulseCRMInvalid(err)
	}
	perms, e := pulseCRMRequired(m, "flatPermissionsList", "an array of strings", asStrings)
	if e != nil {
		return nil, e
	}
	u.Permissions = &perms

	// An absent expiresAt keeps the stored expiry; null or "" removes it.
	if raw, ok := m["expiresAt"]; ok && isNull(raw) {
		u.ExpiresAt = latchkey.Null[time.Time]()
	} else if ok {
		v, ok := asString(raw)
		if !ok {
			return nil, badPulseCRM("expiresAt must be an ISO date-time string, null or empty")
		}
		u.ExpiresAt = latchkey.Null[time.Time]()
		if v = strings.TrimSpace(v); v != "" {
			t, ok := asTime(v)
			if !ok {
				return nil, badPulseCRM("expiresAt must be an ISO date-time like 2027-01-01T00:00:00Z")
			}
			u.ExpiresAt = latchkey.Some(t)
		}
	}
	if err := u.Validate(); err != nil {
		return nil, pulseCRMInvalid(err)
	}
	return u, nil
}

// pulseCRMRequired decodes a required member of ApiKeyInput with as, or
// answers that it is missing (absent or null) or not what (its JSON kind).
func pulseCRMRequired[T any](m map[string]json.RawMessage, name, what string, as func(json.RawMessage) (T, bool)) (T, replier) {
	var zero T
	raw, ok := m[name]
	if !ok || isNull(raw) {
		return zero, badPulseCRM(name + " is required")
	}
	v, ok := as(raw)
	if !ok {
		return zero, badPulseCRM(name + " must be " + what)
	}
	return v, nil
}
