package compat_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
)

// TestUnleashClient plays an Unleash admin client in order: create a
// client token, list it by name, extend it, delete it, and find that it
// no longer verifies.
func TestUnleashClient(t *testing.T) {
	forEachStore(t, func(t *testing.T, st *stack) {
		authz := []string{"Authorization", st.root}
		var created struct {
			Secret, TokenName, Type, Environment, Project string
			Projects                                      []string
			ExpiresAt                                     *time.Time
		}
		st.MustDo(t, http.StatusCreated, "POST", "/api/admin/api-tokens",
			`{"tokenName":"web-client","type":"client","environment":"production","projects":["default"]}`,
			append(authz, "Content-Type", "application/json")...).Decode(t, &created)
		if !strings.HasPrefix(created.Secret, "lk_") || created.TokenName != "web-client" || created.Type != "client" ||
			created.Environment != "production" || created.Project != "default" || created.ExpiresAt != nil {
			t.Fatalf("created: got %+v", created)
		}
		st.mustVerify(t, created.Secret, latchkey.CodeValid)

		type listed struct {
			Tokens []struct {
				Secret, TokenName string
				ExpiresAt         *time.Time
			}
		}
		var byName listed
		st.MustDo(t, http.StatusOK, "GET", "/api/admin/api-tokens/web-client", nil, authz...).Decode(t, &byName)
		if len(byName.Tokens) != 1 || byName.Tokens[0].TokenName != "web-client" {
			t.Fatalf("by name: got %+v", byName)
		}
		if s := byName.Tokens[0].Secret; s == created.Secret || !strings.HasSuffix(s, "…") || !strings.HasPrefix(created.Secret, strings.TrimSuffix(s, "…")) {
			t.Errorf("a listed token's secret: got %q, want the key's start, never the secret", s)
		}
		var all listed
		st.MustDo(t, http.StatusOK, "GET", "/api/admin/api-tokens", nil, authz...).Decode(t, &all)
		if len(all.Tokens) != 2 { // the bootstrap root key and the new token
			t.Fatalf("all: got %+v", all)
		}

		extended := time.Now().Add(90 * 24 * time.Hour).UTC().Truncate(time.Second)
		res := st.MustDo(t, http.StatusOK, "PUT", "/api/admin/api-tokens/"+created.Secret,
			`{"expiresAt":"`+extended.Format("2006-01-02 15:04:05")+`"}`, append(authz, "Content-Type", "application/json")...)
		if len(res.Body) != 0 {
			t.Fatalf("extend: got body %q, want none", res.Body)
		}
		st.MustDo(t, http.StatusOK, "GET", "/api/admin/api-tokens/web-client", nil, authz...).Decode(t, &byName)
		if e := byName.Tokens[0].ExpiresAt; e == nil || !e.Equal(extended) {
			t.Fatalf("expiry: got %v, want %v", e, extended)
		}
		st.mustVerify(t, created.Secret, latchkey.CodeValid)

		keyID := st.mustKeyID(t, "web-client")
		for range 2 { // the second time the token is unknown: 200 all the same
			if res := st.MustDo(t, http.StatusOK, "DELETE", "/api/admin/api-tokens/"+created.Secret, nil, authz...); len(res.Body) != 0 {
				t.Fatalf("delete: got body %q, want none", res.Body)
			}
		}
		st.mustVerify(t, created.Secret, latchkey.CodeNotFound)
		st.MustDo(t, http.StatusOK, "GET", "/api/admin/api-tokens/web-client", nil, authz...).Decode(t, &byName)
		if len(byName.Tokens) != 0 {
			t.Fatalf("after delete: got %+v", byName)
		}
		st.mustAudit(t, keyID, latchkey.ActorRootKey, st.rootID, latchkey.ActionKeyCreate, latchkey.ActionKeyUpdate, latchkey.ActionKeyDelete)
	})
}

