package compat

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// This file holds the Unleash surface's answers: Unleash's serialized
// errors (UnleashError.toJSON and its subclasses' members) and the
// surface's replies to the failures every seed surface meets.

// unleashAnswer is a seed 003 answer: a status and a body (nil: none).
type unleashAnswer struct {
	reply
	Body any
}

func (a *unleashAnswer) head() reply { return a.reply }
func (a *unleashAnswer) body() any   { return a.Body }

// unleashStatus is an answer with no body.
func unleashStatus(status int) *unleashAnswer { return &unleashAnswer{reply: reply{Status: status}} }

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

func newUnleashError(status int, name, message string) *unleashAnswer {
	return &unleashAnswer{reply: reply{Status: status}, Body: &unleashError{ID: newErrorID(), Name: name, Message: message,
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

func unleashAuthRequired() *unleashAnswer {
	msg := "You must log in to use Latchkey. Your request had no authorization header, so we could not authorize you. Try logging in at " + loginPath
	f := newUnleashError(http.StatusUnauthorized, "AuthenticationRequired", msg)
	e := f.Body.(*unleashError)
	hidden := false
	e.Path, e.Type, e.DefaultHidden = loginPath, "password", &hidden
	return f
}

func unleashUnauthorized() *unleashAnswer {
	return newUnleashError(http.StatusUnauthorized, "UnauthorizedError", "You must log in to use Latchkey.")
}

// unleashTokenType is Unleash's answer to a token of a type the endpoint
// does not take; Latchkey gives it to an api key.
func unleashTokenType() *unleashAnswer {
	return &unleashAnswer{reply: reply{Status: http.StatusForbidden}, Body: map[string]string{
		"message": "invalid token: expected a different token type for this endpoint"}}
}

func unleashPermission(perm string) *unleashAnswer {
	f := newUnleashError(http.StatusForbidden, "PermissionError", fmt.Sprintf(
		"You don't have the required permissions to perform this operation. To perform this action, you need the %q permission.", perm))
	f.Body.(*unleashError).Permissions = []string{perm}
	return f
}

// unleashBadData is a BadDataError listing details.
func unleashBadData(details ...unleashDetail) *unleashAnswer {
	f := newUnleashError(http.StatusBadRequest, "BadDataError",
		"Request validation failed: your request body or params contain invalid data. Refer to the `details` list for more information.")
	f.Body.(*unleashError).Details = details
	return f
}

// unleashBadDataMessage is a BadDataError with one message and no details list.
func unleashBadDataMessage(msg string) *unleashAnswer {
	f := newUnleashError(http.StatusBadRequest, "BadDataError",
		"Request validation failed: your request body or params contain invalid data: "+msg)
	f.Body.(*unleashError).Details = []unleashDetail{{Message: msg}}
	return f
}

// unleashContentType is Unleash's ContentTypeError: the body's media type
// is not one the endpoint takes.
func unleashContentType(r *http.Request) replier {
	provided := r.Header.Get("Content-Type")
	if provided == "" {
		provided = "you didn't provide one"
	}
	return newUnleashError(http.StatusUnsupportedMediaType, "ContentTypeError", "We do not accept the content-type you provided ("+
		echoText(provided)+"). Try using one of the content-types we do accept instead (application/json) and make sure the body is in the corresponding format.")
}

func unleashInternal() *unleashAnswer {
	return newUnleashError(http.StatusInternalServerError, "InternalError",
		"Latchkey could not complete the request because of an internal error.")
}

// unleash is seed 003's answer to the failures every surface meets. A
// string holding a NUL byte or invalid UTF-8 is a BadDataError whose
// detail has the field as its path; the store out of reach is a 503
// (Unleash has no error of its own for it; the name says what happened).
var unleash = &surface{
	name:     "seed003",
	internal: func() replier { return unleashInternal() },
	unavailable: func(secs int) replier {
		return newUnleashError(http.StatusServiceUnavailable, "ServiceUnavailableError",
			"Latchkey cannot complete the request right now. Try again in "+strconv.Itoa(secs)+" seconds.")
	},
	// As Unleash: a request with a body must say it is JSON (no
	// Content-Type is refused too); a request without a body is not
	// checked. The refusal is Unleash's ContentTypeError.
	mediaOK: func(r *http.Request) bool {
		return r.ContentLength == 0 || mediaType(r) == "application/json"
	},
	badMedia: unleashContentType,
	badString: func(field, msg string) replier {
		return unleashBadData(unleashDetail{Path: field, Message: "The `" + field + "` value " + msg + "."})
	},
	tooLarge: func() replier {
		return newUnleashError(http.StatusRequestEntityTooLarge, "ContentTooLarge",
			"You provided more data than we can handle. Latchkey accepts at most 64 KiB.")
	},
	unreadable: func() replier { return unleashBadDataMessage("The request body could not be read.") },
}

// echoText returns text cut at maxEcho bytes for an error message.
func echoText(s string) string {
	if len(s) > maxEcho {
		s = strings.ToValidUTF8(s[:maxEcho], "") + "…"
	}
	return s
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
