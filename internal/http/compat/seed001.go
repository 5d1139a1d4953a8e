package compat

import (
	"errors"
	"net/http"
	"strings"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/http/auth"
	"github.com/latchkey/latchkey/internal/http/httpx"
)

// Seed 001 — PATCH /admin/api-keys/{id}, the admin API of a WhatsApp
// multi-session gateway. The operator (X-Admin-Secret) patches a key's
// customer_name, customer_email, customer_phone, max_devices,
// rate_limit_per_hour and is_active. As in the product, an absent, null,
// empty or zero field keeps the stored value; a negative number is refused.
// Checks, first failure wins:
//
//	400 a NUL byte or invalid UTF-8 in the path, query or X-Account-ID
//	401 Missing X-Admin-Secret header / Invalid admin secret
//	400 X-Account-ID names no account
//	400 Invalid API key ID   id is not a positive integer
//	404 API key not found    no such key in the account
//	400 a Content-Type that is not JSON, an empty or malformed body
//	413 a body over 64 KiB
//	400 a NUL byte or invalid UTF-8 in any body field
//	400 the first bad field, in the order customer_name, customer_email,
//	    customer_phone, max_devices, rate_limit_per_hour, is_active
//
// and 200 {status:true, code:200, message, data:{}} (the product returns no
// key). Errors are {status:false, code, message, error} with the real HTTP
// status in code and the detail in both message and error; a store that
// cannot be reached answers 503 with Retry-After.

// adminKeyError is a seed 001 error: the status and the detail shown in
// the envelope's message and error.
type adminKeyError struct {
	Status     int
	Detail     string
	RetryAfter int // seconds, sent as Retry-After
}

// adminKeyEnvelope is the product's answer, success or error.
type adminKeyEnvelope struct {
	Status  bool      `json:"status"`
	Code    int       `json:"code"`
	Message string    `json:"message"`
	Data    *struct{} `json:"data,omitempty"`
	Error   string    `json:"error,omitempty"`
}

func badAdminKey(detail string) *adminKeyError {
	return &adminKeyError{Status: http.StatusBadRequest, Detail: detail}
}

func renderAdminKey(w http.ResponseWriter, e *adminKeyError) {
	// As the product (and the document's examples): message and error
	// carry the same detail.
	setRetryAfter(w, e.RetryAfter)
	httpx.WriteJSON(w, e.Status, adminKeyEnvelope{Code: e.Status, Message: e.Detail, Error: e.Detail})
}

func renderAdminKeyInternal(w http.ResponseWriter) {
	renderAdminKey(w, &adminKeyError{Status: http.StatusInternalServerError, Detail: "Failed to update API key"})
}

// renderAdminKeyBadString answers a string holding a NUL byte or invalid
// UTF-8, worded as the surface words a bad field ("customer_name must ...").
func renderAdminKeyBadString(w http.ResponseWriter, err error) {
	field, msg, _ := badStringField(err)
	renderAdminKey(w, badAdminKey(field+" "+msg))
}

// adminKeyFailure is the answer to an unexpected service error: 503 when
// the store cannot be reached, else a logged 500.
func (s *Surfaces) adminKeyFailure(err error) *adminKeyError {
	if secs, ok := s.unavailable("seed001", err); ok {
		return &adminKeyError{Status: http.StatusServiceUnavailable, RetryAfter: secs,
			Detail: "Service temporarily unavailable; retry after the number of seconds in Retry-After"}
	}
	s.logInternal("seed001", err)
	return &adminKeyError{Status: http.StatusInternalServerError, Detail: "Failed to update API key"}
}

func (s *Surfaces) handleAdminKeyPatch(w http.ResponseWriter, r *http.Request) {
	p, aerr := s.adminKeyPrincipal(r)
	if aerr != nil {
		renderAdminKey(w, aerr)
		return
	}
	id, ok := parseID(r.PathValue("id"))
	if !ok {
		renderAdminKey(w, badAdminKey("Invalid API key ID"))
		return
	}
	ctx := actorContext(r, p)
	notFound := &adminKeyError{Status: http.StatusNotFound, Detail: "API key not found"}
	// The product looks the key up before it reads the body.
	switch _, err := s.Keys.FindKeyByID(ctx, p.AccountID, id); latchkey.ErrorCode(err) {
	case "":
	case latchkey.ENOTFOUND:
		renderAdminKey(w, notFound)
		return
	default:
		renderAdminKey(w, s.adminKeyFailure(err))
		return
	}
	if mt := mediaType(r); mt != "" && !isJSONMediaType(mt) {
		renderAdminKey(w, badAdminKey("Invalid request body: Content-Type must be application/json"))
		return
	}
	b, err := readBody(w, r)
	if errors.Is(err, errTooLarge) {
		renderAdminKey(w, &adminKeyError{Status: http.StatusRequestEntityTooLarge, Detail: "Request body must be at most 64 KiB"})
		return
	} else if _, _, bad := badStringField(err); bad {
		renderAdminKeyBadString(w, err)
		return
	} else if err != nil {
		renderAdminKey(w, badAdminKey("Invalid request body"))
		return
	}
	u, aerr := decodeAdminKeyPatch(b)
	if aerr != nil {
		renderAdminKey(w, aerr)
		return
	}
	switch _, err := s.Keys.UpdateKey(ctx, p.AccountID, id, u); latchkey.ErrorCode(err) {
	case "":
	case latchkey.ENOTFOUND:
		renderAdminKey(w, notFound)
		return
	case latchkey.EINVALID:
		renderAdminKey(w, badAdminKey(adminKeyFieldError(err)))
		return
	default:
		renderAdminKey(w, s.adminKeyFailure(err))
		return
	}
	httpx.WriteJSON(w, http.StatusOK, adminKeyEnvelope{Status: true, Code: http.StatusOK,
		Message: "API key updated successfully", Data: &struct{}{}})
}

