package compat_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestSharedPaths checks the dispatch of the paths the mail-forwarding
// and Unleash surfaces share: an Authorization header is the Unleash
// client, anything else (the __Host-access cookie, or nothing) the
// mail-forwarding client, each answered in its own envelope.
func TestSharedPaths(t *testing.T) {
	forEachStore(t, func(t *testing.T, st *stack) {
		sess := st.MustLogin(t, "admin@acme.test", stackPassword)
		for _, tt := range []struct {
			name, method, path string
			headers            []string
			status             int
			want               string // a piece of the body
		}{
			{"cookie lists as mail-forwarding", "GET", "/api/admin/api-tokens", sess.Cookie(), 200, `"pagination":`},
			{"Authorization lists as Unleash", "GET", "/api/admin/api-tokens", []string{"Authorization", st.root}, 200, `"tokens":`},
			{"a bearer access token lists as Unleash", "GET", "/api/admin/api-tokens", sess.Bearer(), 200, `"tokens":`},
			{"nothing is the mail-forwarding client", "GET", "/api/admin/api-tokens", nil, 401, `{"error":"invalid_or_expired_session"}`},
			{"an empty Authorization is Unleash's", "GET", "/api/admin/api-tokens", []string{"Authorization", ""}, 401, `"name":"AuthenticationRequired"`},
			{"cookie reads by id", "GET", "/api/admin/api-tokens/999", sess.Cookie(), 404, `{"error":"api_token_not_found","id":999}`},
			{"Authorization reads by name", "GET", "/api/admin/api-tokens/nobody", []string{"Authorization", st.root}, 200, `{"tokens":[]}`},
			{"cookie deletes by id, with CSRF", "DELETE", "/api/admin/api-tokens/999", sess.Cookie(), 403, `{"error":"csrf_required"}`},
			{"Authorization deletes by secret", "DELETE", "/api/admin/api-tokens/lk_nobody", []string{"Authorization", st.root}, 200, ``},
		} {
			t.Run(tt.name, func(t *testing.T) {
				res := st.MustDo(t, tt.status, tt.method, tt.path, nil, tt.headers...)
				if !strings.Contains(res.String(), tt.want) {
					t.Errorf("body: got %s, want it to hold %s", res.Body, tt.want)
				}
			})
		}
	})
}

