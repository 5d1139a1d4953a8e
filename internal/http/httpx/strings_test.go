package httpx

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/latchkey/latchkey"
)

// wantBadString fails unless err is an invalid error naming exactly field
// with msg.
func wantBadString(tb testing.TB, err error, field, msg string) {
	tb.Helper()
	if code := latchkey.ErrorCode(err); code != latchkey.EINVALID {
		tb.Fatalf("code: got %q (%v), want %q", code, err, latchkey.EINVALID)
	}
	fields := latchkey.ErrorFields(err)
	if len(fields) != 1 || fields[field] != msg {
		tb.Fatalf("fields: got %v, want {%s: %s}", fields, field, msg)
	}
	if m := latchkey.ErrorMessage(err); !strings.Contains(m, msg) {
		tb.Fatalf("message: got %q, want it to say %q", m, msg)
	}
}

// A bad string anywhere in a JSON body is refused naming its field.
func TestCheckJSONStrings(t *testing.T) {
	long := strings.Repeat("k", 60)
	for _, tt := range []struct {
		name, body, field, msg string // field "" means the body passes
	}{
		{"plain", `{"name":"acme","meta":{"plan":["pro"]},"n":1,"ok":true,"x":null}`, "", ""},
		{"empty", ``, "", ""},
		{"escaped NUL", `{"name":"a\u0000b"}`, "name", MsgNUL},
		{"raw NUL", "{\"name\":\"a\x00b\"}", "name", MsgNUL},
		{"invalid byte", "{\"name\":\"a\xffb\"}", "name", MsgUTF8},
		{"overlong encoding", "{\"name\":\"\xc0\x80\"}", "name", MsgUTF8},
		{"encoded surrogate", "{\"name\":\"\xed\xa0\x80\"}", "name", MsgUTF8},
		{"truncated sequence", "{\"name\":\"\xe2\x82\"}", "name", MsgUTF8},
		{"nested", `{"meta":{"plan":["pro","\u0000"]}}`, "meta.plan[1]", MsgNUL},
		{"top-level array", `["ok","\u0000"]`, "[1]", MsgNUL},
		{"top-level string", `"\u0000"`, "body", MsgNUL},
		{"bad member name", `{"meta":{"a\u0000":1}}`, "meta", MsgNUL},
		{"bad top-level member name", "{\"\xff\":1}", "body", MsgUTF8},
		{"escaped member name", `{"n\u0061me":"\u0000"}`, "name", MsgNUL},
		{"non-ASCII member name", `{"é":"\u0000"}`, "é", MsgNUL},
		{"secret-like member name", `{"` + long + `":"\u0000"}`, "(a 60-character field name)", MsgNUL},
		{"escaped backslash before u0000", `{"name":"\\u0000"}`, "", ""},
		{"escaped backslash then escaped NUL", `{"name":"\\\u0000"}`, "name", MsgNUL},
		{"escaped quote", `{"name":"say \"hi\"","x":"\u0000"}`, "x", MsgNUL},
		{"lone surrogate escape is storable", `{"name":"\ud800"}`, "", ""},
		{"valid non-ASCII", `{"name":"Grüße, 世界 🎉"}`, "", ""},
		{"bad byte in a literal", "{\"n\":1\xff}", "n", MsgUTF8},
		{"NUL in a literal", "{\"n\":tr\x00ue}", "n", MsgNUL},
		{"valid non-ASCII literal is left to the decoder", `{"n":é}`, "", ""},
		{"malformed with a bad byte later", "{\"a\" 1, \"b\":\"\xff\"}", "body", MsgUTF8},
		{"malformed with an escaped NUL later is left to the decoder", `{"a" 1, "b":"\u0000"}`, "", ""},
		{"trailing data with a bad byte", "{\"a\":1} \"\xff\"", "body", MsgUTF8},
		{"unterminated string", "{\"a\":\"\xff", "a", MsgUTF8},
		{"deep", strings.Repeat(`[`, 200) + `"\u0000"` + strings.Repeat(`]`, 200), strings.Repeat("[0]", 200), MsgNUL},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckJSONStrings([]byte(tt.body))
			if tt.field == "" {
				if err != nil {
					t.Fatalf("got %v, want the body to pass", err)
				}
				return
			}
			wantBadString(t, err, tt.field, tt.msg)
		})
	}
}

