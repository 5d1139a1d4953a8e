package http

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/http/httpx"
)

// readBody reads a JSON request body of at most httpx.MaxBodyBytes. A body
// with a content type other than JSON is refused with 415; an empty body
// yields nil.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	var buf bytes.Buffer
	if err := readBodyInto(w, r, &buf); err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(buf.Bytes())) == 0 {
		return nil, nil
	}
	return buf.Bytes(), nil
}

// readBodyInto reads a JSON request body into buf (see httpx.ReadBodyInto):
// 415 for a content type other than JSON, too_large past the limit,
// invalid when it cannot be read.
func readBodyInto(w http.ResponseWriter, r *http.Request, buf *bytes.Buffer) error {
	if err := checkContentType(r); err != nil {
		return err
	}
	switch err := httpx.ReadBodyInto(w, r, buf); {
	case errors.Is(err, httpx.ErrTooLarge):
		return latchkey.Errorf(latchkey.ETOOLARGE, "request body must be at most %d bytes", httpx.MaxBodyBytes)
	case err != nil:
		return latchkey.Errorf(latchkey.EINVALID, "could not read request body")
	}
	return nil
}

// checkContentType refuses a body whose Content-Type is set and not JSON.
func checkContentType(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" || ct == "application/json" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return latchkey.Errorf(latchkey.EUNSUPPORTED, "Content-Type must be application/json")
	}
	return nil
}

// decodeJSON decodes a JSON body into v, refusing unknown fields and
// naming the field at fault. An empty body is an error unless optional.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any, optional bool) error {
	b, err := readBody(w, r)
	if err != nil {
		return err
	}
	if b == nil {
		if optional {
			return nil
		}
		return latchkey.Errorf(latchkey.EINVALID, "request body must be a JSON object")
	}
	return unmarshalStrict(b, v)
}

// unmarshalStrict decodes one JSON value into v with unknown fields refused
// and errors that name the field, a string holding a NUL byte or invalid
// UTF-8 among them (see httpx.CheckJSONStrings).
func unmarshalStrict(b []byte, v any) error {
	if err := httpx.CheckJSONStrings(b); err != nil {
		return err
	}
	if err := decodeStrict(b, v); err != nil {
		return jsonError("", err)
	}
	return nil
}

// errTrailingData says a body held more than one JSON value.
var errTrailingData = errors.New("trailing data after the JSON value")

// decodeStrict decodes exactly one JSON value with unknown fields refused,
// returning encoding/json's own errors.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errTrailingData
	}
	return nil
}

// jsonError turns an encoding/json error into an invalid-input error naming
// the field (prefixed by field when the value was decoded on its own).
func jsonError(field string, err error) error {
	join := func(a, b string) string {
		switch {
		case a == "":
			return b
		case b == "":
			return a
		}
		return a + "." + b
	}
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	var pe *time.ParseError
	switch {
	case errors.As(err, &se):
		if field != "" {
			return latchkey.FieldError(field, "is not valid JSON")
		}
		return latchkey.Errorf(latchkey.EINVALID, "malformed JSON at byte %d: %s", se.Offset, se.Error())
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return latchkey.Errorf(latchkey.EINVALID, "malformed JSON: unexpected end of input")
	case errors.As(err, &te):
		name := join(field, te.Field)
		if name == "" {
			return latchkey.Errorf(latchkey.EINVALID, "request body must be %s", jsonKind(te.Type))
		}
		return latchkey.FieldError(name, "must be %s", jsonKind(te.Type))
	case errors.As(err, &pe), strings.Contains(err.Error(), "Time.UnmarshalJSON"):
		return latchkey.FieldError(orBody(field), "must be an RFC 3339 time like 2027-01-01T00:00:00Z")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return latchkey.FieldError(join(field, httpx.SafeFieldName(name)), "is not a known field")
	}
	var le *latchkey.Error
	if errors.As(err, &le) {
		return le
	}
	if errors.Is(err, errTrailingData) {
		return latchkey.FieldError(orBody(field), "must hold a single JSON value")
	}
	return latchkey.FieldError(orBody(field), "is invalid: %s", strings.TrimPrefix(err.Error(), "json: "))
}

