package compat_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
)

// The request body of seed 000's example, as the document writes it.
const mailForwardDocBody = `{
  "owner_email": "user@example.com",
  "status": "active",
  "expires_at": "2024-12-25T10:00:00Z",
  "revoked": true,
  "revoked_reason": "example_string"
}`

// The response of seed 000's example, as the document writes it.
const mailForwardDocResponse = `{
  "ok": true,
  "updated": true,
  "deleted": true,
  "item": {
    "id": 123,
    "owner_email": "user@example.com",
    "status": "active",
    "created_at": "2024-12-25T10:00:00Z",
    "expires_at": "2024-12-25T10:00:00Z",
    "revoked_at": "2024-12-25T10:00:00Z",
    "revoked_reason": "example_string",
    "created_ip": "example_string",
    "user_agent": "example_string",
    "last_used_at": "2024-12-25T10:00:00Z",
    "active": true
  }
}`

func TestMailForwardDocumentExample(t *testing.T) {
	f := MustFixture(t)
	// The document's curl, with its placeholder X-CSRF-Token filled in and
	// the __Host-access cookie it requires.
	headers := hdrs([]string{"Content-Type", "application/json", "X-CSRF-Token", f.admin.CSRF}, cookie(f.admin))

	t.Run("as written: status and revoked disagree", func(t *testing.T) {
		body, _ := f.mustDo(t, http.StatusBadRequest, "PATCH", "/api/admin/api-tokens/123", mailForwardDocBody, headers...)
		MustJSONEqual(t, body, `{"error":"invalid_params","reason":"status_revoked_conflict"}`)
		if n := len(f.updates()); n != 0 {
			t.Fatalf("UpdateKey calls: got %d, want 0", n)
		}
	})

	t.Run("made consistent", func(t *testing.T) {
		consistent := strings.Replace(mailForwardDocBody, `"status": "active"`, `"status": "revoked"`, 1)
		body, _ := f.mustDo(t, http.StatusOK, "PATCH", "/api/admin/api-tokens/123", consistent, headers...)
		MustSameShape(t, body, mailForwardDocResponse)
		MustJSONEqual(t, body, `{"ok":true,"updated":true,"deleted":false,"item":{
			"id":123,"owner_email":"user@example.com","status":"revoked",
			"created_at":"2026-01-01T03:04:05Z","expires_at":"2024-12-25T10:00:00Z",
			"revoked_at":"2026-01-02T03:04:05Z","revoked_reason":"example_string",
			"created_ip":"203.0.113.9","user_agent":"curl/8.5.0","last_used_at":null,"active":false}}`)

		c := f.lastUpdate(t, 1)
		if c.AccountID != 7 || c.ID != 123 {
			t.Errorf("target: got account %d key %d, want 7/123", c.AccountID, c.ID)
		}
		u := c.Update
		if u.Revoked == nil || !*u.Revoked || u.RevokedReason.Ptr() == nil || *u.RevokedReason.Ptr() != "example_string" ||
			u.OwnerEmail.Ptr() == nil || *u.OwnerEmail.Ptr() != "user@example.com" ||
			u.ExpiresAt.Ptr() == nil || !u.ExpiresAt.Ptr().Equal(time.Date(2024, 12, 25, 10, 0, 0, 0, time.UTC)) {
			t.Errorf("update: got %+v", u)
		}
		if want := (latchkey.Actor{Kind: latchkey.ActorUser, ID: 1, IP: "127.0.0.1", UserAgent: userAgent}); c.Actor != want {
			t.Errorf("audit actor: got %+v, want %+v", c.Actor, want)
		}
	})
}

