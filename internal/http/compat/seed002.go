package compat

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/http/auth"
	"github.com/latchkey/latchkey/internal/http/httpx"
)

// Seed 002 — PATCH /apikeys/{id}, the PulseCRM public API. A signed-in
// user (Authorization: Bearer <access token>, optional x-account-id,
// default the user's first account) who is an admin of the account sets a
// key's description, flatPermissionsList and expiresAt. The body is the
// product's ApiKeyInput: description and flatPermissionsList are required
// and replace the stored values; expiresAt absent, null or "" means no
// expiry. Checks, first failure wins:
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

// apiKeyError is a seed 002 error: a status and {"error": label} with an
// optional longer message.
type apiKeyError struct {
	Status     int    `json:"-"`
	Error      string `json:"error"`
	Message    string `json:"message,omitempty"`
	RetryAfter int    `json:"-"` // seconds, sent as Retry-After
}

func badAPIKey(msg string) *apiKeyError {
	return &apiKeyError{Status: http.StatusBadRequest, Error: "Bad Request", Message: msg}
}

func renderAPIKey(w http.ResponseWriter, e *apiKeyError) {
	setRetryAfter(w, e.RetryAfter)
	httpx.WriteJSON(w, e.Status, e)
}

func renderAPIKeyInternal(w http.ResponseWriter) {
	renderAPIKey(w, &apiKeyError{Status: http.StatusInternalServerError, Error: "Internal server error"})
}

// renderAPIKeyBadString answers a string holding a NUL byte or invalid
// UTF-8, worded as the surface words a bad field ("description: ...").
func renderAPIKeyBadString(w http.ResponseWriter, err error) {
	field, msg, _ := badStringField(err)
	renderAPIKey(w, badAPIKey(field+": "+msg))
}

// apiKeyFailure is the answer to an unexpected service error: 503 when the
// store cannot be reached, else a logged 500.
func (s *Surfaces) apiKeyFailure(err error) *apiKeyError {
	if secs, ok := s.unavailable("seed002", err); ok {
		return &apiKeyError{Status: http.StatusServiceUnavailable, Error: "Service Unavailable", RetryAfter: secs,
			Message: "the service is temporarily unavailable; retry after the number of seconds in Retry-After"}
	}
	s.logInternal("seed002", err)
	return &apiKeyError{Status: http.StatusInternalServerError, Error: "Internal server error"}
}

var errAPIKeyNotFound = &apiKeyError{Status: http.StatusNotFound, Error: "API key not found"}

func (s *Surfaces) handleAPIKeyPatch(w http.ResponseWriter, r *http.Request) {
	p, aerr := s.apiKeyPrincipal(r)
	if aerr != nil {
		renderAPIKey(w, aerr)
		return
	}
	id, ok := parseID(r.PathValue("id"))
	if !ok {
		renderAPIKey(w, errAPIKeyNotFound)
		return
	}
	if mt := mediaType(r); mt != "" && !isJSONMediaType(mt) {
		renderAPIKey(w, badAPIKey("Content-Type must be application/json"))
		return
	}
	b, err := readBody(w, r)
	if errors.Is(err, errTooLarge) {
		renderAPIKey(w, &apiKeyError{Status: http.StatusRequestEntityTooLarge, Error: "Payload Too Large",
			Message: "the request body must be at most 64 KiB"})
		return
	} else if _, _, bad := badStringField(err); bad {
		renderAPIKeyBadString(w, err)
		return
	} else if err != nil {
		renderAPIKey(w, badAPIKey("could not read the request body"))
		return
	}
	u, aerr := decodeAPIKeyInput(b)
	if aerr != nil {
		renderAPIKey(w, aerr)
		return
	}
	switch _, err := s.Keys.UpdateKey(actorContext(r, p), p.AccountID, id, u); latchkey.ErrorCode(err) {
	case "":
	case latchkey.ENOTFOUND:
		renderAPIKey(w, errAPIKeyNotFound)
		return
	case latchkey.EINVALID:
		renderAPIKey(w, apiKeyInvalid(err))
		return
	default:
		renderAPIKey(w, s.apiKeyFailure(err))
		return
	}
	httpx.WriteJSON(w, http.StatusOK, struct {
		Success bool `json:"success"`
	}{true})
}

