// Package compat serves the seed surfaces: the key resources of four
// other products, each at its documented paths, with its own order of
// checks and its own error envelope, as thin adapters over
// latchkey.KeyService, so each product's own client works unchanged.
// Files by product:
//
//	mailforward.go        seed 000, the mail-forwarding admin API: PATCH /api/admin/api-tokens/{id}
//	mailforwardtokens.go    its token list, read, create and delete
//	mailforwardauth.go      its sign-in, session, CSRF, refresh, sign-out and /api/admin/me
//	whatsapp.go           seed 001, the WhatsApp multi-session gateway's admin API: PATCH /admin/api-keys/{id}
//	whatsappkeys.go         its key create, list, read and delete
//	pulsecrm.go           seed 002, the PulseCRM public API: PATCH /apikeys/{id}
//	pulsecrmkeys.go         its POST /apikeys
//	unleash.go            seed 003, the Unleash admin API: PUT /api/admin/api-tokens/{token}
//	unleashtokens.go        its token list (all, or by name), create and delete
//	unleasherrors.go        Unleash's error bodies
//
// and what they share: surfaces.go (the routes, the panic guard, the answer
// every reply gives (replier), the mapping of service errors), keys.go
// (reading every key a filter matches; the dispatch of the paths seeds 000
// and 003 share, on the credential), body.go (reading bodies, forms) and
// jsonvalues.go (decoding their members).
//
// Every change goes through KeyService with the caller as the context's
// actor, so the audit log records who made it. Callers are authenticated
// by the *auth.Authenticator the native API shares (internal/http/auth);
// bodies are read and JSON written with internal/http/httpx. This package
// does not import internal/http, which serves its Routes beside the native
// ones.
package compat

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
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
		{Method: "PATCH", Pattern: "/api/admin/api-tokens/{id}", Handler: s.guard(mailForward, s.handleMailForwardPatch)},
		{Method: "PATCH", Pattern: "/admin/api-keys/{id}", Handler: s.guard(whatsApp, s.handleWhatsAppPatch)},
		{Method: "POST", Pattern: "/admin/api-keys", Handler: s.guard(whatsApp, s.handleWhatsAppCreate)},
		{Method: "GET", Pattern: "/admin/api-keys", Handler: s.guard(whatsApp, s.handleWhatsAppList)},
		{Method: "GET", Pattern: "/admin/api-keys/{id}", Handler: s.guard(whatsApp, s.handleWhatsAppGet)},
		{Method: "DELETE", Pattern: "/admin/api-keys/{id}", Handler: s.guard(whatsApp, s.handleWhatsAppDelete)},
		{Method: "PATCH", Pattern: "/apikeys/{id}", Handler: s.guard(pulseCRM, s.handlePulseCRMPatch)},
		{Method: "POST", Pattern: "/apikeys", Handler: s.guard(pulseCRM, s.handlePulseCRMCreate)},
		{Method: "PUT", Pattern: "/api/admin/api-tokens/{token}", Handler: s.guard(unleash, s.handleUnleashExpiryPut)},
		{Method: "POST", Pattern: "/api/auth/sign-in", Handler: s.guard(mailForward, s.handleMailForwardSignIn)},
		{Method: "GET", Pattern: "/api/auth/session", Handler: s.guard(mailForward, s.handleMailForwardSession)},
		{Method: "GET", Pattern: "/api/auth/csrf", Handler: s.guard(mailForward, s.handleMailForwardCSRFToken)},
		{Method: "POST", Pattern: "/api/auth/refresh", Handler: s.guard(mailForward, s.handleMailForwardRefresh)},
		{Method: "POST", Pattern: "/api/auth/sign-out", Handler: s.guard(mailForward, s.handleMailForwardSignOut(false))},
		{Method: "POST", Pattern: "/api/auth/sign-out-all", Handler: s.guard(mailForward, s.handleMailForwardSignOut(true))},
		{Method: "GET", Pattern: "/api/admin/me", Handler: s.guard(mailForward, s.handleMailForwardMe)},
		{Method: "GET", Pattern: "/api/admin/api-tokens", Handler: s.shared(s.handleMailForwardList, s.handleUnleashList)},
		{Method: "POST", Pattern: "/api/admin/api-tokens", Handler: s.shared(s.handleMailForwardCreate, s.handleUnleashCreate)},
		{Method: "GET", Pattern: "/api/admin/api-tokens/{id}", Handler: s.shared(s.handleMailForwardGet, s.handleUnleashList)},
		{Method: "DELETE", Pattern: "/api/admin/api-tokens/{id}", Handler: s.shared(s.handleMailForwardDelete, s.handleUnleashDelete)},
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

