package compat_test

import (
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

func checkUpdate(t *testing.T, u *latchkey.KeyUpdate, status int) {
	t.Helper()
	switch status {
	case http.StatusOK:
		if u == nil {
			t.Fatal("no update and no error")
		}
		if err := u.Validate(); err != nil {
			t.Fatalf("decoder passed an update the core refuses: %v", err)
		}
	case http.StatusBadRequest:
	default:
		t.Fatalf("status: got %d, want 200 or 400", status)
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

func FuzzDecodeUnleashExpiry(f *testing.F) {
	for _, s := range append(commonSeeds, unleashDocBody, `{"expiresAt":""}`, `{"expiresAt":1}`,
		`{"expiresAt":"2023-09-04T11:26:24.123456789-07:00","other":true}`, `{"expiresAt":"2023-09-04"}`) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		when, status := compat.DecodeUnleashExpiry(b)
		switch status {
		case http.StatusOK:
			if when.IsZero() || when.Location().String() != "UTC" {
				t.Fatalf("expiry: got %v, want a UTC time", when)
			}
		case http.StatusBadRequest:
		default:
			t.Fatalf("status: got %d, want 200 or 400", status)
		}
	})
}
