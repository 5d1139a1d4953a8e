package compat

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/http/auth"
	"github.com/latchkey/latchkey/internal/http/httpx"
)

// Seed 003 — PUT /api/admin/api-tokens/{token}, the Unleash admin API.
// {token} is the secret itself, looked up by its hash in the caller's
// account; the body {"expiresAt": date-time} sets the key's expiry. The
// caller is a root key holding keys:write, as "Bearer <key>" or the bare
// key in Authorization, or the access token of an account admin. Checks,
// first failure wins, with Unleash's error bodies:
//
//	400 BadDataError             a NUL byte or invalid UTF-8 in the path
//	                             (the token), query or X-Account-ID
//	401 AuthenticationRequired   no Authorization header
//	401 UnauthorizedError        an unknown, revoked, expired or disabled credential
//	403 {"message": ...}         an api key (Unleash's answer to a token of the wrong type)
//	403 PermissionError          no keys:write (a member, a read-only root key)
//	415 (no body)                a body whose Content-Type is not application/json
//	413 ContentTooLarge          a body over 64 KiB
//	400 BadDataError             a NUL byte or invalid UTF-8 in any body field
//	400 BadDataError             expiresAt missing or not an RFC 3339 date-time
//
// then a token the account does not know answers 200 with no body and
// changes nothing; a root key's token needs account:admin and may not be
// the caller's own (403 OperationDeniedError); a known one gets the new
// expiry: 200, no body. A store that cannot be reached answers 503 with
// Retry-After, in Unleash's error shape.

// unleashFailure is a seed 003 error: a status and a body (nil: none).
type unleashFailure struct {
	Status     int
	Body       any
	RetryAfter int // seconds, sent as Retry-After
}

// unleashError is Unleash's serialized error (UnleashError.toJSON) with the
// extra members of its subclasses.
type unleashError struct {
	ID            string          `json:"id"`
	Name          string          `json:"name"`
	Message       string          `json:"message"`
	Details       []unleashDetail `json:"details"`
	Permissions   []string        `json:"permissions,omitempty"`   // PermissionError
	Path          string          `json:"path,omitempty"`          // AuthenticationRequired
	Type          string          `json:"type,omitempty"`          // AuthenticationRequired
	DefaultHidden *bool           `json:"defaultHidden,omitempty"` // AuthenticationRequired
}

// unleashDetail is one entry of an error's details.
type unleashDetail struct {
	Path    string `json:"path,omitempty"`
	Message string `json:"message"`
}

func newUnleashError(status int, name, message string) *unleashFailure {
	return &unleashFailure{Status: status, Body: &unleashError{ID: newErrorID(), Name: name, Message: message,
		Details: []unleashDetail{{Message: message}}}}
}

// newErrorID returns a random UUID (version 4), as Unleash gives each error.
func newErrorID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// loginPath is where AuthenticationRequired points a caller.
const loginPath = "/v1/auth/login"

func unleashAuthRequired() *unleashFailure {
	msg := "You must log in to use Latchkey. Your request had no authorization header, so we could not authorize you. Try logging in at " + loginPath
	f := newUnleashError(http.StatusUnauthorized, "AuthenticationRequired", msg)
	e := f.Body.(*unleashError)
	e.Path, e.Type, e.DefaultHidden = loginPath, "password", ptr(false)
	return f
}

func unleashUnauthorized() *unleashFailure {
	return newUnleashError(http.StatusUnauthorized, "UnauthorizedError", "You must log in to use Latchkey.")
}

// unleashTokenType is Unleash's answer to a token of a type the endpoint
// does not take; Latchkey gives it to an api key.
func unleashTokenType() *unleashFailure {
	return &unleashFailure{Status: http.StatusForbidden, Body: map[string]string{
		"message": "invalid token: expected a different token type for this endpoint"}}
}

func unleashPermission(perm string) *unleashFailure {
	f := newUnleashError(http.StatusForbidden, "PermissionError", fmt.Sprintf(
		"You don't have the required permissions to perform this operation. To perform this action, you need the %q permission.", perm))
	f.Body.(*unleashError).Permissions = []string{perm}
	return f
}

// unleashBadData is a BadDataError listing details.
func unleashBadData(details ...unleashDetail) *unleashFailure {
	f := newUnleashError(http.StatusBadRequest, "BadDataError",
		"Request validation failed: your request body or params contain invalid data. Refer to the `details` list for more information.")
	f.Body.(*unleashError).Details = details
	return f
}