// reply is what every surface's answer carries besides its body: the HTTP
// status and the seconds of Retry-After (0: none).
type reply struct {
	Status     int `json:"-"`
	RetryAfter int `json:"-"`
}

// replier is one surface's answer: its status and Retry-After, and the
// body it sends (nil: none).
type replier interface {
	head() reply
	body() any
}

// render writes an answer.
func render(w http.ResponseWriter, a replier) {
	h := a.head()
	if h.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(h.RetryAfter))
	}
	b := a.body()
	if b == nil {
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(h.Status)
		return
	}
	httpx.WriteJSON(w, h.Status, b)
}

// answer is a success with a JSON body (or none, for nil).
type answer struct {
	reply
	v any
}

func (a *answer) head() reply { return a.reply }
func (a *answer) body() any   { return a.v }

// jsonAnswer is the answer status with the JSON body v (nil: none).
func jsonAnswer(status int, v any) replier { return &answer{reply: reply{Status: status}, v: v} }

// handler serves one seed route and returns its answer, which the route
// renders (nil: the handler wrote it).
type handler func(w http.ResponseWriter, r *http.Request) replier

// surface is one product's answers to the failures every surface meets,
// so the steps they share (guard, readJSON, failure, outcome) are
// written once.
type surface struct {
	name        string                          // for the logs: "seed000" … "seed003"
	internal    func() replier                  // 500
	unavailable func(secs int) replier          // 503; failure sets Retry-After to secs
	mediaOK     func(r *http.Request) bool      // nil: no Content-Type, a JSON one, or a form when form is set
	badMedia    func(r *http.Request) replier   // a Content-Type mediaOK refuses
	form        map[string]formKind             // nil: no form bodies; else each field's JSON kind
	badString   func(field, msg string) replier // a NUL byte or invalid UTF-8
	tooLarge    func() replier                  // a body over httpx.MaxBodyBytes
	unreadable  func() replier                  // a body that could not be read
	badID       func() replier                  // an {id} that is not a key id; nil where no route takes one
}

// guard returns a surface's route handler: it recovers a panic in h and
// answers 500 in that surface's envelope, and it renders in that envelope
// the strings the server (internal/http) refuses before h runs (a path value, query
// parameter or X-Account-ID holding a NUL byte or invalid UTF-8).
func (s *Surfaces) guard(sf *surface, h handler) http.Handler {
	return &surfaceHandler{s: s, sf: sf, h: h}
}

// surfaceHandler is one seed route (see guard).
type surfaceHandler struct {
	s  *Surfaces
	sf *surface
	h  handler
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
			sh.s.logger().Error("panic serving seed surface", "surface", sh.sf.name, "method", r.Method,
				"err", fmt.Errorf("panic: %v\n%s", v, debug.Stack()))
			render(w, sh.sf.internal())
		}
	}()
	if a := sh.h(w, r); a != nil {
		render(w, a)
	}
}

// RenderBadInput answers a refused request string in the surface's envelope.
func (sh *surfaceHandler) RenderBadInput(w http.ResponseWriter, r *http.Request, err error) {
	field, msg, _ := badStringField(err)
	render(w, sh.sf.badString(field, msg))
}