// apiKeyPrincipal authenticates a user by bearer access token and requires
// the admin role in the chosen account. Any key as the bearer is refused.
func (s *Surfaces) apiKeyPrincipal(r *http.Request) (*auth.Principal, *apiKeyError) {
	unauthorized := &apiKeyError{Status: http.StatusUnauthorized, Error: "User not authenticated",
		Message: "send Authorization: Bearer <access token>"}
	token, ok := auth.BearerToken(r)
	if !ok || token == "" {
		return nil, unauthorized
	}
	if latchkey.CheckSecret(token) {
		return nil, &apiKeyError{Status: http.StatusForbidden, Error: "API keys cannot update other API keys"}
	}
	p, err := s.Auth.UserSession(r, token)
	switch latchkey.ErrorCode(err) {
	case "":
	case latchkey.EUNAUTHORIZED:
		unauthorized.Message = "invalid or expired session"
		return nil, unauthorized
	case latchkey.EFORBIDDEN: // not a member of the account x-account-id names, or of any
		return nil, &apiKeyError{Status: http.StatusForbidden, Error: "User does not have the required permissions",
			Message: "you are not a member of this account"}
	default:
		return nil, s.apiKeyFailure(err)
	}
	if p.Role != latchkey.RoleAdmin {
		return nil, &apiKeyError{Status: http.StatusForbidden, Error: "User does not have the required permissions",
			Message: "only account administrators can update API keys"}
	}
	return p, nil
}

// apiKeyInvalid words an invalid-input error with the document's names.
func apiKeyInvalid(err error) *apiKeyError {
	switch firstField(err) {
	case "permissions":
		return &apiKeyError{Status: http.StatusBadRequest, Error: "Invalid permissions provided",
			Message: "flatPermissionsList: " + fieldMessage(err)}
	case "description":
		return badAPIKey("description: " + fieldMessage(err))
	}
	return badAPIKey(latchkey.ErrorMessage(err))
}

// decodeAPIKeyInput turns a seed 002 body (ApiKeyInput) into a key update.
// Unknown fields are ignored.
func decodeAPIKeyInput(b []byte) (*latchkey.KeyUpdate, *apiKeyError) {
	if strings.TrimSpace(string(b)) == "" {
		return nil, badAPIKey("the request body must be a JSON object with description and flatPermissionsList")
	}
	m, err := parseObject(b)
	if errors.Is(err, errNotObject) {
		return nil, badAPIKey("the request body must be a JSON object with description and flatPermissionsList")
	} else if err != nil {
		return nil, badAPIKey("the request body is not valid JSON")
	}
	u := &latchkey.KeyUpdate{}

	raw, ok := m["description"]
	if !ok || isNull(raw) {
		return nil, badAPIKey("description is required")
	}
	desc, ok := asString(raw)
	if !ok {
		return nil, badAPIKey("description must be a string")
	}
	u.Description = &desc
	if err := u.Validate(); err != nil {
		return nil, apiKeyInvalid(err)
	}

	raw, ok = m["flatPermissionsList"]
	if !ok || isNull(raw) {
		return nil, badAPIKey("flatPermissionsList is required")
	}
	perms, ok := asStrings(raw)
	if !ok {
		return nil, badAPIKey("flatPermissionsList must be an array of strings")
	}
	u.Permissions = &perms

	u.ExpiresAt = latchkey.Null[time.Time]()
	if raw, ok := m["expiresAt"]; ok && !isNull(raw) {
		v, ok := asString(raw)
		if !ok {
			return nil, badAPIKey("expiresAt must be an ISO date-time string, null or empty")
		}
		if v = strings.TrimSpace(v); v != "" {
			t, ok := asTime(v)
			if !ok {
				return nil, badAPIKey("expiresAt must be an ISO date-time like 2027-01-01T00:00:00Z")
			}
			u.ExpiresAt = latchkey.Some(t)
		}
	}
	if err := u.Validate(); err != nil {
		return nil, apiKeyInvalid(err)
	}
	return u, nil
}