// TestMailForwardErrors walks seed 000's checks in the product's order: session,
// role, CSRF, id, media type, size, body, the update DTO's field checks,
// the lookup (404), then the checks the product makes after it; each case
// passes every earlier check and fails one.
func TestMailForwardErrors(t *testing.T) {
	f := MustFixture(t)
	good := hdrs([]string{"Content-Type", "application/json", "X-CSRF-Token", f.admin.CSRF}, cookie(f.admin))
	f.runErrorCases(t, "PATCH", []errorCase{
		{"no cookie", "/api/admin/api-tokens/123", `{"status":"revoked"}`,
			[]string{"Content-Type", "application/json", "X-CSRF-Token", f.admin.CSRF},
			401, `{"error":"invalid_or_expired_session"}`},
		{"bearer instead of the cookie", "/api/admin/api-tokens/123", `{"status":"revoked"}`,
			[]string{"Authorization", "Bearer " + f.admin.Access, "X-CSRF-Token", f.admin.CSRF},
			401, `{"error":"invalid_or_expired_session"}`},
		{"forged session cookie", "/api/admin/api-tokens/123", `{"status":"revoked"}`,
			[]string{"Cookie", "__Host-access=lka_forged.token", "X-CSRF-Token", f.admin.CSRF},
			401, `{"error":"invalid_or_expired_session"}`},
		{"a member, not an admin", "/api/admin/api-tokens/123", `{"status":"revoked"}`,
			hdrs([]string{"X-CSRF-Token", f.member.CSRF}, cookie(f.member)),
			403, `{"error":"forbidden"}`},
		{"not a member of X-Account-ID", "/api/admin/api-tokens/123", `{"status":"revoked"}`,
			hdrs([]string{"X-CSRF-Token", f.admin.CSRF, "X-Account-ID", "beta"}, cookie(f.admin)),
			403, `{"error":"forbidden"}`},
		{"no CSRF token", "/api/admin/api-tokens/123", `{"status":"revoked"}`,
			cookie(f.admin), 403, `{"error":"csrf_required"}`},
		{"another family's CSRF token", "/api/admin/api-tokens/123", `{"status":"revoked"}`,
			hdrs([]string{"X-CSRF-Token", f.member.CSRF}, cookie(f.admin)),
			403, `{"error":"invalid_csrf_token"}`},
		{"id not a number", "/api/admin/api-tokens/abc", `{"status":"revoked"}`, good,
			400, `{"error":"invalid_params","field":"id"}`},
		{"id zero", "/api/admin/api-tokens/0", `{"status":"revoked"}`, good,
			400, `{"error":"invalid_params","field":"id"}`},
		{"neither JSON nor a form", "/api/admin/api-tokens/123", `status=revoked`,
			hdrs([]string{"Content-Type", "text/plain", "X-CSRF-Token", f.admin.CSRF}, cookie(f.admin)),
			415, `{"error":"unsupported_media_type"}`},
		{"over 64 KiB", "/api/admin/api-tokens/123", `{"revoked_reason":"` + strings.Repeat("a", 64<<10) + `"}`, good,
			413, `{"error":"payload_too_large"}`},
		{"malformed JSON", "/api/admin/api-tokens/123", `{"status":`, good,
			400, `{"error":"invalid_params","field":"body"}`},
		{"not an object", "/api/admin/api-tokens/123", `["revoked"]`, good,
			400, `{"error":"invalid_params","field":"body"}`},
		// The product's DTO checks, before the lookup, with class-validator's
		// constraints.
		{"owner_email not a string", "/api/admin/api-tokens/999", `{"owner_email":7,"status":"bogus"}`, good,
			400, `{"error":"invalid_params","field":"owner_email","constraints":{"isString":"owner_email must be a string"}}`},
		{"owner_email blank", "/api/admin/api-tokens/123", `{"owner_email":"  "}`, good,
			400, `{"error":"invalid_params","field":"owner_email","constraints":{"minLength":"owner_email must be longer than or equal to 1 characters"}}`},
		{"unknown status", "/api/admin/api-tokens/999", `{"status":"paused","expires_at":null}`, good,
			400, `{"error":"invalid_params","field":"status","constraints":{"matches":"status must match /^(active|revoked|expired)$/ regular expression"}}`},
		{"expires_at not a time", "/api/admin/api-tokens/123", `{"expires_at":"next tuesday"}`, good,
			400, `{"error":"invalid_params","field":"expires_at","constraints":{"isDate":"expires_at must be a Date instance"}}`},
		{"revoked not a boolean", "/api/admin/api-tokens/123", `{"revoked":"maybe","revoked_reason":7}`, good,
			400, `{"error":"invalid_params","field":"revoked","constraints":{"isInt":"revoked must be an integer number"}}`},
		{"revoked above 1", "/api/admin/api-tokens/123", `{"revoked":2}`, good,
			400, `{"error":"invalid_params","field":"revoked","constraints":{"max":"revoked must not be greater than 1"}}`},
		{"revoked_reason not a string", "/api/admin/api-tokens/123", `{"revoked_reason":7}`, good,
			400, `{"error":"invalid_params","field":"revoked_reason","constraints":{"isString":"revoked_reason must be a string"}}`},
		{"revoked_reason too long", "/api/admin/api-tokens/123", `{"revoked_reason":"` + strings.Repeat("r", 256) + `"}`, good,
			400, `{"error":"invalid_params","field":"revoked_reason","constraints":{"maxLength":"revoked_reason must be shorter than or equal to 255 characters"}}`},
		// Then the lookup.
		{"unknown id", "/api/admin/api-tokens/999", `{"status":"revoked"}`, good,
			404, `{"error":"api_token_not_found","id":999}`},
		{"unknown id, empty patch", "/api/admin/api-tokens/999", `{}`, good,
			404, `{"error":"api_token_not_found","id":999}`},
		{"unknown id, malformed email", "/api/admin/api-tokens/999", `{"owner_email":"not an email"}`, good,
			404, `{"error":"api_token_not_found","id":999}`},
		{"another account's token", "/api/admin/api-tokens/800", `{"status":"revoked"}`, good,
			404, `{"error":"api_token_not_found","id":800}`},
		// Then the checks the product makes after it.
		{"malformed owner_email", "/api/admin/api-tokens/123", `{"owner_email":"not an email","status":"active"}`, good,
			400, `{"error":"invalid_params","field":"owner_email"}`},
		{"null owner_email", "/api/admin/api-tokens/123", `{"owner_email":null}`, good,
			400, `{"error":"invalid_params","field":"owner_email"}`},
		{"null status", "/api/admin/api-tokens/123", `{"status":null}`, good,
			400, `{"error":"invalid_params","field":"status"}`},
		{"expires_at null", "/api/admin/api-tokens/123", `{"expires_at":null,"revoked":"yes"}`, good,
			400, `{"error":"invalid_params","field":"expires_at"}`},
		{"expires_at empty", "/api/admin/api-tokens/123", `{"expires_at":""}`, good,
			400, `{"error":"invalid_params","field":"expires_at"}`},
		{"revoked false with status revoked", "/api/admin/api-tokens/123", `{"status":"revoked","revoked":false}`, good,
			400, `{"error":"invalid_params","reason":"status_revoked_conflict"}`},
		{"expired with a future expires_at", "/api/admin/api-tokens/123", `{"status":"expired","expires_at":"2099-01-01T00:00:00Z"}`, good,
			400, `{"error":"invalid_params","reason":"status_expires_at_conflict"}`},
		{"empty object", "/api/admin/api-tokens/123", `{}`, good,
			400, `{"error":"invalid_params","reason":"empty_patch"}`},
		{"unknown fields only", "/api/admin/api-tokens/123", `{"days":30,"note":"x"}`, good,
			400, `{"error":"invalid_params","reason":"empty_patch"}`},
		{"no body", "/api/admin/api-tokens/123", ``, good,
			400, `{"error":"invalid_params","reason":"empty_patch"}`},
	}, nil)
	if n := len(f.updates()); n != 0 {
		t.Errorf("UpdateKey calls: got %d, want 0", n)
	}
}