// TestWhatsAppClient plays the WhatsApp gateway's admin client in order:
// create, get, list (no full key anywhere), patch, delete.
func TestWhatsAppClient(t *testing.T) {
	forEachStore(t, func(t *testing.T, st *stack) {
		type key struct {
			ID               int64  `json:"id"`
			APIKey           string `json:"api_key"`
			APIKeyMasked     string `json:"api_key_masked"`
			CustomerName     string `json:"customer_name"`
			MaxDevices       int64  `json:"max_devices"`
			RateLimitPerHour int64  `json:"rate_limit_per_hour"`
			IsActive         bool   `json:"is_active"`
			DeviceCount      *int   `json:"device_count"`
			Devices          []struct {
				DeviceID string `json:"device_id"`
			} `json:"devices"`
		}
		var created struct {
			Status bool `json:"status"`
			Code   int  `json:"code"`
			Data   key  `json:"data"`
		}
		st.MustDo(t, http.StatusCreated, "POST", "/admin/api-keys",
			`{"customer_name":"Acme","customer_email":"ops@acme.test","customer_phone":"+1 555 0100","max_devices":2,"rate_limit_per_hour":100}`,
			append(st.operator, "Content-Type", "application/json")...).Decode(t, &created)
		k := created.Data
		if !created.Status || created.Code != 201 || !strings.HasPrefix(k.APIKey, "lk_") || k.CustomerName != "Acme" ||
			k.MaxDevices != 2 || k.RateLimitPerHour != 100 || !k.IsActive {
			t.Fatalf("created: got %+v", created)
		}
		secret := k.APIKey
		var res latchkey.VerifyResult
		st.MustDo(t, http.StatusOK, "POST", "/v1/keys/verify", map[string]string{"key": secret, "device_id": "phone-1"}, st.operator...).Decode(t, &res)
		if res.Code != latchkey.CodeValid {
			t.Fatalf("verify: got %s, want VALID", res.Code)
		}
		path := "/admin/api-keys/" + strconv.FormatInt(k.ID, 10)

		var got struct {
			Data key `json:"data"`
		}
		body := st.MustDo(t, http.StatusOK, "GET", path, nil, st.operator...)
		body.Decode(t, &got)
		if got.Data.ID != k.ID || got.Data.DeviceCount == nil || *got.Data.DeviceCount != 1 || len(got.Data.Devices) != 1 ||
			got.Data.Devices[0].DeviceID != "phone-1" || got.Data.MaxDevices != 2 {
			t.Errorf("get: got %+v", got.Data)
		}
		var list struct {
			Data []key `json:"data"`
		}
		listed := st.MustDo(t, http.StatusOK, "GET", "/admin/api-keys", nil, st.operator...)
		listed.Decode(t, &list)
		if len(list.Data) != 1 || list.Data[0].ID != k.ID || *list.Data[0].DeviceCount != 1 {
			t.Errorf("list: got %+v", list.Data)
		}
		for _, b := range []string{body.String(), listed.String()} {
			if strings.Contains(b, secret) || strings.Contains(b, `"api_key":`) {
				t.Errorf("a full key in %s", b)
			}
			if !strings.Contains(b, `"customer_email":"ops@acme.test","customer_phone":"+1 555 0100"`) {
				t.Errorf("customer fields: got %s", b)
			}
		}
		if m := list.Data[0].APIKeyMasked; !strings.HasSuffix(m, "...") || !strings.HasPrefix(secret, strings.TrimSuffix(m, "...")) {
			t.Errorf("mask: got %q", m)
		}

		st.MustDo(t, http.StatusOK, "PATCH", path, "is_active=false&rate_limit_per_hour=50",
			append(st.operator, "Content-Type", "application/x-www-form-urlencoded")...)
		st.MustDo(t, http.StatusOK, "GET", path, nil, st.operator...).Decode(t, &got)
		if got.Data.IsActive || got.Data.RateLimitPerHour != 50 {
			t.Errorf("after patch: got %+v", got.Data)
		}
		st.mustVerify(t, secret, latchkey.CodeDisabled)

		st.MustDo(t, http.StatusOK, "DELETE", path, nil, st.operator...)
		st.MustDo(t, http.StatusNotFound, "GET", path, nil, st.operator...)
		st.MustDo(t, http.StatusNotFound, "DELETE", path, nil, st.operator...)
		st.mustVerify(t, secret, latchkey.CodeNotFound)
		st.mustAudit(t, k.ID, latchkey.ActorOperator, 0, latchkey.ActionKeyCreate, latchkey.ActionKeyUpdate, latchkey.ActionKeyDelete)
	})
}

