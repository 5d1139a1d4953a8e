// Package compat serves the seed surfaces: the update endpoints of four
// other products, each at its documented path, with its own order of
// checks and its own error envelope, as thin adapters over
// latchkey.KeyService. One file per surface:
//
//	seed000.go  PATCH /api/admin/api-tokens/{id}    (mail-forwarding admin API)
//	seed001.go  PATCH /admin/api-keys/{id}          (WhatsApp multi-session admin API)
//	seed002.go  PATCH /apikeys/{id}                 (PulseCRM public API)
//	seed003.go  PUT   /api/admin/api-tokens/{token} (Unleash admin API)
//
// Every change goes through KeyService.UpdateKey with the caller as the
// context's actor, so the audit log records who made it. Callers are
// authenticated by the *auth.Authenticator the native API shares
// (internal/http/auth); bodies are read and JSON written with
// internal/http/httpx. This package does not import internal/http, which
// serves its Routes beside the native ones.
package compat

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/http/auth"
	"github.com/latchkey/latchkey/internal/http/httpx"
)

// Surfaces serves the four seed surfaces on a Server. Set the fields, then
// add it to Server.Surfaces before calling Server.Handler.
type Surfaces struct {
	// Auth authenticates callers (operator, user sessions, root keys).
	Auth *auth.Authenticator
	// Keys applies the updates.
	Keys latchkey.KeyService
	// Logger receives internal errors; nil discards them.
	Logger *slog.Logger
	// Clock is "now" for status:"expired" (seed 000); nil is the wall clock.
	Clock latchkey.Clock

	outageMu       sync.Mutex // guards the two below; see unavailable
	outageLogged   time.Time
	outageUnlogged int
}

// outageLogEvery bounds how often a surface logs answering 503.
const outageLogEvery = 10 * time.Second

// Routes lists the seed routes.
func (s *Surfaces) Routes() []httpx.Route {
	return []httpx.Route{
		{Method: "PATCH", Pattern: "/api/admin/api-tokens/{id}", Handler: s.guard("seed000", s.handleTokenPatch, renderTokenInternal, renderTokenBadString)},
		{Method: "PATCH", Pattern: "/admin/api-keys/{id}", Handler: s.guard("seed001", s.handleAdminKeyPatch, renderAdminKeyInternal, renderAdminKeyBadString)},
		{Method: "PATCH", Pattern: "/apikeys/{id}", Handler: s.guard("seed002", s.handleAPIKeyPatch, renderAPIKeyInternal, renderAPIKeyBadString)},
		{Method: "PUT", Pattern: "/api/admin/api-tokens/{token}", Handler: s.guard("seed003", s.handleExpiryPut, renderUnleashInternal, renderUnleashBadString)},
	}
}

func (s *Surfaces) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

func (s *Surfaces) now() time.Time {
	if s.Clock == nil {
		return latchkey.SystemClock()
	}
	return s.Clock().UTC()
}

// guard returns a surface's route handler: it recovers a panic in h and
// answers 500 in that surface's envelope, and it renders in that envelope
// the strings the server (internal/http) refuses before h runs (a path value, query
// parameter or X-Account-ID holding a NUL byte or invalid UTF-8).
func (s *Surfaces) guard(surface string, h http.HandlerFunc, internal func(http.ResponseWriter), badString func(http.ResponseWriter, error)) http.Handler {
	return &surfaceHandler{s: s, surface: surface, h: h, internal: internal, badString: badString}
}

// surfaceHandler is one seed route (see guard).
type surfaceHandler struct {
	s         *Surfaces
	surface   string
	h         http.HandlerFunc
	internal  func(http.ResponseWriter)
	badString func(http.ResponseWriter, error)
}

var _ httpx.BadInputRenderer = (*surfaceHandler)(nil)

// ServeHTTP serves the route. It logs the surface's name, never the
// request path: seed 003 carries a secret in its path.
func (sh *surfaceHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			sh.s.logger().Error("panic serving seed surface", "surface", sh.surface, "method", r.Method,
				"err", fmt.Errorf("panic: %v\n%s", v, debug.Stack()))
			sh.internal(w)
		}
	}()
	sh.h(w, r)
}

// RenderBadInput answers a refused request string in the surface's envelope.
func (sh *surfaceHandler) RenderBadInput(w http.ResponseWriter, r *http.Request, err error) {
	sh.badString(w, err)
}

// logInternal logs an unexpected error of a surface. Store and service
// errors never carry secrets; the request path is left out (see guard).
func (s *Surfaces) logInternal(surface string, err error) {
	s.logger().Error("seed surface request failed", "surface", surface, "err", err)
}

