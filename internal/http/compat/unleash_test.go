package compat_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
)

// The request body of seed 003's SDK examples, as the document writes it.
const unleashDocBody = "{\n \"expiresAt\": \"2023-09-04T11:26:24+02:00\"\n}"

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// unleashBody checks an error's random id and returns the body with the id
// replaced by "<id>", so it can be compared exactly.
func unleashBody(tb testing.TB, body string) string {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		tb.Fatalf("body is not a JSON object: %q", body)
	}
	if id, ok := m["id"]; ok {
		if s, _ := id.(string); !uuidV4.MatchString(s) {
			tb.Fatalf("id: got %v, want a UUID", id)
		}
		m["id"] = "<id>"
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func TestUnleashDocumentExample(t *testing.T) {
	f := MustFixture(t)
	// The document's request: its Authorization placeholder filled with a
	// root key, its path token literally "token".
	t.Run("as written: token is not a known secret", func(t *testing.T) {
		status, body, _ := f.do(t, "PUT", "/api/admin/api-tokens/token", unleashDocBody,
			"Authorization", f.root, "Content-Type", "application/json")
		if status != http.StatusOK || body != "" {
			t.Fatalf("got %d %q, want 200 with no body", status, body)
		}
		if n := len(f.updates()); n != 0 {
			t.Fatalf("UpdateKey calls: got %d, want 0", n)
		}
	})

	t.Run("as written with an empty Authorization", func(t *testing.T) {
		status, body, _ := f.do(t, "PUT", "/api/admin/api-tokens/token", unleashDocBody,
			"Authorization", "", "Content-Type", "application/json")
		if status != http.StatusUnauthorized {
			t.Fatalf("status: got %d %s, want 401", status, body)
		}
		MustJSONEqual(t, unleashBody(t, body), `{"id":"<id>","name":"AuthenticationRequired",
			"message":"You must log in to use Latchkey. Your request had no authorization header, so we could not authorize you. Try logging in at /v1/auth/login",
			"details":[{"message":"You must log in to use Latchkey. Your request had no authorization header, so we could not authorize you. Try logging in at /v1/auth/login"}],
			"path":"/v1/auth/login","type":"password","defaultHidden":false}`)
	})

	want := time.Date(2023, 9, 4, 9, 26, 24, 0, time.UTC)
	for _, tt := range []struct {
		name  string
		auth  string
		actor latchkey.Actor
	}{
		{"a bare root key", f.root, latchkey.Actor{Kind: latchkey.ActorRootKey, ID: 1}},
		{"a root key as Bearer", "Bearer " + f.root, latchkey.Actor{Kind: latchkey.ActorRootKey, ID: 1}},
		{"an admin's access token", "Bearer " + f.admin.Access, latchkey.Actor{Kind: latchkey.ActorUser, ID: 1}},
		{"an admin's bare access token", f.admin.Access, latchkey.Actor{Kind: latchkey.ActorUser, ID: 1}},
	} {
		t.Run("a known secret, "+tt.name, func(t *testing.T) {
			before := len(f.updates())
			status, body, h := f.do(t, "PUT", "/api/admin/api-tokens/"+f.keySecret, unleashDocBody,
				"Authorization", tt.auth, "Content-Type", "application/json")
			if status != http.StatusOK || body != "" {
				t.Fatalf("got %d %q, want 200 with no body", status, body)
			}
			if ct := h.Get("Content-Type"); ct != "" {
				t.Errorf("Content-Type: got %q, want none", ct)
			}
			c := f.lastUpdate(t, before+1)
			if c.AccountID != 7 || c.ID != 123 || c.Update.ExpiresAt.Ptr() == nil || !c.Update.ExpiresAt.Ptr().Equal(want) {
				t.Errorf("update: got account %d key %d %+v, want key 123 expiring %v", c.AccountID, c.ID, c.Update, want)
			}
			u := c.Update
			u.ExpiresAt = latchkey.Nullable[time.Time]{}
			if !u.Empty() {
				t.Errorf("update: got %+v, want expiresAt only", c.Update)
			}
			tt.actor.IP, tt.actor.UserAgent = "127.0.0.1", userAgent
			if c.Actor != tt.actor {
				t.Errorf("audit actor: got %+v, want %+v", c.Actor, tt.actor)
			}
			if k := f.key(123); k.ExpiresAt == nil || !k.ExpiresAt.Equal(want) {
				t.Errorf("stored expiry: got %v, want %v", k.ExpiresAt, want)
			}
		})
	}
}

// TestUnleashErrors walks seed 003's checks in Unleash's order: 401, 403,
// 415, 400, then an unknown token answers 200 and changes nothing.
func TestUnleashErrors(t *testing.T) {
	f := MustFixture(t)
	path := "/api/admin/api-tokens/" + f.keySecret
	good := []string{"Authorization", f.root, "Content-Type", "application/json"}
	body := `{"expiresAt":"2027-01-01T00:00:00Z"}`
	perm := `{"id":"<id>","name":"PermissionError",
		"message":"You don't have the required permissions to perform this operation. To perform this action, you need the \"keys:write\" permission.",
		"details":[{"message":"You don't have the required permissions to perform this operation. To perform this action, you need the \"keys:write\" permission."}],
		"permissions":["keys:write"]}`
	unauthorized := `{"id":"<id>","name":"UnauthorizedError","message":"You must log in to use Latchkey.","details":[{"message":"You must log in to use Latchkey."}]}`
	badData := func(details string) string {
		return `{"id":"<id>","name":"BadDataError","message":"Request validation failed: your request body or params contain invalid data. Refer to the ` +
			"`details`" + ` list for more information.","details":` + details + `}`
	}
	f.runErrorCases(t, "PUT", []errorCase{
		{"no Authorization", path, body, []string{"Content-Type", "application/json"}, 401, `{"id":"<id>","name":"AuthenticationRequired",
			"message":"You must log in to use Latchkey. Your request had no authorization header, so we could not authorize you. Try logging in at /v1/auth/login",
			"details":[{"message":"You must log in to use Latchkey. Your request had no authorization header, so we could not authorize you. Try logging in at /v1/auth/login"}],
			"path":"/v1/auth/login","type":"password","defaultHidden":false}`},
		{"unknown credential", path, body, []string{"Authorization", "*:*.not-a-latchkey-token"}, 401, unauthorized},
		{"revoked root key", path, body, []string{"Authorization", "Bearer " + f.revokedRoot}, 401, unauthorized},
		{"forged access token", path, body, []string{"Authorization", "Bearer lka_forged.token"}, 401, unauthorized},
		{"an api key", path, body, []string{"Authorization", f.apiKey}, 403,
			`{"message":"invalid token: expected a different token type for this endpoint"}`},
		{"a read-only root key", path, body, []string{"Authorization", f.readOnly, "Content-Type", "text/plain"}, 403, perm},
		{"a member", path, body, []string{"Authorization", "Bearer " + f.member.Access}, 403, perm},
		{"a root key naming another account", path, body, []string{"Authorization", f.root, "X-Account-ID", "8"}, 403,
			`{"id":"<id>","name":"NoAccessError","message":"A root key acts only on its own account.","details":[{"message":"A root key acts only on its own account."}]}`},
		{"an admin naming an account they are not in", path, body, []string{"Authorization", f.admin.Access, "X-Account-ID", "beta"}, 403,
			`{"id":"<id>","name":"NoAccessError","message":"You are not a member of this account.","details":[{"message":"You are not a member of this account."}]}`},
		{"not JSON", path, `expiresAt=2027-01-01`, []string{"Authorization", f.root, "Content-Type", "application/x-www-form-urlencoded"}, 415,
			contentTypeError("application/x-www-form-urlencoded")},
		{"merge-patch is not JSON here", path, body, []string{"Authorization", f.root, "Content-Type", "application/merge-patch+json"}, 415,
			contentTypeError("application/merge-patch+json")},
		{"a body with no Content-Type", path, body, []string{"Authorization", f.root}, 415, contentTypeError("you didn't provide one")},
		{"over 64 KiB", path, `{"expiresAt":"2027-01-01T00:00:00Z","pad":"` + strings.Repeat("p", 64<<10) + `"}`, good, 413,
			`{"id":"<id>","name":"ContentTooLarge","message":"You provided more data than we can handle. Latchkey accepts at most 64 KiB.",
			"details":[{"message":"You provided more data than we can handle. Latchkey accepts at most 64 KiB."}]}`},
		{"no body", path, ``, []string{"Authorization", f.root}, 400,
			badData(`[{"path":"expiresAt","message":"The ` + "`expiresAt`" + ` property is required. It was not present on the data you sent."}]`)},
		{"expiresAt missing", path, `{"expires_at":"2027-01-01T00:00:00Z"}`, good, 400,
			badData(`[{"path":"expiresAt","message":"The ` + "`expiresAt`" + ` property is required. It was not present on the data you sent."}]`)},
		{"malformed JSON", path, `{"expiresAt":`, good, 400,
			`{"id":"<id>","name":"BadDataError","message":"Request validation failed: your request body or params contain invalid data: The request body is not valid JSON.",
			"details":[{"message":"The request body is not valid JSON."}]}`},
		{"not an object", path, `["2027-01-01T00:00:00Z"]`, good, 400,
			badData(`[{"message":"The request body must be object. You sent [\"2027-01-01T00:00:00Z\"]."}]`)},
		{"expiresAt null", path, `{"expiresAt":null}`, good, 400,
			badData(`[{"path":"expiresAt","message":"The ` + "`expiresAt`" + ` property must be string. You sent null."}]`)},
		{"expiresAt not a date-time", path, `{"expiresAt":"tomorrow"}`, good, 400,
			badData(`[{"path":"expiresAt","message":"The ` + "`expiresAt`" + ` property must match format \"date-time\". You sent \"tomorrow\"."}]`)},
		{"expiresAt empty", path, `{"expiresAt":""}`, good, 400,
			badData(`[{"path":"expiresAt","message":"The ` + "`expiresAt`" + ` property must match format \"date-time\". You sent \"\"."}]`)},
		{"unknown token", "/api/admin/api-tokens/lk_unknown", body, good, 200, ""},
		{"a well-formed secret nobody holds", "/api/admin/api-tokens/" + mustSecret(), body, good, 200, ""},
		{"another account's token", "/api/admin/api-tokens/" + f.keySecret, body,
			[]string{"Authorization", "Bearer " + f.beta.Access, "Content-Type", "application/json"}, 200, ""},
	}, unleashBody)
	if n := len(f.updates()); n != 0 {
		t.Errorf("UpdateKey calls: got %d, want 0", n)
	}
}

// TestUnleashRootKeys checks that seed 003 guards root keys as the native
// API does: keys:write alone cannot end or revive a root key, and no root
// key changes its own expiry.
func TestUnleashRootKeys(t *testing.T) {
	f := MustFixture(t)
	body := `{"expiresAt":"2027-01-01T00:00:00Z"}`
	denied := func(msg string) string {
		return `{"id":"<id>","name":"OperationDeniedError","message":"` + msg + `","details":[{"message":"` + msg + `"}]}`
	}
	for _, tt := range []struct {
		name     string
		caller   string
		token    string
		status   int
		want     string
		updateID int64 // 0: no update
	}{
		{"keys:write cannot touch a root key", f.writer, f.root, 403,
			denied("You do not have the required access [account:admin] to perform this operation"), 0},
		{"a root key cannot change its own expiry", f.root, f.root, 403,
			denied("A root key cannot change its own expiry. Use another root key or the operator."), 0},
		{"keys:write changes an api key", f.writer, f.keySecret, 200, "", 123},
		{"account:admin changes another root key", f.root, f.writer, 200, "", 5},
		{"an account admin changes a root key", "Bearer " + f.admin.Access, f.root, 200, "", 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := len(f.updates())
			status, got, _ := f.do(t, "PUT", "/api/admin/api-tokens/"+tt.token, body,
				"Authorization", tt.caller, "Content-Type", "application/json")
			if status != tt.status {
				t.Fatalf("status: got %d %s, want %d", status, got, tt.status)
			}
			if tt.want != "" {
				MustJSONEqual(t, unleashBody(t, got), tt.want)
			} else if got != "" {
				t.Fatalf("body: got %q, want none", got)
			}
			calls := f.updates()[before:]
			switch {
			case tt.updateID == 0 && len(calls) != 0:
				t.Errorf("UpdateKey calls: got %+v, want none", calls)
			case tt.updateID != 0 && (len(calls) != 1 || calls[0].ID != tt.updateID):
				t.Errorf("UpdateKey calls: got %+v, want one on key %d", calls, tt.updateID)
			}
		})
	}
}

// contentTypeError is Unleash's 415 body for the Content-Type provided.
func contentTypeError(provided string) string {
	msg := "We do not accept the content-type you provided (" + provided +
		"). Try using one of the content-types we do accept instead (application/json) and make sure the body is in the corresponding format."
	return `{"id":"<id>","name":"ContentTypeError","message":"` + msg + `","details":[{"message":"` + msg + `"}]}`
}

func mustSecret() string {
	s, _, _ := latchkey.NewSecret("lk")
	return s
}
