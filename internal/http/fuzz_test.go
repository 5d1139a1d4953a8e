package http

import (
	"testing"

	"github.com/latchkey/latchkey"
)

// Every decoder of untrusted input has a fuzz target; the seed corpus runs
// in the normal test run. A decoder may refuse input only with an
// application error, never panic or return a bare error.
func checkDecodeErr(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if code := latchkey.ErrorCode(err); code != latchkey.EINVALID {
		t.Fatalf("got code %q (%v), want %q", code, err, latchkey.EINVALID)
	}
	if latchkey.ErrorMessage(err) == "" {
		t.Fatal("error without a message")
	}
}

var keySeeds = []string{
	`{"name":"acme prod","owner_email":"ops@acme.test","permissions":["read"],"rate_limit":{"limit":10,"window_seconds":60},"max_devices":2,"credits":{"remaining":5,"refill_amount":5,"refill_interval":"day"},"meta":{"plan":"pro"},"expires_at":"2027-01-01T00:00:00Z"}`,
	`{"owner_email":null,"expires_at":null,"rate_limit":null,"credits":null,"meta":null}`,
	`{"name":1}`, `{"expires_at":"tomorrow"}`, `{"rate_limit":{"limit":"x"}}`, `{"rate_limit":{"bogus":1}}`,
	`{"status":"active"}`, `[]`, `null`, `"x"`, `{`, `{"a":1}{}`, `{"meta":[1]}`, `{"permissions":[1]}`,
	`{"max_devices":-1}`, `{"max_devices":1e400}`, `{"name":"\u0000"}`, ``,
}

func FuzzDecodeKeyCreate(f *testing.F) {
	for _, s := range keySeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := decodeKeyCreate(b)
		checkDecodeErr(t, err)
		if err == nil {
			checkDecodeErr(t, c.Validate(latchkey.SystemClock()))
		}
	})
}

func FuzzDecodeKeyUpdate(f *testing.F) {
	for _, s := range keySeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		u, err := decodeKeyUpdate(b)
		checkDecodeErr(t, err)
		if err == nil {
			checkDecodeErr(t, u.Validate())
		}
	})
}

func FuzzDecodeVerifyRequest(f *testing.F) {
	for _, s := range []string{
		`{"key":"lk_x","permissions":["a"],"device_id":"d","cost":1}`, `{"key":1}`, `{"cost":-1,"key":"k"}`,
		`{"cost":0.5}`, `{"key":"k","extra":true}`, `{}`, `[]`, `{"key":"k"} {}`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var req latchkey.VerifyRequest
		err := unmarshalStrict(b, &req)
		checkDecodeErr(t, err)
		if err == nil {
			checkDecodeErr(t, req.Validate())
		}
	})
}