func TestMailForwardPatchSemantics(t *testing.T) {
	f := MustFixture(t)
	headers := hdrs([]string{"Content-Type", "application/json", "X-CSRF-Token", f.admin.CSRF}, cookie(f.admin))
	patch := func(t *testing.T, body string) string {
		t.Helper()
		out, _ := f.mustDo(t, http.StatusOK, "PATCH", "/api/admin/api-tokens/123", body, headers...)
		return out
	}
	last := func() latchkey.KeyUpdate { c := f.updates(); return c[len(c)-1].Update }

	t.Run("revoke then un-revoke clears the reason", func(t *testing.T) {
		patch(t, `{"revoked":"yes","revoked_reason":"  fraud  "}`)
		if k := f.key(123); k.RevokedAt == nil || *k.RevokedReason != "fraud" {
			t.Fatalf("after revoke: got %v %v, want revoked for fraud", k.RevokedAt, k.RevokedReason)
		}
		body := patch(t, `{"revoked":0}`)
		if u := last(); u.Revoked == nil || *u.Revoked || u.RevokedReason.Set {
			t.Errorf("update: got %+v, want Revoked false and the reason left to the store to clear", u)
		}
		if k := f.key(123); k.RevokedAt != nil || k.RevokedReason != nil {
			t.Errorf("after un-revoke: got %v %v, want neither", k.RevokedAt, k.RevokedReason)
		}
		if !strings.Contains(body, `"status":"active"`) || !strings.Contains(body, `"active":true`) {
			t.Errorf("item: got %s, want active", body)
		}
	})

	t.Run("un-revoke keeps a reason sent with it", func(t *testing.T) {
		patch(t, `{"revoked":false,"revoked_reason":"was a mistake"}`)
		if u := last(); u.RevokedReason.Ptr() == nil || *u.RevokedReason.Ptr() != "was a mistake" {
			t.Errorf("update: got %+v", u)
		}
	})

	t.Run("status expired sets expires_at to now", func(t *testing.T) {
		body := patch(t, `{"status":" Expired "}`)
		if u := last(); u.ExpiresAt.Ptr() == nil || !u.ExpiresAt.Ptr().Equal(t0) || u.Revoked != nil {
			t.Errorf("update: got %+v, want expires_at %v only", u, t0)
		}
		if !strings.Contains(body, `"status":"expired"`) || !strings.Contains(body, `"active":false`) {
			t.Errorf("item: got %s, want expired", body)
		}
	})

	t.Run("status active un-revokes", func(t *testing.T) {
		patch(t, `{"status":"revoked"}`)
		patch(t, `{"status":"active","expires_at":"2030-01-01T00:00:00+02:00"}`)
		u := last()
		if u.Revoked == nil || *u.Revoked || !u.ExpiresAt.Ptr().Equal(time.Date(2029, 12, 31, 22, 0, 0, 0, time.UTC)) {
			t.Errorf("update: got %+v", u)
		}
	})

	t.Run("unknown fields are ignored", func(t *testing.T) {
		patch(t, `{"owner_email":" New@Example.COM ","days":30}`)
		if u := last(); *u.OwnerEmail.Ptr() != "new@example.com" || u.ExpiresAt.Set {
			t.Errorf("update: got %+v, want owner_email new@example.com only", u)
		}
	})

	t.Run("empty revoked_reason clears it", func(t *testing.T) {
		patch(t, `{"revoked_reason":""}`)
		if u := last(); !u.RevokedReason.Set || !u.RevokedReason.Null {
			t.Errorf("update: got %+v, want revoked_reason null", u)
		}
	})

	t.Run("a disabled key reads status active, active false", func(t *testing.T) {
		f.mu.Lock()
		f.stored[123].Enabled = false
		f.mu.Unlock()
		body := patch(t, `{"expires_at":"2030-01-01T00:00:00Z"}`)
		if !strings.Contains(body, `"status":"active"`) || !strings.Contains(body, `"active":false`) {
			t.Errorf("item: got %s", body)
		}
	})
}
