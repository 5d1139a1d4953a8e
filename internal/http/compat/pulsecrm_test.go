package compat_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
)

// The two request bodies of seed 002's document, as written.
const (
	pulseCRMDocBody        = `{ "description": "string", "flatPermissionsList": [ "string" ]}`
	pulseCRMDocBodyExpires = `{ "description": "string", "expiresAt": "string", "flatPermissionsList": [ "string" ]}`
)

// The document's response shapes.
const (
	pulseCRMDocResponse = `{ "success": false}`
	pulseCRMDocNotFound = `{ "error": "API key not found"}`
)

func TestPulseCRMDocumentExample(t *testing.T) {
	f := MustFixture(t)
	// Authorization: Bearer {token} with a signed-in admin's access token.
	headers := []string{"Authorization", "Bearer " + f.admin.Access, "Content-Type", "application/json"}

	t.Run("as written", func(t *testing.T) {
		body, _ := f.mustDo(t, http.StatusOK, "PATCH", "/apikeys/42", pulseCRMDocBody, headers...)
		MustSameShape(t, body, pulseCRMDocResponse)
		MustJSONEqual(t, body, `{"success":true}`)
		c := f.lastUpdate(t, 1)
		u := c.Update
		if c.AccountID != 7 || c.ID != 42 || *u.Description != "string" || len(*u.Permissions) != 1 || (*u.Permissions)[0] != "string" ||
			u.ExpiresAt.Set {
			t.Errorf("update: got account %d key %d %+v, want description, permissions and the expiry kept", c.AccountID, c.ID, u)
		}
		if want := (latchkey.Actor{Kind: latchkey.ActorUser, ID: 1, IP: "127.0.0.1", UserAgent: userAgent}); c.Actor != want {
			t.Errorf("audit actor: got %+v, want %+v", c.Actor, want)
		}
	})

	t.Run("with x-account-id", func(t *testing.T) {
		body, _ := f.mustDo(t, http.StatusOK, "PATCH", "/apikeys/42", pulseCRMDocBody, append(headers, "x-account-id", "7")...)
		MustJSONEqual(t, body, `{"success":true}`)
	})

	t.Run("second body as written: expiresAt is the placeholder \"string\"", func(t *testing.T) {
		body, _ := f.mustDo(t, http.StatusBadRequest, "PATCH", "/apikeys/42", pulseCRMDocBodyExpires, headers...)
		MustJSONEqual(t, body, `{"error":"Bad Request","message":"expiresAt must be an ISO date-time like 2027-01-01T00:00:00Z"}`)
	})

	t.Run("second body with a date-time", func(t *testing.T) {
		body := strings.Replace(pulseCRMDocBodyExpires, `"expiresAt": "string"`, `"expiresAt": "2027-06-01T12:00:00.000Z"`, 1)
		f.mustDo(t, http.StatusOK, "PATCH", "/apikeys/42", body, headers...)
		calls := f.updates()
		if u := calls[len(calls)-1].Update; u.ExpiresAt.Ptr() == nil || !u.ExpiresAt.Ptr().Equal(time.Date(2027, 6, 1, 12, 0, 0, 0, time.UTC)) {
			t.Errorf("update: got %+v", u)
		}
	})

	t.Run("expiresAt empty means no expiry", func(t *testing.T) {
		f.mustDo(t, http.StatusOK, "PATCH", "/apikeys/42", `{"description":"d","expiresAt":"","flatPermissionsList":[]}`, headers...)
		calls := f.updates()
		if u := calls[len(calls)-1].Update; !u.ExpiresAt.Null || len(*u.Permissions) != 0 {
			t.Errorf("update: got %+v, want no expiry and no permissions", u)
		}
	})

	t.Run("unknown id", func(t *testing.T) {
		body, _ := f.mustDo(t, http.StatusNotFound, "PATCH", "/apikeys/999", pulseCRMDocBody, headers...)
		MustSameShape(t, body, pulseCRMDocNotFound)
		MustJSONEqual(t, body, pulseCRMDocNotFound)
	})
}