// unleashBadDataMessage is a BadDataError with one message and no details list.
func unleashBadDataMessage(msg string) *unleashFailure {
	f := newUnleashError(http.StatusBadRequest, "BadDataError",
		"Request validation failed: your request body or params contain invalid data: "+msg)
	f.Body.(*unleashError).Details = []unleashDetail{{Message: msg}}
	return f
}

func renderUnleash(w http.ResponseWriter, f *unleashFailure) {
	setRetryAfter(w, f.RetryAfter)
	if f.Body == nil {
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(f.Status)
		return
	}
	httpx.WriteJSON(w, f.Status, f.Body)
}

func renderUnleashInternal(w http.ResponseWriter) {
	renderUnleash(w, unleashInternal())
}

func unleashInternal() *unleashFailure {
	return newUnleashError(http.StatusInternalServerError, "InternalError",
		"Latchkey could not complete the request because of an internal error.")
}

// renderUnleashBadString answers a string holding a NUL byte or invalid
// UTF-8 as a BadDataError whose detail has the field as its path.
func renderUnleashBadString(w http.ResponseWriter, err error) {
	field, msg, _ := badStringField(err)
	renderUnleash(w, unleashBadData(unleashDetail{Path: field, Message: "The `" + field + "` value " + msg + "."}))
}

// unleashFailureOf is the answer to an unexpected service error: 503 when
// the store cannot be reached (Unleash has no error of its own for it; the
// name says what happened), else a logged 500 InternalError.
func (s *Surfaces) unleashFailureOf(err error) *unleashFailure {
	if secs, ok := s.unavailable("seed003", err); ok {
		f := newUnleashError(http.StatusServiceUnavailable, "ServiceUnavailableError",
			"Latchkey cannot complete the request right now. Try again in "+strconv.Itoa(secs)+" seconds.")
		f.RetryAfter = secs
		return f
	}
	s.logInternal("seed003", err)
	return unleashInternal()
}

func (s *Surfaces) handleExpiryPut(w http.ResponseWriter, r *http.Request) {
	p, f := s.unleashPrincipal(r)
	if f != nil {
		renderUnleash(w, f)
		return
	}
	if !p.Can(latchkey.PermKeysWrite) {
		renderUnleash(w, unleashPermission(latchkey.PermKeysWrite))
		return
	}
	// As Unleash: a body must be JSON; a body without Content-Type is taken
	// as JSON; a request without a body is not checked.
	if mt := mediaType(r); r.ContentLength != 0 && mt != "" && mt != "application/json" {
		renderUnleash(w, &unleashFailure{Status: http.StatusUnsupportedMediaType})
		return
	}
	b, err := readBody(w, r)
	if errors.Is(err, errTooLarge) {
		renderUnleash(w, newUnleashError(http.StatusRequestEntityTooLarge, "ContentTooLarge",
			"You provided more data than we can handle. Latchkey accepts at most 64 KiB."))
		return
	} else if _, _, bad := badStringField(err); bad {
		renderUnleashBadString(w, err)
		return
	} else if err != nil {
		renderUnleash(w, unleashBadDataMessage("The request body could not be read."))
		return
	}
	expiresAt, f := decodeExpiryUpdate(b)
	if f != nil {
		renderUnleash(w, f)
		return
	}
	ok := &unleashFailure{Status: http.StatusOK}
	token := r.PathValue("token")
	if !latchkey.CheckSecret(token) {
		renderUnleash(w, ok) // not a secret: no such token
		return
	}
	ctx := actorContext(r, p)
	k, err := s.Keys.FindKeyBySecret(ctx, p.AccountID, latchkey.HashSecret(token))
	switch latchkey.ErrorCode(err) {
	case "":
	case latchkey.ENOTFOUND:
		renderUnleash(w, ok)
		return
	default:
		renderUnleash(w, s.unleashFailureOf(err))
		return
	}
	if f := rootKeyGuard(p, k); f != nil {
		renderUnleash(w, f)
		return
	}
	_, err = s.Keys.UpdateKey(ctx, p.AccountID, k.ID, &latchkey.KeyUpdate{ExpiresAt: latchkey.Some(expiresAt)})
	switch latchkey.ErrorCode(err) {
	case "", latchkey.ENOTFOUND: // deleted meanwhile: as unknown
		renderUnleash(w, ok)
	case latchkey.EINVALID:
		renderUnleash(w, unleashBadData(unleashDetail{Path: "expiresAt", Message: latchkey.ErrorMessage(err)}))
	default:
		renderUnleash(w, s.unleashFailureOf(err))
	}
}