// unavailable reports whether a service error says the store or Redis
// cannot be reached now, which every surface answers with 503 and
// Retry-After in its own envelope, and the whole seconds to wait (the
// error's RetryAfter rounded up, at least 1). It is logged as the native
// API logs it: at warn with its cause, at most once per outageLogEvery
// with a count of those not logged.
func (s *Surfaces) unavailable(surface string, err error) (retryAfter int, ok bool) {
	var le *latchkey.Error
	if !errors.As(err, &le) || le.Code != latchkey.EUNAVAILABLE {
		return 0, false
	}
	s.outageMu.Lock()
	now := time.Now()
	if now.Sub(s.outageLogged) < outageLogEvery {
		s.outageUnlogged++
		s.outageMu.Unlock()
	} else {
		n := s.outageUnlogged
		s.outageLogged, s.outageUnlogged = now, 0
		s.outageMu.Unlock()
		s.logger().Warn("seed surface answered 503", "surface", surface, "err", err, "similar_not_logged", n)
	}
	return max(1, int((le.RetryAfter+time.Second-1)/time.Second)), true
}

// setRetryAfter sets Retry-After to a number of seconds when it is positive.
func setRetryAfter(w http.ResponseWriter, seconds int) {
	if seconds > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(seconds))
	}
}

// actorContext returns the request's context carrying the principal as the
// audit actor.
func actorContext(r *http.Request, p *auth.Principal) context.Context {
	return latchkey.NewContextWithActor(r.Context(), p.Actor)
}

// errTooLarge says a body went past httpx.MaxBodyBytes.
var errTooLarge = httpx.ErrTooLarge

// readBody reads a request body of at most httpx.MaxBodyBytes; past it,
// errTooLarge. A body holding a NUL byte or invalid UTF-8 in any field is
// refused with httpx.CheckBodyStrings's invalid error naming the field
// (see badStringField). Content types are each surface's own business.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	var buf bytes.Buffer
	if err := httpx.ReadBodyInto(w, r, &buf); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	if err := httpx.CheckBodyStrings(r, b); err != nil {
		return nil, err
	}
	return b, nil
}

// badStringField returns the field and its message when err is the
// server's refusal of a string holding a NUL byte or invalid UTF-8 (from
// readBody, or the server before a route runs).
func badStringField(err error) (field, message string, ok bool) {
	if latchkey.ErrorCode(err) != latchkey.EINVALID {
		return "", "", false
	}
	for f, m := range latchkey.ErrorFields(err) {
		return f, m, true
	}
	return "body", latchkey.ErrorMessage(err), true
}

// mediaType returns the request's media type, lowercased, "" when the
// header is absent, and "invalid" when it cannot be parsed.
func mediaType(r *http.Request) string {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return ""
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return "invalid"
	}
	return mt
}

// isJSONMediaType reports whether a media type is JSON (application/json
// or a +json type).
func isJSONMediaType(mt string) bool {
	return mt == "application/json" || strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")
}

// parseID parses a positive integer path id.
func parseID(s string) (int64, bool) {
	id, err := strconv.ParseInt(s, 10, 64)
	return id, err == nil && id > 0
}

// errNotObject says a body is valid JSON but not an object.
var errNotObject = errors.New("not a JSON object")

// parseObject decodes b as exactly one JSON object and returns its
// members. A syntax error or trailing data is an error; a value of
// another kind is errNotObject.
func parseObject(b []byte) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	var v json.RawMessage
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data after the JSON value")
	}
	if len(v) == 0 || v[0] != '{' {
		return nil, errNotObject
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(v, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// isNull reports whether a member's value is JSON null.
func isNull(raw json.RawMessage) bool {
	return string(bytes.TrimSpace(raw)) == "null"
}

// asString decodes a JSON string.
func asString(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

// asBool decodes a JSON boolean.
func asBool(raw json.RawMessage) (bool, bool) {
	switch string(bytes.TrimSpace(raw)) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}

// asInt decodes a JSON integer that fits int64 (no fraction, no exponent).
func asInt(raw json.RawMessage) (int64, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || !(raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9') {
		return 0, false
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	return n, err == nil
}

// asStrings decodes a JSON array of strings; a null element is refused.
func asStrings(raw json.RawMessage) ([]string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '[' {
		return nil, false
	}
	var elems []*string
	if err := json.Unmarshal(raw, &elems); err != nil {
		return nil, false
	}
	out := make([]string, len(elems))
	for i, e := range elems {
		if e == nil {
			return nil, false
		}
		out[i] = *e
	}
	return out, true
}

// asTime parses an RFC 3339 date-time and returns it in UTC.
func asTime(s string) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, false
	}
	return t.UTC(), true
}

// firstField returns the one field an invalid-input error names, or "".
func firstField(err error) string {
	for f := range latchkey.ErrorFields(err) {
		return f
	}
	return ""
}

// fieldMessage returns the message of the one field an invalid-input
// error names (without the field's name), or the error's message.
func fieldMessage(err error) string {
	for _, m := range latchkey.ErrorFields(err) {
		return m
	}
	return latchkey.ErrorMessage(err)
}
