package http

import (
	"bytes"
	"encoding/json"
	"net/http"
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

func TestCheckJSONStrings(t *testing.T) {
	long := strings.Repeat("k", 60)
	for _, tt := range []struct {
		name, body, field, msg string // field "" means the body passes
	}{
		{"plain", `{"name":"acme","meta":{"plan":["pro"]},"n":1,"ok":true,"x":null}`, "", ""},
		{"empty", ``, "", ""},
		{"escaped NUL", `{"name":"a\u0000b"}`, "name", msgNUL},
		{"raw NUL", "{\"name\":\"a\x00b\"}", "name", msgNUL},
		{"invalid byte", "{\"name\":\"a\xffb\"}", "name", msgUTF8},
		{"overlong encoding", "{\"name\":\"\xc0\x80\"}", "name", msgUTF8},
		{"encoded surrogate", "{\"name\":\"\xed\xa0\x80\"}", "name", msgUTF8},
		{"truncated sequence", "{\"name\":\"\xe2\x82\"}", "name", msgUTF8},
		{"nested", `{"meta":{"plan":["pro","\u0000"]}}`, "meta.plan[1]", msgNUL},
		{"top-level array", `["ok","\u0000"]`, "[1]", msgNUL},
		{"top-level string", `"\u0000"`, "body", msgNUL},
		{"bad member name", `{"meta":{"a\u0000":1}}`, "meta", msgNUL},
		{"bad top-level member name", "{\"\xff\":1}", "body", msgUTF8},
		{"escaped member name", `{"n\u0061me":"\u0000"}`, "name", msgNUL},
		{"non-ASCII member name", `{"é":"\u0000"}`, "é", msgNUL},
		{"secret-like member name", `{"` + long + `":"\u0000"}`, "(a 60-character field name)", msgNUL},
		{"escaped backslash before u0000", `{"name":"\\u0000"}`, "", ""},
		{"escaped backslash then escaped NUL", `{"name":"\\\u0000"}`, "name", msgNUL},
		{"escaped quote", `{"name":"say \"hi\"","x":"\u0000"}`, "x", msgNUL},
		{"lone surrogate escape is storable", `{"name":"\ud800"}`, "", ""},
		{"valid non-ASCII", `{"name":"Grüße, 世界 🎉"}`, "", ""},
		{"bad byte in a literal", "{\"n\":1\xff}", "n", msgUTF8},
		{"NUL in a literal", "{\"n\":tr\x00ue}", "n", msgNUL},
		{"valid non-ASCII literal is left to the decoder", `{"n":é}`, "", ""},
		{"malformed with a bad byte later", "{\"a\" 1, \"b\":\"\xff\"}", "body", msgUTF8},
		{"malformed with an escaped NUL later is left to the decoder", `{"a" 1, "b":"\u0000"}`, "", ""},
		{"trailing data with a bad byte", "{\"a\":1} \"\xff\"", "body", msgUTF8},
		{"unterminated string", "{\"a\":\"\xff", "a", msgUTF8},
		{"deep", strings.Repeat(`[`, 200) + `"\u0000"` + strings.Repeat(`]`, 200), strings.Repeat("[0]", 200), msgNUL},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := checkJSONStrings([]byte(tt.body))
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

// The body decoders refuse a bad string before any other check, so the
// caller learns of it whatever else is wrong with the body.
func TestDecodersRefuseBadStrings(t *testing.T) {
	body := []byte(`{"nmae":1,"name":"\u0000"}`)
	for name, decode := range map[string]func([]byte) error{
		"create":    func(b []byte) error { _, err := decodeKeyCreate(b); return err },
		"update":    func(b []byte) error { _, err := decodeKeyUpdate(b); return err },
		"unmarshal": func(b []byte) error { var v struct{ Name string }; return unmarshalStrict(b, &v) },
	} {
		t.Run(name, func(t *testing.T) {
			wantBadString(t, decode(body), "name", msgNUL)
		})
	}
	var req latchkey.VerifyRequest
	wantBadString(t, unmarshalStrict([]byte("{\"key\":\"lk_x\",\"device_id\":\"\xff\"}"), &req), "device_id", msgUTF8)
}

func TestCheckRequestStrings(t *testing.T) {
	names := patternWildcards("DELETE /v1/keys/{id}/devices/{device_id}")
	if len(names) != 2 || names[0] != "id" || names[1] != "device_id" {
		t.Fatalf("wildcards: got %q, want [id device_id]", names)
	}
	newReq := func(target string, header ...string) *http.Request {
		r := httptest.NewRequest("DELETE", target, nil)
		r.SetPathValue("id", "5")
		r.SetPathValue("device_id", "phone")
		for i := 0; i+1 < len(header); i += 2 {
			r.Header.Set(header[i], header[i+1])
		}
		return r
	}
	for _, tt := range []struct {
		name       string
		r          *http.Request
		field, msg string
	}{
		{"path value NUL", func() *http.Request { r := newReq("/"); r.SetPathValue("device_id", "a\x00"); return r }(), "device_id", msgNUL},
		{"path value invalid", func() *http.Request { r := newReq("/"); r.SetPathValue("id", "\xff"); return r }(), "id", msgUTF8},
		{"query value NUL", newReq("/?limit=1&q=a%00"), "q", msgNUL},
		{"query value invalid", newReq("/?owner_email=%FF"), "owner_email", msgUTF8},
		{"query value raw invalid", newReq("/?q=\xff"), "q", msgUTF8},
		{"query name", newReq("/?%FF=1"), "query", msgUTF8},
		{"query names in order", newReq("/?b=%00&a=%FF"), "a", msgUTF8},
		{"X-Account-ID", newReq("/", "X-Account-ID", "acme\xff"), "X-Account-ID", msgUTF8},
		{"X-Account-ID NUL", newReq("/", "X-Account-ID", "a\x00"), "X-Account-ID", msgNUL},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := checkRequestStrings(tt.r, names)
			wantBadString(t, err, tt.field, tt.msg)
		})
	}

	t.Run("clean request passes as it is, without allocating", func(t *testing.T) {
		r := newReq("/?limit=10&q=acme%20prod", "X-Account-ID", "default", "User-Agent", "curl/8.5.0")
		got, err := checkRequestStrings(r, names)
		if err != nil || got != r {
			t.Fatalf("got %p, %v, want the same request and no error", got, err)
		}
		clean := newReq("/", "User-Agent", "curl/8.5.0")
		if n := testing.AllocsPerRun(100, func() { _, _ = checkRequestStrings(clean, names) }); n != 0 {
			t.Fatalf("allocations: got %v, want 0", n)
		}
	})
	t.Run("bad User-Agent is made valid, not refused", func(t *testing.T) {
		r := newReq("/", "User-Agent", "curl/\xff8.5\x00")
		got, err := checkRequestStrings(r, names)
		if err != nil {
			t.Fatalf("got %v, want no error", err)
		}
		if ua := got.UserAgent(); ua != "curl/\uFFFD8.5\uFFFD" {
			t.Fatalf("User-Agent: got %q, want %q", ua, "curl/\uFFFD8.5\uFFFD")
		}
		if r.UserAgent() != "curl/\xff8.5\x00" {
			t.Fatal("the caller's request was changed")
		}
		if got.PathValue("device_id") != "phone" {
			t.Fatal("the copy lost its path values")
		}
	})
}

func TestCheckBodyStrings(t *testing.T) {
	form := func(body string) error {
		r := httptest.NewRequest("POST", "/", nil)
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		return CheckBodyStrings(r, []byte(body))
	}
	if err := form("identifier=a%40b.test&password=x+y"); err != nil {
		t.Fatalf("clean form: got %v, want nil", err)
	}
	wantBadString(t, form("identifier=a%00&password=x"), "identifier", msgNUL)
	wantBadString(t, form("password=\xff"), "password", msgUTF8)
	wantBadString(t, form("%FF=1"), "body", msgUTF8)

	r := httptest.NewRequest("POST", "/", nil)
	r.Header.Set("Content-Type", "application/json")
	wantBadString(t, CheckBodyStrings(r, []byte(`{"a":{"b":"\u0000"}}`)), "a.b", msgNUL)
	r.Header.Del("Content-Type")
	wantBadString(t, CheckBodyStrings(r, []byte("{\"a\":\"\xff\"}")), "a", msgUTF8)
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
		err := checkJSONStrings(b)
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
