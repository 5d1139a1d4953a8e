package compat_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/http/compat"
)

// Every seed surface's body decoder has a fuzz target; the seed corpus
// runs in the normal test run. A decoder either refuses input with a 400
// or returns an update the core accepts: never a panic, never another
// status.

var commonSeeds = []string{``, ` `, `null`, `[]`, `"x"`, `1`, `{`, `{}`, `{} {}`, `{"a":1}x`, "\xff", `{"a":"\u0000"}`}

// decoded reports whether a decoder returned a value, failing the test
// unless it refused its input with a 400 or answered 200 with a value:
// what every target checks first.
func decoded[T any](t *testing.T, v *T, status int) bool {
	t.Helper()
	switch {
	case status == http.StatusBadRequest:
		return false
	case status != http.StatusOK:
		t.Fatalf("status: got %d, want 200 or 400", status)
	case v == nil:
		t.Fatalf("200 and no %T", v)
	}
	return true
}

// checkUpdate fails unless a patch decoder refused input with a 400 or
// returned an update the core accepts.
func checkUpdate(t *testing.T, u *latchkey.KeyUpdate, status int) {
	t.Helper()
	if !decoded(t, u, status) {
		return
	}
	if err := u.Validate(); err != nil {
		t.Fatalf("decoder passed an update the core refuses: %v", err)
	}
}

func FuzzDecodeMailForwardPatch(f *testing.F) {
	for _, s := range append(commonSeeds, mailForwardDocBody,
		`{"owner_email":"A@B.io","status":"expired"}`, `{"status":"expired","expires_at":"2099-01-01T00:00:00Z"}`,
		`{"revoked":1,"revoked_reason":null}`, `{"revoked":"on"}`, `{"revoked":2}`, `{"revoked":null}`,
		`{"expires_at":null}`, `{"expires_at":"2024-02-30T00:00:00Z"}`, `{"owner_email":"\"a b\"@c.d"}`,
		`{"revoked_reason":"\u0000"}`, `{"status":"ACTIVE","revoked":false}`) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		u, status := compat.DecodeMailForwardPatch(b, t0)
		checkUpdate(t, u, status)
		if status == http.StatusOK && u.Empty() {
			t.Fatal("an empty patch passed")
		}
	})
}

func FuzzDecodeWhatsAppPatch(f *testing.F) {
	for _, s := range append(commonSeeds, whatsAppDocBody,
		`{"customer_email":"ops@acme.test","rate_limit_per_hour":9223372036854775807}`, `{"max_devices":-0}`,
		`{"max_devices":1e2}`, `{"rate_limit_per_hour":"42"}`, `{"is_active":null,"customer_name":null}`,
		`{"customer_name":"\u0000"}`, `{"customer_phone":"`+string(make([]byte, 60))+`"}`) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		u, status := compat.DecodeWhatsAppPatch(b)
		checkUpdate(t, u, status)
		if status == http.StatusOK && u.RateLimit.Set && u.RateLimit.Value.WindowSeconds != 3600 {
			t.Fatalf("rate limit window: got %d, want 3600", u.RateLimit.Value.WindowSeconds)
		}
	})
}

func FuzzDecodePulseCRMInput(f *testing.F) {
	for _, s := range append(commonSeeds, pulseCRMDocBody, pulseCRMDocBodyExpires,
		`{"description":"d","flatPermissionsList":[null]}`, `{"description":"d","flatPermissionsList":{}}`,
		`{"description":"d","flatPermissionsList":[],"expiresAt":null}`, `{"description":null,"flatPermissionsList":[]}`,
		`{"description":"d","flatPermissionsList":["a b"]}`) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		u, status := compat.DecodePulseCRMInput(b)
		checkUpdate(t, u, status)
		if status == http.StatusOK && (u.Description == nil || u.Permissions == nil) {
			t.Fatalf("update: got %+v, want description and permissions set", u)
		}
	})
}

// FuzzDecodeUnleashExpiry: seed 003's expiry decoder refuses with a 400 or
// returns a UTC time.
func FuzzDecodeUnleashExpiry(f *testing.F) {
	for _, s := range append(commonSeeds, unleashDocBody, `{"expiresAt":""}`, `{"expiresAt":1}`,
		`{"expiresAt":"2023-09-04T11:26:24.123456789-07:00","other":true}`, `{"expiresAt":"2023-09-04"}`) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		when, status := compat.DecodeUnleashExpiry(b)
		if decoded(t, &when, status) && (when.IsZero() || when.Location().String() != "UTC") {
			t.Fatalf("expiry: got %v, want a UTC time", when)
		}
	})
}

// checkCreate fails unless a create decoder refused input with a 400 or
// returned a key to create. The core may still refuse the key (an email's
// form, an expiry in the past): the handlers answer that as a 400 naming
// the field, so only a panic in Validate fails here.
func checkCreate(t *testing.T, c *latchkey.KeyCreate, status int) {
	t.Helper()
	if decoded(t, c, status) {
		_ = c.Validate(t0)
	}
}

func FuzzDecodeCreates(f *testing.F) {
	for _, s := range append(commonSeeds,
		`{"tokenName":"a","type":"client"}`, `{"tokenName":"a","type":"Frontend","projects":["p"],"environment":"e","expiresAt":"2027-01-01 00:00:00"}`,
		`{"username":"a","type":"backend","project":"p"}`, `{"tokenName":"a","type":"admin"}`, `{"tokenName":" ","type":"client"}`,
		`{"customer_name":"A","customer_email":"a@b.test","customer_phone":"1","max_devices":1,"rate_limit_per_hour":1}`,
		`{"owner_email":"a@b.test","days":30,"user_agent":"x"}`, `{"owner_email":"a@b.test","days":0}`) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, status := compat.DecodeUnleashCreate(b)
		checkCreate(t, c, status)
		c, status = compat.DecodeWhatsAppCreate(b)
		checkCreate(t, c, status)
		c, status = compat.DecodeMailForwardCreate(b, t0)
		checkCreate(t, c, status)
	})
}

func FuzzFormToJSON(f *testing.F) {
	for _, s := range []string{``, `a=1`, `max_devices=2&is_active=false`, `max_devices=x`, `%zz`, `a=%00`, "a=\xff", `a&b=&=c`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		j, err := compat.FormToJSON(b)
		if err != nil {
			return
		}
		var m map[string]any
		if err := json.Unmarshal(j, &m); err != nil {
			t.Fatalf("a form became %q, not a JSON object: %v", j, err)
		}
	})
}
