package http

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/http/httpx"
)

// Why a string is refused (see httpx).
const (
	msgNUL  = httpx.MsgNUL
	msgUTF8 = httpx.MsgUTF8
)

// wantRefusal fails unless err is exactly want: its code, its message and
// its one field.
func wantRefusal(tb testing.TB, err error, want *latchkey.Error) {
	tb.Helper()
	if !reflect.DeepEqual(err, want) {
		tb.Fatalf("got %#v, want %#v", err, want)
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
			wantRefusal(t, decode(body), httpx.BadString("body field name", "name", msgNUL))
		})
	}
	var req latchkey.VerifyRequest
	wantRefusal(t, unmarshalStrict([]byte("{\"key\":\"lk_x\",\"device_id\":\"\xff\"}"), &req), httpx.BadString("body field device_id", "device_id", msgUTF8))
}

// A bad string in a path value, the query or X-Account-ID is refused
// naming it; a bad User-Agent is made valid.
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
	bad := httpx.BadString
	for _, tt := range []struct {
		name string
		r    *http.Request
		want *latchkey.Error
	}{
		{"path value NUL", func() *http.Request { r := newReq("/"); r.SetPathValue("device_id", "a\x00"); return r }(), bad("path value device_id", "device_id", msgNUL)},
		{"path value invalid", func() *http.Request { r := newReq("/"); r.SetPathValue("id", "\xff"); return r }(), bad("path value id", "id", msgUTF8)},
		{"query value NUL", newReq("/?limit=1&q=a%00"), bad("query parameter q", "q", msgNUL)},
		{"query value invalid", newReq("/?owner_email=%FF"), bad("query parameter owner_email", "owner_email", msgUTF8)},
		{"query value raw invalid", newReq("/?q=\xff"), bad("query parameter q", "q", msgUTF8)},
		{"query name", newReq("/?%FF=1"), bad("a query parameter name", "query", msgUTF8)},
		{"query names in order", newReq("/?b=%00&a=%FF"), bad("query parameter a", "a", msgUTF8)},
		{"X-Account-ID", newReq("/", "X-Account-ID", "acme\xff"), bad("header X-Account-ID", "X-Account-ID", msgUTF8)},
		{"X-Account-ID NUL", newReq("/", "X-Account-ID", "a\x00"), bad("header X-Account-ID", "X-Account-ID", msgNUL)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := checkRequestStrings(tt.r, names)
			wantRefusal(t, err, tt.want)
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