// adminKeyPrincipal authenticates the operator by X-Admin-Secret.
func (s *Surfaces) adminKeyPrincipal(r *http.Request) (*auth.Principal, *adminKeyError) {
	if r.Header.Get("X-Admin-Secret") == "" {
		return nil, &adminKeyError{Status: http.StatusUnauthorized, Detail: "Missing X-Admin-Secret header"}
	}
	p, err := s.Auth.Operator(r)
	switch latchkey.ErrorCode(err) {
	case "":
		return p, nil
	case latchkey.EUNAUTHORIZED:
		if !s.Auth.OperatorEnabled() {
			return nil, &adminKeyError{Status: http.StatusUnauthorized, Detail: "X-Admin-Secret is not enabled on this server"}
		}
		return nil, &adminKeyError{Status: http.StatusUnauthorized, Detail: "Invalid admin secret"}
	case latchkey.EINVALID: // X-Account-ID names no account
		return nil, badAdminKey("X-Account-ID names no account (give an account id or name)")
	default:
		return nil, s.adminKeyFailure(err)
	}
}

// adminKeyFields maps core field names to the document's.
var adminKeyFields = map[string]string{
	"owner_name":       "customer_name",
	"owner_email":      "customer_email",
	"owner_phone":      "customer_phone",
	"max_devices":      "max_devices",
	"rate_limit.limit": "rate_limit_per_hour",
}

// adminKeyFieldError words an invalid-input error with the document's
// field name.
func adminKeyFieldError(err error) string {
	if f, ok := adminKeyFields[firstField(err)]; ok {
		return f + " " + fieldMessage(err)
	}
	return "Invalid request body: " + latchkey.ErrorMessage(err)
}

// decodeAdminKeyPatch turns a seed 001 body into a key update. Unknown
// fields are ignored.
func decodeAdminKeyPatch(b []byte) (*latchkey.KeyUpdate, *adminKeyError) {
	if strings.TrimSpace(string(b)) == "" {
		return nil, badAdminKey("Invalid request body: expected a JSON object")
	}
	m, err := parseObject(b)
	if errors.Is(err, errNotObject) {
		return nil, badAdminKey("Invalid request body: expected a JSON object")
	} else if err != nil {
		return nil, badAdminKey("Invalid request body: malformed JSON")
	}
	// The document types customer_email as a plain string and its own
	// example sends "string": take it as free text, as the product does.
	u := &latchkey.KeyUpdate{OwnerEmailFreeText: true}
	for _, f := range []struct {
		name string
		dst  *latchkey.Nullable[string]
	}{{"customer_name", &u.OwnerName}, {"customer_email", &u.OwnerEmail}, {"customer_phone", &u.OwnerPhone}} {
		raw, ok := m[f.name]
		if !ok || isNull(raw) {
			continue
		}
		v, ok := asString(raw)
		if !ok {
			return nil, badAdminKey(f.name + " must be a string")
		}
		if v = strings.TrimSpace(v); v != "" {
			*f.dst = latchkey.Some(v)
			if err := u.Validate(); err != nil {
				return nil, badAdminKey(adminKeyFieldError(err))
			}
		}
	}
	for _, f := range []struct {
		name string
		set  func(n int64)
	}{
		{"max_devices", func(n int64) { u.MaxDevices = &n }},
		{"rate_limit_per_hour", func(n int64) { u.RateLimit = latchkey.Some(latchkey.RateLimit{Limit: n, WindowSeconds: 3600}) }},
	} {
		raw, ok := m[f.name]
		if !ok || isNull(raw) {
			continue
		}
		n, ok := asInt(raw)
		switch {
		case !ok:
			return nil, badAdminKey(f.name + " must be an integer")
		case n < 0:
			return nil, badAdminKey(f.name + " must not be negative")
		case n > 0: // 0 keeps the stored value, as in the product
			f.set(n)
		}
	}
	if raw, ok := m["is_active"]; ok && !isNull(raw) {
		v, ok := asBool(raw)
		if !ok {
			return nil, badAdminKey("is_active must be a boolean")
		}
		u.Enabled = &v
	}
	if err := u.Validate(); err != nil {
		return nil, badAdminKey(adminKeyFieldError(err))
	}
	return u, nil
}
