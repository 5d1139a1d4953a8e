package http

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
)

// This file holds what the native handlers share: reading path ids, query
// parameters and bodies, the one shape of a route on one key, and the
// answers (a JSON value, a page, no content).

// reply answers v as JSON with status, unless err, which it returns for
// the route's adapter to render.
func reply(w http.ResponseWriter, status int, v any, err error) error {
	if err != nil {
		return err
	}
	writeJSON(w, status, v)
	return nil
}

// noContent answers 204, unless err, which it returns.
func noContent(w http.ResponseWriter, err error) error {
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// page is a list answer with the cursor of the next page (null at the end).
type page[T any] struct {
	Data       []T     `json:"data"`
	NextCursor *string `json:"next_cursor"`
}

// newPage returns a page of data ([] rather than null when empty) and the
// cursor of the next ("" at the end).
func newPage[T any](data []T, cursor string) page[T] {
	if data == nil {
		data = []T{}
	}
	p := page[T]{Data: data}
	if cursor != "" {
		p.NextCursor = &cursor
	}
	return p
}

// body reads a route's request body into T.
type body[T any] func(w http.ResponseWriter, r *http.Request) (T, error)

// jsonBody decodes a JSON object strictly into T (see decodeJSON); when
// optional, an empty body is T's zero value.
func jsonBody[T any](optional bool) body[T] {
	return func(w http.ResponseWriter, r *http.Request) (T, error) {
		var v T
		err := decodeJSON(w, r, &v, optional)
		return v, err
	}
}

// fieldsBody reads a body and decodes it field by field with decode
// (decodeKeyCreate, decodeKeyUpdate: null and absent told apart).
func fieldsBody[T any](decode func([]byte) (T, error)) body[T] {
	return func(w http.ResponseWriter, r *http.Request) (T, error) {
		b, err := readBody(w, r)
		if err != nil {
			var zero T
			return zero, err
		}
		return decode(b)
	}
}

// noBody is the body of a route that reads none.
func noBody(http.ResponseWriter, *http.Request) (struct{}, error) { return struct{}{}, nil }

// serve runs a JSON route: the body is read into T, then fn; fn's value is
// answered as JSON with status, or 204 when fn returns none (nil).
func serve[T any](w http.ResponseWriter, r *http.Request, status int, read body[T], fn func(T) (any, error)) error {
	b, err := read(w, r)
	if err != nil {
		return err
	}
	v, err := fn(b)
	if err != nil {
		return err
	}
	if v == nil {
		return noContent(w, nil)
	}
	return reply(w, status, v, nil)
}

// keyGuard is what a route on one key (/v1/keys/{id}…) checks before it
// reads the body: nothing for a read, else the root-key rule of
// auth.Principal.GuardKeyChange.
type keyGuard int

const (
	readKey         keyGuard = iota // no check
	changeKey                       // GuardKeyChange, not self-safe
	changeKeySafely                 // GuardKeyChange, self-safe: rotating oneself, forgetting a device
)

// serveKey runs a route on the key {id} of the caller's account: the id is
// parsed, the guard applied, then the body read and fn called as serve
// does, answering 200 (204 when fn returns nil).
func serveKey[T any](s *Server, w http.ResponseWriter, r *http.Request, g keyGuard, read body[T],
	fn func(ctx context.Context, accountID, id int64, body T) (any, error)) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if g != readKey {
		if err := s.guardRootKey(r, id, g == changeKeySafely); err != nil {
			return err
		}
	}
	return serve(w, r, http.StatusOK, read, func(b T) (any, error) {
		return fn(r.Context(), principalFrom(r.Context()).AccountID, id, b)
	})
}

// accountOf is the account the request's principal acts on.
func accountOf(r *http.Request) int64 { return principalFrom(r.Context()).AccountID }

// pathID parses a positive integer path value.
func pathID(r *http.Request, name string) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	if err != nil || id <= 0 {
		return 0, latchkey.FieldError(name, "must be a positive integer")
	}
	return id, nil
}

// parseQuery parses the request's query string and refuses a parameter
// the route does not take, so a typo (?stauts=active) is a 400 naming it
// instead of a silently unfiltered answer.
func parseQuery(r *http.Request, known ...string) (url.Values, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, latchkey.FieldError("query", "is not a valid query string: %v", err)
	}
	for name := range q {
		if !slices.Contains(known, name) {
			return nil, latchkey.FieldError(name, "is not a parameter of this route (it takes %s)", strings.Join(known, ", "))
		}
	}
	return q, nil
}

// queryLimit parses the limit query parameter (1..1000; absent is 0, the
// store's default).
func queryLimit(q url.Values) (int, error) {
	v := q.Get("limit")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 1000 {
		return 0, latchkey.FieldError("limit", "must be an integer from 1 to 1000")
	}
	return n, nil
}

// queryTime parses an RFC 3339 query parameter, or returns def.
func queryTime(q url.Values, name string, def time.Time) (time.Time, error) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, latchkey.FieldError(name, "must be an RFC 3339 time like 2027-01-01T00:00:00Z")
	}
	return t.UTC(), nil
}
