package httpx

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/latchkey/latchkey"
)

// This file refuses strings PostgreSQL would refuse (a NUL byte, invalid
// UTF-8) wherever a request carries them, naming the field and never
// echoing the value: the checks internal/http runs on every route's path
// values, query and headers, and on every body it decodes, and that the
// seed surfaces run on the bodies they read themselves.

// Why a string is refused, as errors name it.
const (
	MsgNUL  = "must not contain a NUL byte"
	MsgUTF8 = "must be valid UTF-8"
)

// StringProblem says why s cannot be stored, or "" when it can.
func StringProblem(s string) string {
	switch {
	case strings.IndexByte(s, 0) >= 0:
		return MsgNUL
	case !utf8.ValidString(s):
		return MsgUTF8
	}
	return ""
}

// BadString is the invalid error naming field; where says what the field
// is ("path value id", "query parameter q", "body field meta.plan").
func BadString(where, field, problem string) *latchkey.Error {
	return &latchkey.Error{Code: latchkey.EINVALID, Message: where + " " + problem, Fields: map[string]string{field: problem}}
}

// CheckValues checks parsed query or form values; whole
// names the refused field when a parameter's name is at fault.
func CheckValues(q url.Values, where, whole string) error {
	names := make([]string, 0, len(q))
	for name := range q {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if p := StringProblem(name); p != "" {
			return BadString("a "+where+" name", whole, p)
		}
		for _, v := range q[name] {
			if p := StringProblem(v); p != "" {
				shown := SafeFieldName(name)
				return BadString(where+" "+shown, shown, p)
			}
		}
	}
	return nil
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
		return CheckValues(q, "form field", "body")
	}
	return CheckJSONStrings(body)
}

// escapedNUL is a NUL byte written as a JSON escape.
var escapedNUL = []byte(`\u0000`)

// CheckJSONStrings refuses a JSON document with a NUL byte or invalid UTF-8
// in any string (see CheckBodyStrings). A document with neither anywhere
// costs one pass over its bytes; otherwise it is walked to name the field.
// Whether the document is well-formed JSON is left to the decoder: a bad
// byte outside any string is named as the field it stands in, or "body".
func CheckJSONStrings(b []byte) error {
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
		return BadString("body", "body", p)
	}
	return nil
}

// bytesProblem is StringProblem for bytes, without the copy a conversion
// would make (the verify path checks every body with it).
func bytesProblem(b []byte) string {
	switch {
	case bytes.IndexByte(b, 0) >= 0:
		return MsgNUL
	case !utf8.Valid(b):
		return MsgUTF8
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

// field names the string being walked by its path ("meta.plan[1]"), or "body".
func (w *jsonWalker) field() string {
	var sb strings.Builder
	for _, p := range w.path {
		if sb.Len() > 0 && !strings.HasPrefix(p, "[") { // a member may be named ""
			sb.WriteByte('.')
		}
		sb.WriteString(p)
	}
	if sb.Len() == 0 {
		return "body"
	}
	return sb.String()
}

// skipSpace steps over JSON white space.
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
			return BadString("body field "+f, f, p)
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
			return BadString("body field "+f, f, MsgNUL)
		case c >= utf8.RuneSelf:
			if r, size := utf8.DecodeRune(w.b[w.i:]); r == utf8.RuneError && size == 1 {
				f := w.field()
				return BadString("body field "+f, f, MsgUTF8)
			}
			w.bad = true // malformed: the decoder says so
			return nil
		}
		w.i++
	}
	return nil
}

// object walks an object from its '{', each member's name and value.
func (w *jsonWalker) object(depth int) error {
	if w.open('}') {
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
			return BadString("a field name in "+f, f, p)
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
		if more, err := w.child(depth, SafeFieldName(name), '}'); !more {
			return err
		}
	}
}

// array walks an array from its '[', each element named by its index.
func (w *jsonWalker) array(depth int) error {
	if w.open(']') {
		return nil
	}
	for n := 0; ; n++ {
		if more, err := w.child(depth, "["+strconv.Itoa(n)+"]", ']'); !more {
			return err
		}
	}
}

// open steps over a container's opening bracket and reports whether it is
// empty (then its close is stepped over too).
func (w *jsonWalker) open(close byte) (empty bool) {
	w.i++
	w.skipSpace()
	if w.i < len(w.b) && w.b[w.i] == close {
		w.i++
		return true
	}
	return false
}

// child walks the value of a member or an element, named in w.path while
// it is walked, then what follows it: more is true when another comes.
func (w *jsonWalker) child(depth int, name string, close byte) (more bool, err error) {
	w.path = append(w.path, name)
	err = w.value(depth + 1)
	w.path = w.path[:len(w.path)-1]
	if err != nil || w.bad {
		return false, err
	}
	return w.more(close), nil
}

// more reads what follows a member or an element: true after a comma (one
// more to come), false after close or on anything else (then w.bad).
func (w *jsonWalker) more(close byte) bool {
	w.skipSpace()
	if w.i >= len(w.b) {
		w.bad = true
		return false
	}
	switch w.b[w.i] {
	case ',':
		w.i++
		return true
	case close:
		w.i++
		return false
	default:
		w.bad = true
		return false
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
			return false, MsgNUL
		case c == '\\':
			if bytes.HasPrefix(w.b[w.i:], escapedNUL) {
				return false, MsgNUL
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
				return false, MsgUTF8
			}
			w.i += size
		}
	}
	w.bad = true
	return false, ""
}

// SafeFieldName shows an unknown field name in an error unless it is long
// enough to be something pasted by mistake, such as a secret.
func SafeFieldName(name string) string {
	if len(name) > 40 || latchkey.CheckSecret(name) {
		return "(a " + fmt.Sprint(len(name)) + "-character field name)"
	}
	return name
}