// TestMailForwardClient plays the mail-forwarding admin client in order:
// sign in, fetch CSRF, create, list, get, patch, revoke twice, delete,
// refresh, sign out, and find the session dead.
func TestMailForwardClient(t *testing.T) {
	forEachStore(t, func(t *testing.T, st *stack) {
		var signedIn struct {
			OK, Authenticated bool
			Action            string
			User              struct {
				ID      int64  `json:"id"`
				Email   string `json:"email"`
				IsAdmin bool   `json:"is_admin"`
			}
			Session struct {
				FamilyID         string     `json:"session_family_id"`
				AccessExpiresAt  *time.Time `json:"access_expires_at"`
				RefreshExpiresAt time.Time  `json:"refresh_expires_at"`
			}
		}
		res := st.MustDo(t, http.StatusOK, "POST", "/api/auth/sign-in", map[string]string{"identifier": "Admin@Acme.test", "password": stackPassword})
		res.Decode(t, &signedIn)
		access, refresh := res.Cookie("__Host-access"), res.Cookie("__Host-refresh")
		if !signedIn.OK || signedIn.Action != "sign_in" || !signedIn.Authenticated || signedIn.User.ID != st.adminID || !signedIn.User.IsAdmin ||
			signedIn.Session.FamilyID == "" || signedIn.Session.AccessExpiresAt == nil || access == nil || refresh == nil {
			t.Fatalf("sign-in: got %s with cookies %v", res.Body, res.Cookies)
		}
		cookies := func() []string {
			return []string{"Cookie", "__Host-access=" + access.Value + "; __Host-refresh=" + refresh.Value}
		}
		var csrf struct {
			OK        bool   `json:"ok"`
			CSRFToken string `json:"csrf_token"`
		}
		st.MustDo(t, http.StatusOK, "GET", "/api/auth/csrf", nil, cookies()...).Decode(t, &csrf)
		if !csrf.OK || csrf.CSRFToken == "" {
			t.Fatalf("csrf: got %+v", csrf)
		}
		unsafe := func() []string { return append(cookies(), "X-CSRF-Token", csrf.CSRFToken) }
		st.MustDo(t, http.StatusOK, "GET", "/api/admin/me", nil, cookies()...)

		type item struct {
			ID            int64      `json:"id"`
			OwnerEmail    string     `json:"owner_email"`
			Status        string     `json:"status"`
			ExpiresAt     *time.Time `json:"expires_at"`
			RevokedAt     *time.Time `json:"revoked_at"`
			RevokedReason *string    `json:"revoked_reason"`
			UserAgent     string     `json:"user_agent"`
			Active        bool       `json:"active"`
		}
		var created struct {
			OK, Created bool
			Token       string `json:"token"`
			TokenType   string `json:"token_type"`
			Item        item   `json:"item"`
		}
		st.MustDo(t, http.StatusCreated, "POST", "/api/admin/api-tokens", "owner_email=Ops%40Acme.test&days=30&user_agent=mail-cli%2F2",
			append(unsafe(), "Content-Type", "application/x-www-form-urlencoded")...).Decode(t, &created)
		it := created.Item
		if !created.OK || !created.Created || created.TokenType != "api_key" || !strings.HasPrefix(created.Token, "lk_") ||
			it.OwnerEmail != "ops@acme.test" || it.Status != "active" || !it.Active || it.UserAgent != "mail-cli/2" ||
			it.ExpiresAt == nil || it.ExpiresAt.Sub(time.Now()) < 29*24*time.Hour {
			t.Fatalf("create: got %+v", created)
		}
		st.mustVerify(t, created.Token, latchkey.CodeValid)
		path := "/api/admin/api-tokens/" + strconv.FormatInt(it.ID, 10)

		var list struct {
			Items      []item `json:"items"`
			Pagination struct {
				Total, Limit, Offset int
			} `json:"pagination"`
		}
		st.MustDo(t, http.StatusOK, "GET", "/api/admin/api-tokens?owner_email=ops@acme.test&status=active&active=1&limit=10", nil,
			cookies()...).Decode(t, &list)
		if len(list.Items) != 1 || list.Items[0].ID != it.ID || list.Pagination.Total != 1 || list.Pagination.Limit != 10 {
			t.Fatalf("list: got %+v", list)
		}
		var got struct {
			Item item `json:"item"`
		}
		st.MustDo(t, http.StatusOK, "GET", path, nil, cookies()...).Decode(t, &got)
		if got.Item.ID != it.ID {
			t.Fatalf("get: got %+v", got)
		}

		st.MustDo(t, http.StatusOK, "PATCH", path, `{"owner_email":"new@acme.test"}`, append(unsafe(), "Content-Type", "application/json")...)
		var first, second struct {
			Item item `json:"item"`
		}
		st.MustDo(t, http.StatusOK, "PATCH", path, `{"revoked":true,"revoked_reason":"leaked"}`,
			append(unsafe(), "Content-Type", "application/json")...).Decode(t, &first)
		st.MustDo(t, http.StatusOK, "PATCH", path, `{"revoked":true,"revoked_reason":"leaked again"}`,
			append(unsafe(), "Content-Type", "application/json")...).Decode(t, &second)
		if first.Item.RevokedAt == nil || second.Item.RevokedAt == nil || *second.Item.RevokedReason != "leaked again" || second.Item.Status != "revoked" {
			t.Fatalf("revoke twice: got %+v then %+v", first.Item, second.Item)
		}
		if !second.Item.RevokedAt.After(*first.Item.RevokedAt) {
			t.Errorf("revoked_at: got %v then %v, want it re-stamped", first.Item.RevokedAt, second.Item.RevokedAt)
		}
		st.mustVerify(t, created.Token, latchkey.CodeRevoked)

		var deleted struct {
			OK, Deleted bool
			Item        item `json:"item"`
		}
		st.MustDo(t, http.StatusOK, "DELETE", path, nil, unsafe()...).Decode(t, &deleted)
		if !deleted.OK || !deleted.Deleted || deleted.Item.ID != it.ID {
			t.Fatalf("delete: got %+v", deleted)
		}
		st.MustDo(t, http.StatusNotFound, "GET", path, nil, cookies()...)
		st.mustVerify(t, created.Token, latchkey.CodeNotFound)

		res = st.MustDo(t, http.StatusOK, "POST", "/api/auth/refresh", nil, unsafe()...)
		if access, refresh = res.Cookie("__Host-access"), res.Cookie("__Host-refresh"); access == nil || refresh == nil {
			t.Fatalf("refresh: no new cookies in %v", res.Cookies)
		}
		st.MustDo(t, http.StatusOK, "GET", "/api/auth/session", nil, cookies()...)
		st.MustDo(t, http.StatusOK, "POST", "/api/auth/sign-out", nil, unsafe()...)
		st.MustDo(t, http.StatusUnauthorized, "GET", "/api/auth/session", nil, cookies()...)
		st.MustDo(t, http.StatusUnauthorized, "POST", "/api/auth/refresh", nil, unsafe()...)

		st.mustAudit(t, it.ID, latchkey.ActorUser, st.adminID, latchkey.ActionKeyCreate, latchkey.ActionKeyUpdate,
			latchkey.ActionKeyUpdate, latchkey.ActionKeyUpdate, latchkey.ActionKeyDelete)
	})
}