// rootKeyGuard refuses what the native API refuses (see
// auth.Principal.GuardKeyChange): a root key's change to its own expiry
// (it could lock the account out) and a change to a root key's expiry by
// a principal without account:admin (keys:write alone must not end or
// revive root credentials). Unleash answers the like with its
// OperationDeniedError.
func rootKeyGuard(p *auth.Principal, k *latchkey.Key) *unleashFailure {
	err := p.GuardKeyChange(k.ID, false, func() (latchkey.KeyKind, error) { return k.Kind, nil })
	switch {
	case err == nil:
		return nil
	case errors.Is(err, auth.ErrSelfLockout):
		return newUnleashError(http.StatusForbidden, "OperationDeniedError",
			"A root key cannot change its own expiry. Use another root key or the operator.")
	}
	return newUnleashError(http.StatusForbidden, "OperationDeniedError",
		fmt.Sprintf("You do not have the required access [%s] to perform this operation", latchkey.PermAccountAdmin))
}

// unleashPrincipal authenticates the Authorization header: "Bearer <x>" or
// the bare <x>, where x is a user access token or a root key.
func (s *Surfaces) unleashPrincipal(r *http.Request) (*auth.Principal, *unleashFailure) {
	h := strings.TrimSpace(r.Header.Get("Authorization"))
	if h == "" {
		return nil, unleashAuthRequired()
	}
	token := h
	if t, ok := auth.ParseBearer(h); ok {
		token = t
	}
	var p *auth.Principal
	var err error
	noAccess := "A root key acts only on its own account."
	if auth.IsAccessToken(token) {
		p, err = s.Auth.UserSession(r, token)
		noAccess = "You are not a member of this account."
	} else {
		p, err = s.Auth.RootKey(r, token)
	}
	switch {
	case err == nil:
		return p, nil
	case errors.Is(err, auth.ErrAPIKeyRefused):
		return nil, unleashTokenType()
	}
	switch latchkey.ErrorCode(err) {
	case latchkey.EUNAUTHORIZED:
		return nil, unleashUnauthorized()
	case latchkey.EFORBIDDEN:
		return nil, newUnleashError(http.StatusForbidden, "NoAccessError", noAccess)
	case latchkey.EINVALID:
		return nil, unleashBadDataMessage("X-Account-ID names no account.")
	}
	return nil, s.unleashFailureOf(err)
}

// decodeExpiryUpdate reads updateApiTokenSchema: an object whose expiresAt
// is a date-time string. Other members are allowed and ignored; an empty
// body is an empty object.
func decodeExpiryUpdate(b []byte) (time.Time, *unleashFailure) {
	m := map[string]json.RawMessage{}
	if len(bytes.TrimSpace(b)) > 0 {
		var err error
		m, err = parseObject(b)
		if errors.Is(err, errNotObject) {
			return time.Time{}, unleashBadData(unleashDetail{Message: "The request body must be object. You sent " + echo(b) + "."})
		} else if err != nil {
			return time.Time{}, unleashBadDataMessage("The request body is not valid JSON.")
		}
	}
	raw, ok := m["expiresAt"]
	if !ok {
		return time.Time{}, unleashBadData(unleashDetail{Path: "expiresAt",
			Message: "The `expiresAt` property is required. It was not present on the data you sent."})
	}
	v, ok := asString(raw)
	if !ok {
		return time.Time{}, unleashBadData(unleashDetail{Path: "expiresAt",
			Message: "The `expiresAt` property must be string. You sent " + echo(raw) + "."})
	}
	t, ok := asTime(v)
	if !ok {
		return time.Time{}, unleashBadData(unleashDetail{Path: "expiresAt",
			Message: `The ` + "`expiresAt`" + ` property must match format "date-time". You sent ` + echo(raw) + "."})
	}
	return t, nil
}

// maxEcho bounds how much of a bad value an error repeats.
const maxEcho = 100

// echo returns a JSON value compacted for an error message, cut at maxEcho bytes.
func echo(raw []byte) string {
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		buf.Reset()
		buf.Write(bytes.TrimSpace(raw))
	}
	s := buf.String()
	if len(s) > maxEcho {
		s = strings.ToValidUTF8(s[:maxEcho], "") + "…"
	}
	return s
}