// CheckBodyStrings refuses bad strings in JSON and in form bodies alike.
func TestCheckBodyStrings(t *testing.T) {
	form := func(body string) error {
		r := httptest.NewRequest("POST", "/", nil)
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		return CheckBodyStrings(r, []byte(body))
	}
	if err := form("identifier=a%40b.test&password=x+y"); err != nil {
		t.Fatalf("clean form: got %v, want nil", err)
	}
	wantBadString(t, form("identifier=a%00&password=x"), "identifier", MsgNUL)
	wantBadString(t, form("password=\xff"), "password", MsgUTF8)
	wantBadString(t, form("%FF=1"), "body", MsgUTF8)

	r := httptest.NewRequest("POST", "/", nil)
	r.Header.Set("Content-Type", "application/json")
	wantBadString(t, CheckBodyStrings(r, []byte(`{"a":{"b":"\u0000"}}`)), "a.b", MsgNUL)
	r.Header.Del("Content-Type")
	wantBadString(t, CheckBodyStrings(r, []byte("{\"a\":\"\xff\"}")), "a", MsgUTF8)
	if err := CheckBodyStrings(r, nil); err != nil {
		t.Fatalf("empty body: got %v, want nil", err)
	}
}

// FuzzCheckJSONStrings checks the walker against encoding/json: a body it
// passes that the decoder takes holds no NUL and no invalid UTF-8 in any
// string, and a body it refuses has one of them somewhere, named as an
// invalid error with a single field.
func FuzzCheckJSONStrings(f *testing.F) {
	for _, s := range []string{
		`{"name":"acme"}`, `{"name":"\u0000"}`, "{\"name\":\"\xff\"}", `{"a":{"b":["c","\u0000"]}}`,
		`{"a\u0000":1}`, `{"name":"\\u0000"}`, `{"name":"\\\u0000"}`, `"\u0000"`, `[1,2,"\u0000"]`,
		"{\"n\":1\xff}", `{"n":é}`, "{\"a\":1} \"\xff\"", `{"x":"\ud800"}`, `{`, ``, `{"a":"b\"c","d":"\u0000"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		err := CheckJSONStrings(b)
		if err != nil {
			fields := latchkey.ErrorFields(err)
			if latchkey.ErrorCode(err) != latchkey.EINVALID || len(fields) != 1 {
				t.Fatalf("got %v with fields %v, want invalid naming one field", err, fields)
			}
			if utf8.Valid(b) && bytes.IndexByte(b, 0) < 0 && !bytes.Contains(b, escapedNUL) {
				t.Fatalf("refused %q, which holds no NUL and no invalid UTF-8: %v", b, err)
			}
			return
		}
		var v any
		if json.Unmarshal(b, &v) != nil {
			return // the decoder refuses it anyway
		}
		if !utf8.Valid(b) {
			t.Fatalf("passed %q, which holds invalid UTF-8 the decoder would turn into U+FFFD", b)
		}
		if s := nulString(v); s != "" {
			t.Fatalf("passed %q, whose string %q holds a NUL", b, s)
		}
	})
}

// nulString returns a string of a decoded JSON value (member names
// included) that holds a NUL, or "".
func nulString(v any) string {
	switch v := v.(type) {
	case string:
		if strings.IndexByte(v, 0) >= 0 {
			return v
		}
	case []any:
		for _, e := range v {
			if s := nulString(e); s != "" {
				return s
			}
		}
	case map[string]any:
		for k, e := range v {
			if strings.IndexByte(k, 0) >= 0 {
				return k
			}
			if s := nulString(e); s != "" {
				return s
			}
		}
	}
	return ""
}