// TestPulseCRMClient plays the PulseCRM client: sign in, create a key
// with permissions, update it without expiresAt (the expiry is kept), and
// find each change verifying and audited.
func TestPulseCRMClient(t *testing.T) {
	forEachStore(t, func(t *testing.T, st *stack) {
		for _, perm := range []string{"readApplications", "writeApplications"} {
			st.MustDo(t, http.StatusCreated, "POST", "/v1/permissions", map[string]string{"name": perm}, st.operator...)
		}
		sess := st.MustLogin(t, "admin@acme.test", stackPassword)
		bearer := append(sess.Bearer(), "Content-Type", "application/json")
		expires := time.Now().Add(30 * 24 * time.Hour).UTC().Truncate(time.Second)
		var created struct {
			ID                  int64      `json:"id"`
			APIKey              string     `json:"apiKey"`
			APISecret           string     `json:"apiSecret"`
			FlatPermissionsList []string   `json:"flatPermissionsList"`
			ExpiresAt           *time.Time `json:"expiresAt"`
		}
		st.MustDo(t, http.StatusCreated, "POST", "/apikeys",
			`{"description":"crm sync","flatPermissionsList":["readApplications"],"expiresAt":"`+expires.Format(time.RFC3339)+`"}`,
			bearer...).Decode(t, &created)
		if !strings.HasPrefix(created.APISecret, created.APIKey) || len(created.FlatPermissionsList) != 1 || created.ExpiresAt == nil ||
			!created.ExpiresAt.Equal(expires) {
			t.Fatalf("create: got %+v", created)
		}
		st.mustVerify(t, created.APISecret, latchkey.CodeValid)
		st.MustDo(t, http.StatusBadRequest, "POST", "/apikeys", `{"description":"x","flatPermissionsList":["deleteEverything"]}`, bearer...)
		st.MustDo(t, http.StatusForbidden, "POST", "/apikeys", `{"description":"x","flatPermissionsList":[]}`,
			"Authorization", "Bearer "+created.APISecret, "Content-Type", "application/json")

		path := "/apikeys/" + strconv.FormatInt(created.ID, 10)
		st.MustDo(t, http.StatusOK, "PATCH", path, `{"description":"crm sync v2","flatPermissionsList":["readApplications","writeApplications"]}`, bearer...)
		var k latchkey.Key
		st.MustDo(t, http.StatusOK, "GET", "/v1/keys/"+strconv.FormatInt(created.ID, 10), nil, st.operator...).Decode(t, &k)
		if k.Description != "crm sync v2" || len(k.Permissions) != 2 || k.ExpiresAt == nil || !k.ExpiresAt.Equal(expires) {
			t.Fatalf("after patch: got %+v, want the new description and permissions, the expiry kept", k)
		}
		st.mustVerify(t, created.APISecret, latchkey.CodeValid)
		st.mustAudit(t, created.ID, latchkey.ActorUser, st.adminID, latchkey.ActionKeyCreate, latchkey.ActionKeyUpdate)
	})
}