// TestNewRouteRefusals walks the refusals of the list, create and sign-in
// routes: each a clear 4xx in its surface's envelope, nothing created.
func TestNewRouteRefusals(t *testing.T) {
	forEachStore(t, func(t *testing.T, st *stack) {
		sess := st.MustLogin(t, "admin@acme.test", stackPassword)
		json := []string{"Content-Type", "application/json"}
		mail := append(sess.CookieCSRF(), json...)
		unleash := append([]string{"Authorization", st.root}, json...)
		whatsApp := append([]string{"X-Admin-Secret", adminSecret}, json...)
		for _, tt := range []struct {
			name, method, path, body string
			headers                  []string
			status                   int
			want                     string
		}{
			{"000 create: a bad email", "POST", "/api/admin/api-tokens", `{"owner_email":"nope","days":3}`, mail, 400, `{"error":"invalid_params","field":"owner_email"}`},
			{"000 create: days out of range", "POST", "/api/admin/api-tokens", `{"owner_email":"a@b.test","days":91}`, mail, 400,
				`{"error":"invalid_params","field":"days","hint":"integer 1..90"}`},
			{"000 create: no CSRF", "POST", "/api/admin/api-tokens", `{"owner_email":"a@b.test","days":3}`, append(sess.Cookie(), json...), 403, `{"error":"csrf_required"}`},
			{"000 list: limit over 200", "GET", "/api/admin/api-tokens?limit=201", ``, sess.Cookie(), 400, `{"error":"invalid_params","field":"limit"}`},
			{"000 list: a bad status", "GET", "/api/admin/api-tokens?status=paused", ``, sess.Cookie(), 400, `{"error":"invalid_params","field":"status"}`},
			{"000 list: a bad active", "GET", "/api/admin/api-tokens?active=maybe", ``, sess.Cookie(), 400, `{"error":"invalid_params","field":"active"}`},
			{"000 sign-in: wrong password", "POST", "/api/auth/sign-in", `{"identifier":"admin@acme.test","password":"wrong password!"}`, json, 401,
				`{"error":"invalid_credentials"}`},
			{"000 sign-in: unknown user", "POST", "/api/auth/sign-in", `{"identifier":"who@acme.test","password":"wrong password!"}`, json, 401,
				`{"error":"invalid_credentials"}`},
			{"000 sign-in: no identifier", "POST", "/api/auth/sign-in", `{"password":"x"}`, json, 400, `{"error":"invalid_params","field":"identifier"}`},
			{"000 refresh: no CSRF", "POST", "/api/auth/refresh", ``, sess.Cookie(), 403, `{"error":"csrf_required"}`},
			{"000 refresh: no refresh cookie", "POST", "/api/auth/refresh", ``, sess.CookieCSRF(), 401, `{"error":"invalid_or_expired_session"}`},
			{"000 sign-out-all: no session", "POST", "/api/auth/sign-out-all", ``, nil, 401, `{"error":"invalid_or_expired_session"}`},
			{"000 sign-out: no session still signs out", "POST", "/api/auth/sign-out", ``, nil, 200, `{"ok":true,"action":"sign_out","signed_out":true}`},
			{"003 create: no tokenName", "POST", "/api/admin/api-tokens", `{"type":"client"}`, unleash, 400, `"path":"tokenName"`},
			{"003 create: admin type", "POST", "/api/admin/api-tokens", `{"tokenName":"a","type":"admin"}`, unleash, 400, `"path":"type"`},
			{"003 create: bad expiresAt", "POST", "/api/admin/api-tokens", `{"tokenName":"a","type":"client","expiresAt":"soon"}`, unleash, 400, `"path":"expiresAt"`},
			{"003 create: projects not strings", "POST", "/api/admin/api-tokens", `{"tokenName":"a","type":"client","projects":[1]}`, unleash, 400, `"path":"projects"`},
			{"003 create: no Content-Type", "POST", "/api/admin/api-tokens", `{"tokenName":"a","type":"client"}`, []string{"Authorization", st.root}, 415,
				`"name":"ContentTypeError"`},
			{"003 delete: itself", "DELETE", "/api/admin/api-tokens/" + st.root, ``, unleash, 403, `A root key cannot delete itself.`},
			{"001 create: a field missing", "POST", "/admin/api-keys", `{"customer_name":"A","customer_email":"a@b.test","max_devices":1,"rate_limit_per_hour":1}`,
				whatsApp, 400, `"message":"customer_phone is required"`},
			{"001 create: a bad email", "POST", "/admin/api-keys",
				`{"customer_name":"A","customer_email":"nope","customer_phone":"1","max_devices":1,"rate_limit_per_hour":1}`, whatsApp, 400, `"code":400`},
			{"001 create: no secret", "POST", "/admin/api-keys", `{}`, json, 401, `Missing X-Admin-Secret header`},
			{"001 get: not a number", "GET", "/admin/api-keys/x", ``, whatsApp, 400, `Invalid API key ID`},
			{"001 delete: unknown", "DELETE", "/admin/api-keys/999", ``, whatsApp, 404, `API key not found`},
			{"002 create: no description", "POST", "/apikeys", `{"flatPermissionsList":[]}`, append(sess.Bearer(), json...), 400, `description is required`},
		} {
			t.Run(tt.name, func(t *testing.T) {
				res := st.MustDo(t, tt.status, tt.method, tt.path, tt.body, tt.headers...)
				if !strings.Contains(res.String(), tt.want) {
					t.Errorf("body: got %s, want it to hold %s", res.Body, tt.want)
				}
			})
		}
		var page struct {
			Data []struct{ ID int64 } `json:"data"`
		}
		st.MustDo(t, http.StatusOK, "GET", "/v1/keys", nil, st.operator...).Decode(t, &page)
		if len(page.Data) != 1 { // the bootstrap root key only
			t.Errorf("keys: got %d, want only the root key", len(page.Data))
		}
	})
}
