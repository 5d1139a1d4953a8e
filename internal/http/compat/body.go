package compat

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/http/httpx"
)

// This file reads the seed surfaces' request bodies and decodes their
// members: one JSON object, each member's value by its JSON kind.

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
