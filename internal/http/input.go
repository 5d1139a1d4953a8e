package http

import (
	"bytes"
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/latchkey/latchkey"
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
//     the other surfaces, CheckBodyStrings) refuse a body holding either in
//     any string, at any depth, naming the field.
//
// The raw bytes are checked: encoding/json would silently turn invalid
// UTF-8 into U+FFFD. Messages name the field, never echo the value (seed
// 003 carries a secret in its path).

const (
	msgNUL  = "must not contain a NUL byte"
	msgUTF8 = "must be valid UTF-8"
)

// stringProblem says why s cannot be stored, or "" when it can.
func stringProblem(s string) string {
	switch {
	case strings.IndexByte(s, 0) >= 0:
		return msgNUL
	case !utf8.ValidString(s):
		return msgUTF8
	}
	return ""
}

// badString is the invalid error naming field; where says what the field
// is ("path value id", "query parameter q", "body field meta.plan").
func badString(where, field, problem string) *latchkey.Error {
	return &latchkey.Error{Code: latchkey.EINVALID, Message: where + " " + problem, Fields: map[string]string{field: problem}}
}

// BadInputRenderer is implemented by a Route's Handler that answers a
// refused request string in its own surface's envelope: Handler calls it
// instead of the handler for a path value, query parameter or X-Account-ID
// holding a NUL byte or invalid UTF-8, with an invalid error naming the
// field. A Handler that does not implement it gets problem+json.
type BadInputRenderer interface {
	RenderBadInput(w http.ResponseWriter, r *http.Request, err error)
}

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
	if br, ok := h.(BadInputRenderer); ok {
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
		if p := stringProblem(r.PathValue(name)); p != "" {
			return r, badString("path value "+name, name, p)
		}
	}
	if err := checkQuery(r.URL.RawQuery); err != nil {
		return r, err
	}
	for _, v := range r.Header["X-Account-Id"] {
		if p := stringProblem(v); p != "" {
			return r, badString("header X-Account-ID", "X-Account-ID", p)
		}
	}
	for _, v := range r.Header["User-Agent"] {
		if stringProblem(v) != "" {
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
	if raw == "" || strings.IndexByte(raw, '%') < 0 && stringProblem(raw) == "" {
		return nil
	}
	q, _ := url.ParseQuery(raw) // what parsed is checked; the route refuses the rest
	return checkValues(q, "query parameter", "query")
}

// checkValues checks parsed query or form values (see checkQuery); whole
// names the refused field when a parameter's name is at fault.
func checkValues(q url.Values, where, whole string) error {
	names := make([]string, 0, len(q))
	for name := range q {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if p := stringProblem(name); p != "" {
			return badString("a "+where+" name", whole, p)
		}
		for _, v := range q[name] {
			if p := stringProblem(v); p != "" {
				shown := safeFieldName(name)
				return badString(where+" "+shown, shown, p)
			}
		}
	}
	return nil
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

// CheckBodyStrings refuses a request body holding a NUL byte or invalid
// UTF-8 in any field, for surfaces that read their bodies themselves: in
// any string of a JSON body (raw, or a NUL as the escape \u0000), at any
// depth, member names included, or in any field of an
// application/x-www-form-urlencoded body. The error is invalid and names
// the field ("meta.plan", "permissions[1]"; "body" when none can be named).
// An empty body passes.
func CheckBodyStrings(r *http.Request, body []byte) error {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/x-www-form-urlencoded" {
		if bytesProblem(body) == "" && bytes.IndexByte(body, '%') < 0 {
			return nil
		}
		q, _ := url.ParseQuery(string(body))
		return checkValues(q, "form field", "body")
	}
	return checkJSONStrings(body)
}

// escapedNUL is a NUL byte written as a JSON escape.
var escapedNUL = []byte(`\u0000`)

// checkJSONStrings refuses a JSON document with a NUL byte or invalid UTF-8
// in any string (see CheckBodyStrings). A document with neither anywhere
// costs one pass over its bytes; otherwise it is walked to name the field.
// Whether the document is well-formed JSON is left to the decoder: a bad
// byte outside any string is named as the field it stands in, or "body".
func checkJSONStrings(b []byte) error {
	if bytesProblem(b) == "" && !bytes.Contains(b, escapedNUL) {
		return nil
	}
	w := jsonWalker{b: b}
	if err := w.value(0); err != nil {
		return err
	}
	if w.skipSpace(); !w.bad && w.i == len(b) {
		return nil // well-formed, and every string storable (a \\u0000 is not a NUL)
	}
	// Malformed, or trailing data: a bad byte anywhere has no field to name.
	if p := bytesProblem(b); p != "" {
		return badString("body", "body", p)
	}
	return nil
}

// bytesProblem is stringProblem for bytes.
func bytesProblem(b []byte) string {
	switch {
	case bytes.IndexByte(b, 0) >= 0:
		return msgNUL
	case !utf8.Valid(b):
		return msgUTF8
	}
	return ""
}

// maxWalkDepth bounds how deep jsonWalker descends; encoding/json refuses
// deeper documents anyway.
const maxWalkDepth = 10000

// jsonWalker walks a JSON document to the first string holding a NUL byte
// or invalid UTF-8, keeping the path of the value it is in. It stops
// quietly (a nil error, i short of the end) at anything malformed.
type jsonWalker struct {
	b    []byte
	i    int
	path []string // "name" for a member, "[n]" for an element
	bad  bool     // stopped at something malformed
}

func (w *jsonWalker) field() string {
	var sb strings.Builder
	for _, p := range w.path {
		if sb.Len() > 0 && p[0] != '[' {
			sb.WriteByte('.')
		}
		sb.WriteString(p)
	}
	if sb.Len() == 0 {
		return "body"
	}
	return sb.String()
}

func (w *jsonWalker) skipSpace() {
	for w.i < len(w.b) {
		switch w.b[w.i] {
		case ' ', '\t', '\n', '\r':
			w.i++
		default:
			return
		}
	}
}

// value walks one value; a non-nil error names the string at fault.
func (w *jsonWalker) value(depth int) error {
	w.skipSpace()
	if w.i >= len(w.b) || depth > maxWalkDepth {
		w.bad = true
		return nil
	}
	switch w.b[w.i] {
	case '{':
		return w.object(depth)
	case '[':
		return w.array(depth)
	case '"':
		_, p := w.str()
		if p != "" {
			f := w.field()
			return badString("body field "+f, f, p)
		}
		return nil
	}
	// a literal: true, false, null or a number
	for w.i < len(w.b) {
		switch c := w.b[w.i]; {
		case c == ',' || c == ']' || c == '}' || c == ' ' || c == '\t' || c == '\n' || c == '\r':
			return nil
		case c == 0:
			f := w.field()
			return badString("body field "+f, f, msgNUL)
		case c >= utf8.RuneSelf:
			if r, size := utf8.DecodeRune(w.b[w.i:]); r == utf8.RuneError && size == 1 {
				f := w.field()
				return badString("body field "+f, f, msgUTF8)
			}
			w.bad = true // malformed: the decoder says so
			return nil
		}
		w.i++
	}
	return nil
}

func (w *jsonWalker) object(depth int) error {
	w.i++ // {
	w.skipSpace()
	if w.i < len(w.b) && w.b[w.i] == '}' {
		w.i++
		return nil
	}
	for {
		w.skipSpace()
		if w.i >= len(w.b) || w.b[w.i] != '"' {
			w.bad = true
			return nil
		}
		start := w.i
		ok, p := w.str()
		if p != "" {
			f := w.field()
			return badString("a field name in "+f, f, p)
		}
		if !ok {
			return nil
		}
		var name string
		if err := json.Unmarshal(w.b[start:w.i], &name); err != nil {
			w.bad = true
			return nil
		}
		w.skipSpace()
		if w.i >= len(w.b) || w.b[w.i] != ':' {
			w.bad = true
			return nil
		}
		w.i++
		w.path = append(w.path, safeFieldName(name))
		err := w.value(depth + 1)
		w.path = w.path[:len(w.path)-1]
		if err != nil || w.bad {
			return err
		}
		w.skipSpace()
		if w.i >= len(w.b) {
			w.bad = true
			return nil
		}
		switch w.b[w.i] {
		case ',':
			w.i++
		case '}':
			w.i++
			return nil
		default:
			w.bad = true
			return nil
		}
	}
}

func (w *jsonWalker) array(depth int) error {
	w.i++ // [
	w.skipSpace()
	if w.i < len(w.b) && w.b[w.i] == ']' {
		w.i++
		return nil
	}
	for n := 0; ; n++ {
		w.path = append(w.path, "["+strconv.Itoa(n)+"]")
		err := w.value(depth + 1)
		w.path = w.path[:len(w.path)-1]
		if err != nil || w.bad {
			return err
		}
		w.skipSpace()
		if w.i >= len(w.b) {
			w.bad = true
			return nil
		}
		switch w.b[w.i] {
		case ',':
			w.i++
		case ']':
			w.i++
			return nil
		default:
			w.bad = true
			return nil
		}
	}
}

// str walks a string from its opening quote: ok says it was closed, and
// problem says why it cannot be stored, or "".
func (w *jsonWalker) str() (ok bool, problem string) {
	w.i++ // "
	for w.i < len(w.b) {
		c := w.b[w.i]
		switch {
		case c == '"':
			w.i++
			return true, ""
		case c == 0:
			return false, msgNUL
		case c == '\\':
			if bytes.HasPrefix(w.b[w.i:], escapedNUL) {
				return false, msgNUL
			}
			w.i++
			// An escaped quote or backslash is passed over; any other
			// escape's bytes are walked as the string's own.
			if w.i < len(w.b) && (w.b[w.i] == '"' || w.b[w.i] == '\\') {
				w.i++
			}
		case c < utf8.RuneSelf:
			w.i++
		default:
			r, size := utf8.DecodeRune(w.b[w.i:])
			if r == utf8.RuneError && size == 1 {
				return false, msgUTF8
			}
			w.i += size
		}
	}
	w.bad = true
	return false, ""
}
