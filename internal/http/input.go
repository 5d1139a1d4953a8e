package http

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/latchkey/latchkey/internal/http/httpx"
)

// This file refuses strings PostgreSQL would refuse. PostgreSQL keeps text
// as UTF-8 and answers a NUL byte or invalid UTF-8 with an error, which
// would reach the caller as a 500 (SQLite would store them and hand them to
// every reader). So it is decided once, in two places every request passes:
//
//   - Handler wraps every route, native and the Surfaces', so that a path
//     value, a query parameter or X-Account-ID holding either is refused
//     with 400 naming it before the route's handler (and its
//     authentication) runs, and a User-Agent holding either is made valid;
//   - the body decoders (decodeJSON, decodeFields, unmarshalStrict and, for
//     the other surfaces, httpx.CheckBodyStrings) refuse a body holding
//     either in any string, at any depth, naming the field.
//
// The checks themselves live in internal/http/httpx, which the seed
// surfaces share; this file applies them to routes.
//
// The raw bytes are checked: encoding/json would silently turn invalid
// UTF-8 into U+FFFD. Messages name the field, never echo the value (seed
// 003 carries a secret in its path).

// refuseBadStrings wraps a native route's handler (see checkRequestStrings);
// the error is rendered by the route's adapter.
func refuseBadStrings(pattern string, h handlerFunc) handlerFunc {
	names := patternWildcards(pattern)
	return func(w http.ResponseWriter, r *http.Request) error {
		r, err := checkRequestStrings(r, names)
		if err != nil {
			return err
		}
		return h(w, r)
	}
}

// refuseBadStringsIn wraps another surface's route handler (see
// checkRequestStrings), rendering a refusal with the handler's
// RenderBadInput when it has one.
func (s *Server) refuseBadStringsIn(pattern string, h http.Handler) http.Handler {
	names := patternWildcards(pattern)
	render := renderProblem
	if br, ok := h.(httpx.BadInputRenderer); ok {
		render = br.RenderBadInput
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r, err := checkRequestStrings(r, names)
		if err != nil {
			s.logError(r, err)
			render(w, r, err)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// checkRequestStrings refuses a request whose path values (the wildcard
// names of its route), query parameters or X-Account-ID hold a NUL byte or
// invalid UTF-8, and returns it with a User-Agent that holds neither: that
// header is informational, written by client libraries rather than by the
// caller, and only stored (created_ip/user_agent, audit, sessions), so it is
// made valid (each NUL, and each run of invalid bytes, becomes U+FFFD)
// instead of failing the request.
// On the common path it allocates nothing.
func checkRequestStrings(r *http.Request, names []string) (*http.Request, error) {
	for _, name := range names {
		if p := httpx.StringProblem(r.PathValue(name)); p != "" {
			return r, httpx.BadString("path value "+name, name, p)
		}
	}
	if err := checkQuery(r.URL.RawQuery); err != nil {
		return r, err
	}
	for _, v := range r.Header["X-Account-Id"] {
		if p := httpx.StringProblem(v); p != "" {
			return r, httpx.BadString("header X-Account-ID", "X-Account-ID", p)
		}
	}
	for _, v := range r.Header["User-Agent"] {
		if httpx.StringProblem(v) != "" {
			return withValidUserAgent(r), nil
		}
	}
	return r, nil
}

// withValidUserAgent returns a copy of r whose User-Agent values have each
// NUL byte and each run of invalid UTF-8 replaced by U+FFFD.
func withValidUserAgent(r *http.Request) *http.Request {
	r2 := r.WithContext(r.Context())
	r2.Header = r.Header.Clone()
	uas := r2.Header["User-Agent"]
	for i, v := range uas {
		uas[i] = strings.ReplaceAll(strings.ToValidUTF8(v, "\uFFFD"), "\x00", "\uFFFD")
	}
	return r2
}

// checkQuery refuses a query string with a NUL byte or invalid UTF-8 in a
// parameter's name or value, naming the parameter ("query" when its name
// is at fault). Parameters are checked in name order, so the answer is
// deterministic; a malformed query is left to the route.
func checkQuery(raw string) error {
	if raw == "" || strings.IndexByte(raw, '%') < 0 && httpx.StringProblem(raw) == "" {
		return nil
	}
	q, _ := url.ParseQuery(raw) // what parsed is checked; the route refuses the rest
	return httpx.CheckValues(q, "query parameter", "query")
}

// patternWildcards returns the wildcard names of a ServeMux pattern, in
// order ("PATCH /v1/keys/{id}/devices/{device_id}" → id, device_id).
func patternWildcards(pattern string) []string {
	var names []string
	for {
		i := strings.IndexByte(pattern, '{')
		if i < 0 {
			return names
		}
		j := strings.IndexByte(pattern[i:], '}')
		if j < 0 {
			return names
		}
		name := strings.TrimSuffix(pattern[i+1:i+j], "...")
		if name != "" && name != "$" {
			names = append(names, name)
		}
		pattern = pattern[i+j+1:]
	}
}