// orBody names the whole body when no field is at fault.
func orBody(field string) string {
	if field == "" {
		return "body"
	}
	return field
}

// jsonKind says what JSON a Go type takes, for "must be …" messages.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t {
	case reflect.TypeOf(time.Time{}):
		return "an RFC 3339 time string"
	case reflect.TypeOf(json.RawMessage{}):
		return "JSON"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "of another type"
}

// fieldSpec describes one field of an object decoded field by field.
type fieldSpec struct {
	target   any  // pointer to decode into
	nullable bool // null is allowed (target handles it)
	readOnly bool // present in responses, refused in requests
}

// nullableFields returns a nullable spec for each JSON-named field of the
// struct v points to, decoding into that field.
func nullableFields(v any) map[string]fieldSpec {
	rv := reflect.ValueOf(v).Elem()
	specs := make(map[string]fieldSpec, rv.NumField())
	for i := range rv.NumField() {
		if name, _, _ := strings.Cut(rv.Type().Field(i).Tag.Get("json"), ","); name != "" && name != "-" {
			specs[name] = fieldSpec{target: rv.Field(i).Addr().Interface(), nullable: true}
		}
	}
	return specs
}

// decodeFields decodes a JSON object field by field into specs, naming the
// field at fault: a string holding a NUL byte or invalid UTF-8 (see
// httpx.CheckJSONStrings), unknown fields, read-only fields, null where null is
// not allowed, and wrong types. Fields are checked in name order so the
// error is deterministic.
func decodeFields(b []byte, specs map[string]fieldSpec) (present map[string]bool, err error) {
	if b == nil {
		return nil, latchkey.Errorf(latchkey.EINVALID, "request body must be a JSON object")
	}
	if err := httpx.CheckJSONStrings(b); err != nil {
		return nil, err
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, jsonError("", err)
	}
	if raw == nil {
		return nil, latchkey.Errorf(latchkey.EINVALID, "request body must be a JSON object")
	}
	names := make([]string, 0, len(raw))
	for n := range raw {
		names = append(names, n)
	}
	sort.Strings(names)
	present = make(map[string]bool, len(raw))
	var all *latchkey.Error // every bad field, the first one in Message
	add := func(err error) {
		le, ok := err.(*latchkey.Error)
		if !ok || len(le.Fields) == 0 {
			le = &latchkey.Error{Code: latchkey.EINVALID, Message: latchkey.ErrorMessage(err), Fields: map[string]string{"body": latchkey.ErrorMessage(err)}}
		}
		if all == nil {
			all = &latchkey.Error{Code: latchkey.EINVALID, Message: le.Message, Fields: map[string]string{}}
		}
		for k, v := range le.Fields {
			all.Fields[k] = v
		}
	}
	for _, name := range names {
		spec, ok := specs[name]
		shown := httpx.SafeFieldName(name)
		switch {
		case !ok:
			add(latchkey.FieldError(shown, "is not a known field"))
			continue
		case spec.readOnly:
			add(latchkey.FieldError(shown, "is read-only"))
			continue
		}
		v := raw[name]
		if string(bytes.TrimSpace(v)) == "null" && !spec.nullable {
			add(latchkey.FieldError(name, "cannot be null"))
			continue
		}
		if err := decodeStrict(v, spec.target); err != nil {
			add(jsonError(name, err))
			continue
		}
		present[name] = true
	}
	if all != nil {
		if n := len(all.Fields); n > 1 {
			all.Message += fmt.Sprintf(" (and %d more: see errors)", n-1)
		}
		return nil, all
	}
	return present, nil
}

// writeJSON writes v as JSON with the status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	httpx.WriteJSON(w, status, v)
}

func writeJSONType(w http.ResponseWriter, status int, contentType string, v any) {
	httpx.WriteJSONType(w, status, contentType, v)
}