// TestMailForwardSignOutAll: sign-out-all from one browser ends the user's
// sessions in every other browser too, as the product's does.
func TestMailForwardSignOutAll(t *testing.T) {
	forEachStore(t, func(t *testing.T, st *stack) {
		signIn := func() (cookie string, csrf string) {
			res := st.MustDo(t, http.StatusOK, "POST", "/api/auth/sign-in", map[string]string{"identifier": "admin@acme.test", "password": stackPassword})
			cookie = "__Host-access=" + res.Cookie("__Host-access").Value + "; __Host-refresh=" + res.Cookie("__Host-refresh").Value
			var c struct {
				CSRFToken string `json:"csrf_token"`
			}
			st.MustDo(t, http.StatusOK, "GET", "/api/auth/csrf", nil, "Cookie", cookie).Decode(t, &c)
			return cookie, c.CSRFToken
		}
		laptop, laptopCSRF := signIn()
		phone, _ := signIn()
		st.MustDo(t, http.StatusOK, "POST", "/api/auth/sign-out-all", nil, "Cookie", laptop, "X-CSRF-Token", laptopCSRF)
		for name, cookie := range map[string]string{"the browser that signed out": laptop, "another browser": phone} {
			if res := st.MustDo(t, http.StatusUnauthorized, "GET", "/api/auth/session", nil, "Cookie", cookie); res == nil {
				t.Errorf("%s keeps its session", name)
			}
		}
	})
}
