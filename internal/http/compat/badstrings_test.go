package compat_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestBadStrings checks each surface's answer to a NUL byte or invalid
// UTF-8 in its path, query, X-Account-ID and body, exactly: a 400 naming
// the field in the surface's envelope, with nothing changed. (Every route
// and place, on a real store, is in internal/http's strings_test.go.)
func TestBadStrings(t *testing.T) {
	f := MustFixture(t)
	seed000 := hdrs([]string{"X-CSRF-Token", f.admin.CSRF}, cookie(f.admin))
	seed001 := []string{"X-Admin-Secret", adminSecret}
	seed002 := []string{"Authorization", "Bearer " + f.admin.Access}
	seed003 := []string{"Authorization", f.root}
	for _, tt := range []struct {
		name, method, path, body string
		headers                  []string
		want                     string
	}{
		{"seed 000 path", "PATCH", "/api/admin/api-tokens/12%FF3", `{"status":"revoked"}`, seed000,
			`{"error":"invalid_params","field":"id"}`},
		{"seed 000 body", "PATCH", "/api/admin/api-tokens/123", `{"owner_email":"a\u0000@b.test"}`, seed000,
			`{"error":"invalid_params","field":"owner_email"}`},
		{"seed 000 unknown field", "PATCH", "/api/admin/api-tokens/123", "{\"status\":\"active\",\"note\":{\"x\":\"\xff\"}}", seed000,
			`{"error":"invalid_params","field":"note.x"}`},
		{"seed 000 query", "PATCH", "/api/admin/api-tokens/123?x=%00", `{"status":"revoked"}`, seed000,
			`{"error":"invalid_params","field":"x"}`},
		{"seed 001 path", "PATCH", "/admin/api-keys/%00", `{"is_active":false}`, seed001,
			`{"status":false,"code":400,"message":"id must not contain a NUL byte","error":"id must not contain a NUL byte"}`},
		{"seed 001 body", "PATCH", "/admin/api-keys/42", "{\"customer_name\":\"Acme\xc0\x80\"}", seed001,
			`{"status":false,"code":400,"message":"customer_name must be valid UTF-8","error":"customer_name must be valid UTF-8"}`},
		{"seed 001 X-Account-ID", "PATCH", "/admin/api-keys/42", `{"is_active":false}`, append([]string{"X-Account-ID", "acme\xff"}, seed001...),
			`{"status":false,"code":400,"message":"X-Account-ID must be valid UTF-8","error":"X-Account-ID must be valid UTF-8"}`},
		{"seed 002 path", "PATCH", "/apikeys/%FF", `{"description":"d","flatPermissionsList":[]}`, seed002,
			`{"error":"Bad Request","message":"id: must be valid UTF-8"}`},
		{"seed 002 body", "PATCH", "/apikeys/42", `{"description":"d","flatPermissionsList":["readApplications","\u0000"]}`, seed002,
			`{"error":"Bad Request","message":"flatPermissionsList[1]: must not contain a NUL byte"}`},
		{"seed 003 path", "PUT", "/api/admin/api-tokens/" + f.keySecret + "%00", `{"expiresAt":"2027-01-01T00:00:00Z"}`, seed003,
			`{"id":"<id>","name":"BadDataError","message":"Request validation failed: your request body or params contain invalid data. Refer to the ` +
				"`details`" + ` list for more information.","details":[{"path":"token","message":"The ` + "`token`" + ` value must not contain a NUL byte."}]}`},
		{"seed 003 body", "PUT", "/api/admin/api-tokens/" + f.keySecret, "{\"expiresAt\":\"2027-01-01T00:00:00Z\xff\"}", seed003,
			`{"id":"<id>","name":"BadDataError","message":"Request validation failed: your request body or params contain invalid data. Refer to the ` +
				"`details`" + ` list for more information.","details":[{"path":"expiresAt","message":"The ` + "`expiresAt`" + ` value must be valid UTF-8."}]}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			body, _ := f.mustDo(t, http.StatusBadRequest, tt.method, tt.path, tt.body, append(tt.headers, "Content-Type", "application/json")...)
			if strings.HasPrefix(tt.want, `{"id"`) {
				body = unleashBody(t, body)
			}
			MustJSONEqual(t, body, tt.want)
		})
	}
	if n := len(f.updates()); n != 0 {
		t.Fatalf("updates: got %d, want none", n)
	}
}
