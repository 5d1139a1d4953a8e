package compat_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/latchkey/latchkey"
)

// The request body of seed 001's example, as the document writes it.
const whatsAppDocBody = `{"customer_name":"string","customer_email":"string","max_devices":42,"rate_limit_per_hour":42,"is_active":true}`

// The 200 response of seed 001's example, as the document writes it.
const whatsAppDocResponse = `{
  "status": true,
  "code": 200,
  "message": "Success",
  "data": {}
}`

// The error responses' shape, as the document writes it.
const whatsAppDocError = `{
  "status": false,
  "code": 400,
  "message": "Bad request",
  "error": "Bad request"
}`

func TestWhatsAppDocumentExample(t *testing.T) {
	f := MustFixture(t)
	// The document's curl, with {id} and $API_KEY filled in.
	headers := []string{"X-Admin-Secret", adminSecret, "Content-Type", "application/json"}

	t.Run("as written, with the placeholder \"string\" everywhere", func(t *testing.T) {
		body, _ := f.mustDo(t, http.StatusOK, "PATCH", "/admin/api-keys/42", whatsAppDocBody, headers...)
		MustSameShape(t, body, whatsAppDocResponse)
		calls := f.updates()
		if len(calls) != 1 || *calls[0].Update.OwnerEmail.Ptr() != "string" {
			t.Fatalf("UpdateKey calls: got %+v, want one setting owner_email to the free text", calls)
		}
	})

	t.Run("with a real email", func(t *testing.T) {
		body := strings.Replace(whatsAppDocBody, `"customer_email":"string"`, `"customer_email":"ops@acme.test"`, 1)
		out, _ := f.mustDo(t, http.StatusOK, "PATCH", "/admin/api-keys/42", body, headers...)
		MustSameShape(t, out, whatsAppDocResponse)
		MustJSONEqual(t, out, `{"status":true,"code":200,"message":"API key updated successfully","data":{}}`)
		c := f.lastUpdate(t, 2)
		u := c.Update
		if c.AccountID != 7 || c.ID != 42 || *u.OwnerName.Ptr() != "string" || *u.OwnerEmail.Ptr() != "ops@acme.test" ||
			*u.MaxDevices != 42 || *u.RateLimit.Ptr() != (latchkey.RateLimit{Limit: 42, WindowSeconds: 3600}) || !*u.Enabled {
			t.Errorf("update: got account %d key %d %+v", c.AccountID, c.ID, u)
		}
		if want := (latchkey.Actor{Kind: latchkey.ActorOperator, IP: "127.0.0.1", UserAgent: userAgent}); c.Actor != want {
			t.Errorf("audit actor: got %+v, want %+v", c.Actor, want)
		}
	})

	t.Run("is_active false disables", func(t *testing.T) {
		f.mustDo(t, http.StatusOK, "PATCH", "/admin/api-keys/42", `{"is_active":false}`, headers...)
		if k := f.key(42); k.Enabled || k.StatusAt(t0) != latchkey.StatusDisabled {
			t.Errorf("key: got enabled %v status %s, want disabled", k.Enabled, k.StatusAt(t0))
		}
	})
}

