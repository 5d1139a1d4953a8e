package compat

import (
	"bytes"
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/http/httpx"
)

// This file reads the seed surfaces' request bodies: their size, media
// type and strings, and a form turned into the JSON object the surfaces
// decode (jsonvalues.go decodes its members).

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

// formMediaType is the media type of an HTML form's body.
const formMediaType = "application/x-www-form-urlencoded"

// formKind is the JSON kind a surface reads a form field's value as.
type formKind int

const (
	formString formKind = iota
	formInt             // a whole number; anything else stays a string
	formBool            // true/false/1/0 (strconv.ParseBool); anything else stays a string
)

// formToJSON turns a form body into the JSON object a surface's decoder
// reads, as the products' own form parsers do: each field's first value,
// as a number or boolean where kinds says so and the text is one, else as
// a string (so the decoder's type check names the field). A body that is
// not a form is an error.
func formToJSON(b []byte, kinds map[string]formKind) ([]byte, error) {
	q, err := url.ParseQuery(string(b))
	if err != nil {
		return nil, err
	}
	m := make(map[string]any, len(q))
	for name, vs := range q {
		v := vs[0]
		m[name] = v
		switch kinds[name] {
		case formInt:
			if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
				m[name] = n
			}
		case formBool:
			if t, err := strconv.ParseBool(strings.TrimSpace(v)); err == nil {
				m[name] = t
			}
		}
	}
	return json.Marshal(m)
}

// isJSONRequest reports whether a request has no Content-Type or a JSON one.
func isJSONRequest(r *http.Request) bool {
	mt := mediaType(r)
	return mt == "" || isJSONMediaType(mt)
}

// isJSONMediaType reports whether a media type is JSON (application/json
// or a +json type).
func isJSONMediaType(mt string) bool {
	return mt == "application/json" || strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")
}
