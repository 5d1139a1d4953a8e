package http

import (
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/latchkey/latchkey"
)

// EMETHOD is the HTTP layer's own code for a method the path does not serve.
const EMETHOD = "method_not_allowed"

// codeStatus maps application error codes to HTTP statuses; it is the only
// place that does so for the native API.
var codeStatus = map[string]int{
	latchkey.EINVALID:      http.StatusBadRequest,
	latchkey.EUNAUTHORIZED: http.StatusUnauthorized,
	latchkey.EFORBIDDEN:    http.StatusForbidden,
	latchkey.ENOTFOUND:     http.StatusNotFound,
	latchkey.ECONFLICT:     http.StatusConflict,
	latchkey.ERATELIMITED:  http.StatusTooManyRequests,
	latchkey.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	latchkey.EUNSUPPORTED:  http.StatusUnsupportedMediaType,
	latchkey.EUNAVAILABLE:  http.StatusServiceUnavailable,
	latchkey.EINTERNAL:     http.StatusInternalServerError,
	EMETHOD:                http.StatusMethodNotAllowed,
}

// ErrorStatus returns the HTTP status of an error.
func ErrorStatus(err error) int {
	if s, ok := codeStatus[latchkey.ErrorCode(err)]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// Problem is an RFC 9457 problem document with a stable code and per-field
// errors.
type Problem struct {
	Type   string            `json:"type"`
	Title  string            `json:"title"`
	Status int               `json:"status"`
	Detail string            `json:"detail"`
	Code   string            `json:"code"`
	Errors map[string]string `json:"errors,omitempty"`
}

// handlerFunc is a handler that returns its error for one place to render.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// errorRenderer writes an error in a surface's envelope.
type errorRenderer func(w http.ResponseWriter, r *http.Request, err error)

// renderProblem writes err as application/problem+json.
func renderProblem(w http.ResponseWriter, r *http.Request, err error) {
	status := ErrorStatus(err)
	code := latchkey.ErrorCode(err)
	p := Problem{
		Type:   "https://latchkey.dev/problems/" + code,
		Title:  http.StatusText(status),
		Status: status,
		Detail: latchkey.ErrorMessage(err),
		Code:   code,
		Errors: latchkey.ErrorFields(err),
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="latchkey"`)
	}
	if ra := retryAfter(err); ra > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(ra))
	}
	writeJSONType(w, status, "application/problem+json", p)
}

// retryAfter returns the Retry-After of an error, in whole seconds rounded
// up: its own RetryAfter, else 1 for an outage (503 always says when to try
// again), else 0 for none.
func retryAfter(err error) int {
	if n := latchkey.RetryAfterSeconds(err); n > 0 {
		return n
	}
	if ErrorStatus(err) == http.StatusServiceUnavailable {
		return 1
	}
	return 0
}

// logError logs internal errors in full, and an outage (unavailable) at
// warn with its cause, at most once per outageLogEvery with a count of those
// not logged; client errors, and any error of a request its client gave up
// on (a write queued when the client left), are logged at debug. Messages never carry secrets: errors are built
// without them.
func (s *Server) logError(r *http.Request, err error) {
	switch code := latchkey.ErrorCode(err); {
	case r.Context().Err() != nil:
		// The client went away: what failed after that failed for it
		// (a write queued when it left), and nobody reads the answer.
		s.logger.Debug("request abandoned by its client", "method", r.Method, "route", routeOf(r), "code", code, "err", err)
	case code == latchkey.EINTERNAL:
		s.logger.Error("request failed", "method", r.Method, "route", routeOf(r), "err", err)
	case code == latchkey.EUNAVAILABLE:
		s.outageMu.Lock()
		now := time.Now()
		if now.Sub(s.outageLogged) < outageLogEvery {
			s.outageUnlogged++
			s.outageMu.Unlock()
			return
		}
		n := s.outageUnlogged
		s.outageLogged, s.outageUnlogged = now, 0
		s.outageMu.Unlock()
		s.logger.Warn("request answered 503", "method", r.Method, "route", routeOf(r), "err", err, "similar_not_logged", n)
	default:
		s.logger.Debug("request refused", "method", r.Method, "route", routeOf(r), "code", code, "detail", latchkey.ErrorMessage(err))
	}
}

// outageLogEvery bounds how often unavailable answers are logged.
const outageLogEvery = 10 * time.Second

// recoverer turns a panic in another surface's handler into a bare 500
// that reveals nothing, and logs it.
func (s *Server) recoverer(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.logger.Error("panic serving request", "method", r.Method, "route", routeOf(r), "err", fmt.Errorf("panic: %v\n%s", v, debug.Stack()))
				writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "internal error"})
			}
		}()
		h.ServeHTTP(w, r)
	})
}

// routeOf names the request's route pattern for logs: never the raw path,
// where a caller may have pasted a secret (seed 003 even puts one there).
func routeOf(r *http.Request) string {
	if r.Pattern != "" {
		return r.Pattern
	}
	return "(no route)"
}

// adapt turns a handlerFunc into an http.Handler that renders its error
// with render and turns a panic into an internal error.
func (s *Server) adapt(h handlerFunc, render errorRenderer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				err := fmt.Errorf("panic: %v\n%s", v, debug.Stack())
				s.logger.Error("panic serving request", "method", r.Method, "route", routeOf(r), "err", err)
				render(w, r, errors.New("internal error"))
			}
		}()
		if err := h(w, r); err != nil {
			s.logError(r, err)
			render(w, r, err)
		}
	})
}
