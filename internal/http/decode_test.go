package http

import (
	"testing"

	"github.com/latchkey/latchkey"
)

// Each malformed key field is refused naming that field.
func TestDecodeKeyErrorsNameTheField(t *testing.T) {
	for _, tt := range []struct {
		name, body, field string
	}{
		{"wrong type", `{"name":1}`, "name"},
		{"bad time", `{"expires_at":"tomorrow"}`, "expires_at"},
		{"nested type", `{"rate_limit":{"limit":"ten","window_seconds":60}}`, "rate_limit.limit"},
		{"nested unknown", `{"rate_limit":{"limit":1,"window":60}}`, "rate_limit.window"},
		{"unknown field", `{"nmae":"x"}`, "nmae"},
		{"read-only", `{"status":"active"}`, "status"},
		{"array of wrong type", `{"permissions":[1]}`, "permissions"},
		{"secret not settable", `{"secret":"lk_x"}`, "secret"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, decode := range []func([]byte) error{
				func(b []byte) error { _, err := decodeKeyCreate(b); return err },
				func(b []byte) error { _, err := decodeKeyUpdate(b); return err },
			} {
				err := decode([]byte(tt.body))
				if got := latchkey.ErrorCode(err); got != latchkey.EINVALID {
					t.Fatalf("code: got %q (%v), want invalid", got, err)
				}
				if _, ok := latchkey.ErrorFields(err)[tt.field]; !ok {
					t.Fatalf("fields: got %v, want one named %q", latchkey.ErrorFields(err), tt.field)
				}
			}
		})
	}
}

// null on create means the default; on a patch, null is refused where a
// field cannot be cleared.
func TestDecodeNullOnCreateIsDefaultOnPatchRefused(t *testing.T) {
	c, err := decodeKeyCreate([]byte(`{"name":null,"enabled":null,"permissions":null,"meta":null}`))
	if err != nil {
		t.Fatalf("create: got %v, want null accepted as the default", err)
	}
	if c.Enabled != nil || c.Permissions != nil {
		t.Fatalf("create: got %+v, want defaults", c)
	}
	_, err = decodeKeyUpdate([]byte(`{"name":null}`))
	if _, ok := latchkey.ErrorFields(err)["name"]; !ok {
		t.Fatalf("patch: got %v, want name cannot be null", err)
	}
}

// A patch tells null (clear) from absent (keep).
func TestDecodeKeyUpdateNullVersusAbsent(t *testing.T) {
	u, err := decodeKeyUpdate([]byte(`{"owner_email":null,"expires_at":"2027-01-01T00:00:00Z"}`))
	if err != nil {
		t.Fatal(err)
	}
	if !u.OwnerEmail.Set || !u.OwnerEmail.Null {
		t.Fatalf("owner_email: got %+v, want set and null", u.OwnerEmail)
	}
	if !u.ExpiresAt.Set || u.ExpiresAt.Null || u.ExpiresAt.Value.Year() != 2027 {
		t.Fatalf("expires_at: got %+v, want 2027", u.ExpiresAt)
	}
	if u.OwnerName.Set || u.RateLimit.Set || u.Name != nil {
		t.Fatalf("absent fields must stay unset: %+v", u)
	}
}

// A body that is not one JSON object is refused as a whole.
func TestDecodeBodyShape(t *testing.T) {
	for _, body := range []string{``, `[]`, `null`, `"x"`, `{`, `{"a":1}{}`} {
		if _, err := decodeKeyCreate([]byte(body)); latchkey.ErrorCode(err) != latchkey.EINVALID {
			t.Errorf("body %q: got %v, want invalid", body, err)
		}
	}
}

// A create body takes exactly latchkey.KeyCreate's fields by JSON name,
// each of which may be null.
func TestDecodeKeyCreateFields(t *testing.T) {
	all := `{"credits":null,"description":null,"enabled":null,"expires_at":null,"kind":null,"max_devices":null,"meta":null,` +
		`"name":null,"owner_email":null,"owner_name":null,"owner_phone":null,"permissions":null,"rate_limit":null}`
	if _, err := decodeKeyCreate([]byte(all)); err != nil {
		t.Fatalf("every field null: got %v, want none refused", err)
	}
	if n := len(nullableFields(&latchkey.KeyCreate{})); n != 13 {
		t.Fatalf("fields: got %d, want the 13 above", n)
	}
}