// TestWhatsAppErrors walks seed 001's checks in the order the surface makes
// them (the product looks the key up before reading the body).
func TestWhatsAppErrors(t *testing.T) {
	f := MustFixture(t)
	good := []string{"X-Admin-Secret", adminSecret, "Content-Type", "application/json"}
	e := func(code int, detail string) string {
		return `{"status":false,"code":` + strconv.Itoa(code) + `,"message":"` + detail + `","error":"` + detail + `"}`
	}
	f.runErrorCases(t, "PATCH", []errorCase{
		{"no X-Admin-Secret", "/admin/api-keys/42", `{"is_active":false}`, []string{"Content-Type", "application/json"},
			401, e(401, "Missing X-Admin-Secret header")},
		{"a root key is not the admin secret", "/admin/api-keys/42", `{"is_active":false}`,
			[]string{"Authorization", "Bearer " + f.root}, 401, e(401, "Missing X-Admin-Secret header")},
		{"wrong secret", "/admin/api-keys/42", `{"is_active":false}`, []string{"X-Admin-Secret", "guess"},
			401, e(401, "Invalid admin secret")},
		{"unknown X-Account-ID", "/admin/api-keys/42", `{"is_active":false}`,
			[]string{"X-Admin-Secret", adminSecret, "X-Account-ID", "nope"},
			400, e(400, "X-Account-ID names no account (give an account id or name)")},
		{"id not a number", "/admin/api-keys/forty-two", `{"is_active":false}`, good,
			400, e(400, "Invalid API key ID")},
		{"unknown id", "/admin/api-keys/999", `{"max_devices":"lots"}`, good,
			404, e(404, "API key not found")},
		{"another account's key", "/admin/api-keys/800", `{}`, good,
			404, e(404, "API key not found")},
		{"neither JSON nor a form", "/admin/api-keys/42", `is_active=false`,
			[]string{"X-Admin-Secret", adminSecret, "Content-Type", "text/plain"},
			400, e(400, "Invalid request body: Content-Type must be application/json")},
		{"over 64 KiB", "/admin/api-keys/42", `{"customer_name":"` + strings.Repeat("n", 64<<10) + `"}`, good,
			413, e(413, "Request body must be at most 64 KiB")},
		{"no body", "/admin/api-keys/42", ``, good,
			400, e(400, "Invalid request body: expected a JSON object")},
		{"malformed JSON", "/admin/api-keys/42", `{"is_active":tru}`, good,
			400, e(400, "Invalid request body: malformed JSON")},
		{"customer_name not a string", "/admin/api-keys/42", `{"customer_name":7,"max_devices":-1}`, good,
			400, e(400, "customer_name must be a string")},
		{"customer_email too long", "/admin/api-keys/42", `{"customer_email":"` + strings.Repeat("a", 255) + `","max_devices":-1}`, good,
			400, e(400, "customer_email must be at most 254 bytes")},
		{"customer_phone too long", "/admin/api-keys/42", `{"customer_phone":"` + strings.Repeat("1", 51) + `"}`, good,
			400, e(400, "customer_phone must be at most 50 bytes")},
		{"max_devices negative", "/admin/api-keys/42", `{"max_devices":-1}`, good,
			400, e(400, "max_devices must not be negative")},
		{"max_devices not an integer", "/admin/api-keys/42", `{"max_devices":2.5}`, good,
			400, e(400, "max_devices must be an integer")},
		{"rate_limit_per_hour negative", "/admin/api-keys/42", `{"rate_limit_per_hour":-5}`, good,
			400, e(400, "rate_limit_per_hour must not be negative")},
		{"rate_limit_per_hour too big", "/admin/api-keys/42", `{"rate_limit_per_hour":1e30}`, good,
			400, e(400, "rate_limit_per_hour must be an integer")},
		{"is_active not a boolean", "/admin/api-keys/42", `{"is_active":"no"}`, good,
			400, e(400, "is_active must be a boolean")},
	}, nil)
	if n := len(f.updates()); n != 0 {
		t.Errorf("UpdateKey calls: got %d, want 0", n)
	}
}

func TestWhatsAppKeepsWhatIsNotSent(t *testing.T) {
	f := MustFixture(t)
	headers := []string{"X-Admin-Secret", adminSecret, "Content-Type", "application/json"}
	// As in the product: zero, empty and null keep the stored value;
	// unknown fields are ignored.
	status, body, _ := f.do(t, "PATCH", "/admin/api-keys/42",
		`{"customer_name":"","customer_email":null,"max_devices":0,"rate_limit_per_hour":0,"plan":"gold","customer_phone":"+1 555 0100"}`, headers...)
	if status != http.StatusOK {
		t.Fatalf("status: got %d %s, want 200", status, body)
	}
	u := f.updates()[0].Update
	if u.OwnerName.Set || u.OwnerEmail.Set || u.MaxDevices != nil || u.RateLimit.Set || u.Enabled != nil ||
		u.OwnerPhone.Ptr() == nil || *u.OwnerPhone.Ptr() != "+1 555 0100" {
		t.Errorf("update: got %+v, want customer_phone only", u)
	}
}
