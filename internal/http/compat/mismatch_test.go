package compat_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
)

// TestUnleashDateTimes checks that seed 003 takes every date-time form
// Unleash takes: T, t or a space between date and time, Z or z, an offset
// with or without its colon, or none (UTC).
func TestUnleashDateTimes(t *testing.T) {
	f := MustFixture(t)
	want := time.Date(2027, 3, 4, 5, 6, 7, 0, time.UTC)
	for _, tt := range []struct{ name, value string }{
		{"RFC 3339", "2027-03-04T05:06:07Z"},
		{"a space for T", "2027-03-04 05:06:07Z"},
		{"lower-case t and z", "2027-03-04t05:06:07z"},
		{"no offset", "2027-03-04T05:06:07"},
		{"a space and no offset", "2027-03-04 05:06:07"},
		{"offset +0200", "2027-03-04T07:06:07+0200"},
		{"offset -01:30", "2027-03-04T03:36:07-01:30"},
		{"a fraction", "2027-03-04T05:06:07.000Z"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			n := len(f.updates())
			f.mustDo(t, http.StatusOK, "PUT", "/api/admin/api-tokens/"+f.keySecret, `{"expiresAt":"`+tt.value+`"}`,
				"Authorization", f.root, "Content-Type", "application/json")
			if got := f.lastUpdate(t, n+1).Update.ExpiresAt.Ptr(); got == nil || !got.Equal(want) {
				t.Errorf("expiry: got %v, want %v", got, want)
			}
		})
	}
	for _, bad := range []string{"2027-03-04", "2027-03-04T05:06", "2027-03-04T05:06:07+2", "2027-03-04X05:06:07Z", "2027-13-04T05:06:07Z"} {
		t.Run("refused "+bad, func(t *testing.T) {
			f.mustDo(t, http.StatusBadRequest, "PUT", "/api/admin/api-tokens/"+f.keySecret, `{"expiresAt":"`+bad+`"}`,
				"Authorization", f.root, "Content-Type", "application/json")
		})
	}
}

// TestPulseCRMExpiry checks seed 002's expiresAt: absent keeps the stored
// expiry, null and "" remove it, a date-time sets it.
func TestPulseCRMExpiry(t *testing.T) {
	f := MustFixture(t)
	set := time.Date(2027, 6, 1, 12, 0, 0, 0, time.UTC)
	headers := []string{"Authorization", "Bearer " + f.admin.Access, "Content-Type", "application/json"}
	for _, tt := range []struct {
		name, expiresAt string // expiresAt "" leaves the member out
		want            *time.Time
	}{
		{"a date-time sets it", `,"expiresAt":"2027-06-01T12:00:00Z"`, &set},
		{"absent keeps it", ``, &set},
		{"null removes it", `,"expiresAt":null`, nil},
		{"a date-time sets it again", `,"expiresAt":"2027-06-01T12:00:00Z"`, &set},
		{"empty removes it", `,"expiresAt":""`, nil},
		{"absent keeps no expiry", ``, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f.mustDo(t, http.StatusOK, "PATCH", "/apikeys/42", `{"description":"d","flatPermissionsList":[]`+tt.expiresAt+`}`, headers...)
			got := f.key(42).ExpiresAt
			if (got == nil) != (tt.want == nil) || got != nil && !got.Equal(*tt.want) {
				t.Errorf("stored expiry: got %v, want %v", got, tt.want)
			}
		})
	}
}

// TestFormBodies checks that seeds 000 and 001 take a form body as their
// products' parsers do, with the same checks as JSON.
func TestFormBodies(t *testing.T) {
	f := MustFixture(t)
	form := []string{"Content-Type", "application/x-www-form-urlencoded"}
	mailForward := hdrs(form, []string{"X-CSRF-Token", f.admin.CSRF}, cookie(f.admin))
	whatsApp := hdrs(form, []string{"X-Admin-Secret", adminSecret})
	for _, tt := range []struct {
		name, method, path, body string
		headers                  []string
		status                   int
		check                    func(t *testing.T, u latchkey.KeyUpdate)
	}{
		{"seed 000 revokes", "PATCH", "/api/admin/api-tokens/123", "status=revoked&revoked_reason=fraud", mailForward, 200,
			func(t *testing.T, u latchkey.KeyUpdate) {
				if u.Revoked == nil || !*u.Revoked || *u.RevokedReason.Ptr() != "fraud" {
					t.Errorf("update: got %+v", u)
				}
			}},
		{"seed 000 revoked as text", "PATCH", "/api/admin/api-tokens/123", "revoked=0", mailForward, 200,
			func(t *testing.T, u latchkey.KeyUpdate) {
				if u.Revoked == nil || *u.Revoked {
					t.Errorf("update: got %+v", u)
				}
			}},
		{"seed 000 a bad field", "PATCH", "/api/admin/api-tokens/123", "status=paused", mailForward, 400, nil},
		{"seed 000 an empty form", "PATCH", "/api/admin/api-tokens/123", "", mailForward, 400, nil},
		{"seed 001 sets limits", "PATCH", "/admin/api-keys/42", "max_devices=7&rate_limit_per_hour=90&is_active=false&customer_name=Acme", whatsApp, 200,
			func(t *testing.T, u latchkey.KeyUpdate) {
				if *u.MaxDevices != 7 || u.RateLimit.Ptr().Limit != 90 || *u.Enabled || *u.OwnerName.Ptr() != "Acme" {
					t.Errorf("update: got %+v", u)
				}
			}},
		{"seed 001 a number that is not one", "PATCH", "/admin/api-keys/42", "max_devices=lots", whatsApp, 400, nil},
		{"seed 001 a malformed form", "PATCH", "/admin/api-keys/42", "max_devices=%zz", whatsApp, 400, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			n := len(f.updates())
			f.mustDo(t, tt.status, tt.method, tt.path, tt.body, tt.headers...)
			if tt.check == nil {
				if len(f.updates()) != n {
					t.Fatalf("a refused form changed the key: %+v", f.updates()[n:])
				}
				return
			}
			tt.check(t, f.lastUpdate(t, n+1).Update)
		})
	}
}
