package compat

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/http/auth"
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
//	400 a Content-Type that is neither JSON nor a form, an empty or
//	    malformed body
//	413 a body over 64 KiB
//	400 a NUL byte or invalid UTF-8 in any body field
//	400 the first bad field, in the order customer_name, customer_email,
//	    customer_phone, max_devices, rate_limit_per_hour, is_active
//
// and 200 {status:true, code:200, message, data:{}} (the product returns no
// key). Errors are {status:false, code, message, error} with the real HTTP
// status in code and the detail in both message and error; a store that
// cannot be reached answers 503 with Retry-After.

// whatsAppError is a seed 001 error: the status and the detail shown in
// the envelope's message and error.
type whatsAppError struct {
	reply
	Detail string
}

func (e *whatsAppError) head() reply { return e.reply }

// body is the envelope: as the product (and the document's examples),
// message and error carry the same detail.
func (e *whatsAppError) body() any {
	return whatsAppEnvelope{Code: e.Status, Message: e.Detail, Error: e.Detail}
}

// whatsAppEnvelope is the product's answer, success or error.
type whatsAppEnvelope struct {
	Status  bool   `json:"status"`
	Code    int    `json:"code"`
	Message string `json:"message"`
	Data    any    `json:"data,omitempty"`
	Error   string `json:"error,omitempty"`
}

// whatsAppFail is the error with a status and a detail.
func whatsAppFail(status int, detail string) *whatsAppError {
	return &whatsAppError{reply: reply{Status: status}, Detail: detail}
}

func badWhatsApp(detail string) *whatsAppError { return whatsAppFail(http.StatusBadRequest, detail) }

// whatsApp is seed 001's answer to the failures every surface meets; a
// string holding a NUL byte or invalid UTF-8 is worded as the surface
// words a bad field ("customer_name must ...").
var whatsApp = &surface{
	name:     "seed001",
	internal: func() replier { return whatsAppFail(http.StatusInternalServerError, "Failed to update API key") },
	unavailable: func(int) replier {
		return whatsAppFail(http.StatusServiceUnavailable, "Service temporarily unavailable; retry after the number of seconds in Retry-After")
	},
	badMedia: func(*http.Request) replier {
		return badWhatsApp("Invalid request body: Content-Type must be application/json")
	},
	badString: func(field, msg string) replier { return badWhatsApp(field + " " + msg) },
	// As the product's body parser (Fiber's BodyParser): JSON or a form.
	form: map[string]formKind{"max_devices": formInt, "rate_limit_per_hour": formInt, "is_active": formBool},
	tooLarge: func() replier {
		return whatsAppFail(http.StatusRequestEntityTooLarge, "Request body must be at most 64 KiB")
	},
	unreadable: func() replier { return badWhatsApp("Invalid request body") },
	badID:      func() replier { return badWhatsApp("Invalid API key ID") },
}

// handleWhatsAppPatch is PATCH /admin/api-keys/{id}: the checks in the
// order the comment at the top of this file lists, then the update.
func (s *Surfaces) handleWhatsAppPatch(w http.ResponseWriter, r *http.Request) replier {
	p, id, e := callerAndID(whatsApp, r, s.whatsAppPrincipal)
	if e != nil {
		return e
	}
	ctx := actorContext(r, p)
	notFound := whatsAppFail(http.StatusNotFound, "API key not found")
	// The product looks the key up before it reads the body.
	_, err := s.Keys.FindKeyByID(ctx, p.AccountID, id)
	if e := s.outcome(whatsApp, err, notFound, nil); e != nil {
		return e
	}
	u, e := decodeJSON(whatsApp, w, r, decodeWhatsAppPatch)
	if e != nil {
		return e
	}
	_, err = s.Keys.UpdateKey(ctx, p.AccountID, id, u)
	if e := s.outcome(whatsApp, err, notFound, func(err error) replier { return badWhatsApp(whatsAppFieldError(err)) }); e != nil {
		return e
	}
	return jsonAnswer(http.StatusOK, whatsAppEnvelope{Status: true, Code: http.StatusOK,
		Message: "API key updated successfully", Data: struct{}{}})
}

// whatsAppPrincipal authenticates the operator by X-Admin-Secret.
func (s *Surfaces) whatsAppPrincipal(r *http.Request) (*auth.Principal, replier) {
	if r.Header.Get("X-Admin-Secret") == "" {
		return nil, whatsAppFail(http.StatusUnauthorized, "Missing X-Admin-Secret header")
	}
	p, err := s.Auth.Operator(r)
	switch latchkey.ErrorCode(err) {
	case "":
		return p, nil
	case latchkey.EUNAUTHORIZED:
		if !s.Auth.OperatorEnabled() {
			return nil, whatsAppFail(http.StatusUnauthorized, "X-Admin-Secret is not enabled on this server")
		}
		return nil, whatsAppFail(http.StatusUnauthorized, "Invalid admin secret")
	case latchkey.EINVALID: // X-Account-ID names no account
		return nil, badWhatsApp("X-Account-ID names no account (give an account id or name)")
	case latchkey.ERATELIMITED: // too many wrong secrets from this network
		e := whatsAppFail(http.StatusTooManyRequests, "Too many invalid admin secrets; retry after the number of seconds in Retry-After")
		e.RetryAfter = max(1, latchkey.RetryAfterSeconds(err))
		return nil, e
	default:
		return nil, s.failure(whatsApp, err)
	}
}

// whatsAppFields maps core field names to the document's.
var whatsAppFields = map[string]string{
	"owner_name":       "customer_name",
	"owner_email":      "customer_email",
	"owner_phone":      "customer_phone",
	"max_devices":      "max_devices",
	"rate_limit.limit": "rate_limit_per_hour",
}

// whatsAppFieldError words an invalid-input error with the document's
// field name.
func whatsAppFieldError(err error) string {
	if f, ok := whatsAppFields[firstField(err)]; ok {
		return f + " " + fieldMessage(err)
	}
	return "Invalid request body: " + latchkey.ErrorMessage(err)
}

// whatsAppObject reads a body that must be one JSON object.
func whatsAppObject(b []byte) (map[string]json.RawMessage, replier) {
	return requireObject(b, badWhatsApp, "Invalid request body: expected a JSON object", "Invalid request body: malformed JSON")
}

// decodeWhatsAppPatch turns a seed 001 body into a key update. Unknown
// fields are ignored.
func decodeWhatsAppPatch(b []byte) (*latchkey.KeyUpdate, replier) {
	m, e := whatsAppObject(b)
	if e != nil {
		return nil, e
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
			return nil, badWhatsApp(f.name + " must be a string")
		}
		if v = strings.TrimSpace(v); v != "" {
			*f.dst = latchkey.Some(v)
			if err := u.Validate(); err != nil {
				return nil, badWhatsApp(whatsAppFieldError(err))
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
			return nil, badWhatsApp(f.name + " must be an integer")
		case n < 0:
			return nil, badWhatsApp(f.name + " must not be negative")
		case n > 0: // 0 keeps the stored value, as in the product
			f.set(n)
		}
	}
	if raw, ok := m["is_active"]; ok && !isNull(raw) {
		v, ok := asBool(raw)
		if !ok {
			return nil, badWhatsApp("is_active must be a boolean")
		}
		u.Enabled = &v
	}
	if err := u.Validate(); err != nil {
		return nil, badWhatsApp(whatsAppFieldError(err))
	}
	return u, nil
}
