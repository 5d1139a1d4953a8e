package compat

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"time"

	"github.com/latchkey/latchkey"
)

// This file decodes what the seed surfaces read: a path id, one JSON
// object and each member's value by its JSON kind, and the field an
// invalid-input error names.

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

// requireObject reads a body that must be one JSON object (seeds 001 and
// 002): an empty body or another JSON value is refused with bad(notObject),
// malformed JSON with bad(malformed), in the product's words.
func requireObject[E replier](b []byte, bad func(string) E, notObject, malformed string) (map[string]json.RawMessage, replier) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, bad(notObject)
	}
	m, err := parseObject(b)
	if errors.Is(err, errNotObject) {
		return nil, bad(notObject)
	} else if err != nil {
		return nil, bad(malformed)
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