// TestPulseCRMErrors walks seed 002's checks in the order the surface makes them.
func TestPulseCRMErrors(t *testing.T) {
	f := MustFixture(t)
	good := []string{"Authorization", "Bearer " + f.admin.Access, "Content-Type", "application/json"}
	body := `{"description":"d","flatPermissionsList":["readApplications"]}`
	f.runErrorCases(t, "PATCH", []errorCase{
		{"no Authorization", "/apikeys/42", body, nil,
			401, `{"error":"User not authenticated","message":"send Authorization: Bearer <access token>"}`},
		{"the session cookie instead", "/apikeys/42", body, cookie(f.admin),
			401, `{"error":"User not authenticated","message":"send Authorization: Bearer <access token>"}`},
		{"forged access token", "/apikeys/42", body, []string{"Authorization", "Bearer lka_forged.token"},
			401, `{"error":"User not authenticated","message":"invalid or expired session"}`},
		{"an api key as the bearer", "/apikeys/42", body, []string{"Authorization", "Bearer " + f.apiKey},
			403, `{"error":"API keys cannot update other API keys"}`},
		{"a root key as the bearer", "/apikeys/42", body, []string{"Authorization", "Bearer " + f.root},
			403, `{"error":"API keys cannot update other API keys"}`},
		{"a member", "/apikeys/42", body, []string{"Authorization", "Bearer " + f.member.Access},
			403, `{"error":"User does not have the required permissions","message":"only account administrators can update API keys"}`},
		{"x-account-id of another account", "/apikeys/42", body, append([]string{"x-account-id", "8"}, good...),
			403, `{"error":"User does not have the required permissions","message":"you are not a member of this account"}`},
		{"id not a number", "/apikeys/key_abc", body, good,
			404, `{"error":"API key not found"}`},
		{"not JSON", "/apikeys/42", `description=d`,
			[]string{"Authorization", "Bearer " + f.admin.Access, "Content-Type", "text/plain"},
			400, `{"error":"Bad Request","message":"Content-Type must be application/json"}`},
		{"over 64 KiB", "/apikeys/42", `{"description":"` + strings.Repeat("d", 64<<10) + `"}`, good,
			413, `{"error":"Payload Too Large","message":"the request body must be at most 64 KiB"}`},
		{"malformed JSON", "/apikeys/42", `{"description":}`, good,
			400, `{"error":"Bad Request","message":"the request body is not valid JSON"}`},
		{"description missing", "/apikeys/42", `{"flatPermissionsList":[]}`, good,
			400, `{"error":"Bad Request","message":"description is required"}`},
		{"description not a string", "/apikeys/42", `{"description":["d"],"flatPermissionsList":[]}`, good,
			400, `{"error":"Bad Request","message":"description must be a string"}`},
		{"flatPermissionsList missing", "/apikeys/42", `{"description":"d"}`, good,
			400, `{"error":"Bad Request","message":"flatPermissionsList is required"}`},
		{"flatPermissionsList not strings", "/apikeys/42", `{"description":"d","flatPermissionsList":[1]}`, good,
			400, `{"error":"Bad Request","message":"flatPermissionsList must be an array of strings"}`},
		{"flatPermissionsList with a null", "/apikeys/42", `{"description":"d","flatPermissionsList":["readApplications",null]}`, good,
			400, `{"error":"Bad Request","message":"flatPermissionsList must be an array of strings"}`},
		{"expiresAt not a time", "/apikeys/42", `{"description":"d","flatPermissionsList":[],"expiresAt":"soon"}`, good,
			400, `{"error":"Bad Request","message":"expiresAt must be an ISO date-time like 2027-01-01T00:00:00Z"}`},
		{"expiresAt a number", "/apikeys/42", `{"description":"d","flatPermissionsList":[],"expiresAt":1767225600}`, good,
			400, `{"error":"Bad Request","message":"expiresAt must be an ISO date-time string, null or empty"}`},
		{"description too long", "/apikeys/42", `{"description":"` + strings.Repeat("d", 2001) + `","flatPermissionsList":[]}`, good,
			400, `{"error":"Bad Request","message":"description: must be at most 2000 bytes"}`},
		{"badly formed permission", "/apikeys/42", `{"description":"d","flatPermissionsList":["read apps"]}`, good,
			400, `{"error":"Invalid permissions provided","message":"flatPermissionsList: \"read apps\" may hold only letters, digits and _ . : * -"}`},
		{"unknown id", "/apikeys/999", body, good,
			404, `{"error":"API key not found"}`},
		{"another account's key", "/apikeys/800", body, good,
			404, `{"error":"API key not found"}`},
		{"unknown permission", "/apikeys/42", `{"description":"d","flatPermissionsList":["readApplications","deleteEverything"]}`, good,
			400, `{"error":"Invalid permissions provided","message":"flatPermissionsList: unknown permission \"deleteEverything\""}`},
	}, nil)
}