// readJSON checks a request's Content-Type, reads its body (see readBody),
// turns a form body into the JSON object the surface decodes (see
// formToJSON) and answers their failures in the surface's envelope: a
// media type the surface refuses, too large, a bad string, unreadable.
func (sf *surface) readJSON(w http.ResponseWriter, r *http.Request) ([]byte, replier) {
	isForm := sf.form != nil && mediaType(r) == formMediaType
	if sf.mediaOK != nil && !sf.mediaOK(r) || sf.mediaOK == nil && !isJSONRequest(r) && !isForm {
		return nil, sf.badMedia(r)
	}
	b, err := readBody(w, r)
	if err == nil && isForm {
		b, err = formToJSON(b, sf.form)
	}
	if errors.Is(err, errTooLarge) {
		return nil, sf.tooLarge()
	} else if field, msg, bad := badStringField(err); bad {
		return nil, sf.badString(field, msg)
	} else if err != nil {
		return nil, sf.unreadable()
	}
	return b, nil
}

// decodeJSON reads a request's body (see readJSON) and decodes it.
func decodeJSON[T any](sf *surface, w http.ResponseWriter, r *http.Request, decode func([]byte) (T, replier)) (T, replier) {
	b, e := sf.readJSON(w, r)
	if e != nil {
		var zero T
		return zero, e
	}
	return decode(b)
}

// callerAndBody authenticates the caller with who, then reads and decodes
// the request's body (see decodeJSON): the first steps of a create.
func callerAndBody[T any](sf *surface, w http.ResponseWriter, r *http.Request, who func(*http.Request) (*auth.Principal, replier),
	decode func([]byte) (T, replier)) (*auth.Principal, T, replier) {
	var zero T
	p, e := who(r)
	if e != nil {
		return nil, zero, e
	}
	v, e := decodeJSON(sf, w, r, decode)
	if e != nil {
		return nil, zero, e
	}
	return p, v, nil
}

// callerAndID authenticates the caller with who, then reads the key id in
// the {id} path value (sf.badID when it is not one): the first steps of a
// route on one key.
func callerAndID(sf *surface, r *http.Request, who func(*http.Request) (*auth.Principal, replier)) (*auth.Principal, int64, replier) {
	p, e := who(r)
	if e != nil {
		return nil, 0, e
	}
	id, ok := parseID(r.PathValue("id"))
	if !ok {
		return nil, 0, sf.badID()
	}
	return p, id, nil
}

// failure is the answer to an unexpected service error: 503 when the
// store cannot be reached, else a logged 500. A call that failed because
// its request's client went away (a write queued when it left) is logged
// at debug, as the native API does: nobody reads that answer.
func (s *Surfaces) failure(sf *surface, err error) replier {
	if errors.Is(err, context.Canceled) {
		s.logger().Debug("seed surface request abandoned by its client", "surface", sf.name, "err", err)
		return sf.internal()
	}
	if secs, ok := s.unavailable(sf.name, err); ok {
		return retryAfter{sf.unavailable(secs), secs}
	}
	s.logInternal(sf.name, err)
	return sf.internal()
}

// retryAfter is a surface's 503 with Retry-After set to the seconds
// failure computed, so each product words its 503 and none can leave the
// header out.
type retryAfter struct {
	replier
	secs int
}

// head is the product's head with Retry-After set.
func (a retryAfter) head() reply {
	h := a.replier.head()
	h.RetryAfter = a.secs
	return h
}

// outcome maps a service call's error: nil for none, notFound for
// not_found and invalid(err) for invalid input (each when not nil), else
// failure.
func (s *Surfaces) outcome(sf *surface, err error, notFound replier, invalid func(error) replier) replier {
	switch latchkey.ErrorCode(err) {
	case "":
		return nil
	case latchkey.ENOTFOUND:
		if notFound != nil {
			return notFound
		}
	case latchkey.EINVALID:
		if invalid != nil {
			return invalid(err)
		}
	}
	return s.failure(sf, err)
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
	return max(1, latchkey.RetryAfterSeconds(err)), true
}

// actorContext returns the request's context carrying the principal as the
// audit actor.
func actorContext(r *http.Request, p *auth.Principal) context.Context {
	return latchkey.NewContextWithActor(r.Context(), p.Actor)
}
