package client_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/client"
)

// recorded is one request a recorder server received.
type recorded struct {
	method, uri, contentType, auth, account, body string
}

// MustRecorder starts a server that records each request and answers it
// with status and body.
func MustRecorder(tb testing.TB, status int, body string, got *recorded) *client.Client {
	tb.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		*got = recorded{r.Method, r.URL.RequestURI(), r.Header.Get("Content-Type"), r.Header.Get("Authorization"), r.Header.Get("X-Account-ID"), string(b)}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	tb.Cleanup(srv.Close)
	return client.New(srv.URL, "lk_root")
}

// TestMethodsSendTheRoutesOfTheAPI checks each method's method, URI, body
// and content type, and its decoding of the answer.
func TestMethodsSendTheRoutesOfTheAPI(t *testing.T) {
	ctx := context.Background()
	since := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	actor := int64(3)
	tests := []struct {
		name       string
		call       func(c *client.Client) error
		method     string
		uri        string
		body       string // "" for none
		answer     string
		wantCTType string
	}{
		{"CreateKey", func(c *client.Client) error {
			k, err := c.CreateKey(ctx, &latchkey.KeyCreate{Kind: latchkey.KindAPI, Name: "acme", Permissions: []string{"read"}})
			if err == nil && (k.ID != 42 || k.Secret != "lk_s") {
				t.Errorf("CreateKey: got %+v", k)
			}
			return err
		}, "POST", "/v1/keys", `{"kind":"api","name":"acme","description":"","owner_email":null,"owner_name":null,"owner_phone":null,"enabled":null,"expires_at":null,"permissions":["read"],"rate_limit":null,"max_devices":0,"credits":null,"meta":null}`,
			`{"id":42,"secret":"lk_s"}`, "application/json"},
		{"ListKeys", func(c *client.Client) error {
			p, err := c.ListKeys(ctx, client.ListOptions{Status: "active", Kind: "api", OwnerEmail: "a@b.test", Query: "x y", Cursor: "c1", Limit: 5})
			if err == nil && (len(p.Data) != 1 || p.NextCursor == nil || *p.NextCursor != "c2") {
				t.Errorf("ListKeys: got %+v", p)
			}
			return err
		}, "GET", "/v1/keys?cursor=c1&kind=api&limit=5&owner_email=a%40b.test&q=x+y&status=active", "", `{"data":[{"id":1}],"next_cursor":"c2"}`, ""},
		{"GetKey", func(c *client.Client) error { _, err := c.GetKey(ctx, 42); return err }, "GET", "/v1/keys/42", "", `{"id":42}`, ""},
		{"UpdateKey", func(c *client.Client) error {
			_, err := c.UpdateKey(ctx, 42, map[string]any{"name": "prod", "expires_at": nil})
			return err
		}, "PATCH", "/v1/keys/42", `{"expires_at":null,"name":"prod"}`, `{"id":42}`, "application/merge-patch+json"},
		{"RevokeKey", func(c *client.Client) error { _, err := c.RevokeKey(ctx, 42, "leaked"); return err }, "POST", "/v1/keys/42/revoke", `{"reason":"leaked"}`, `{"id":42}`, "application/json"},
		{"RotateKey", func(c *client.Client) error { _, err := c.RotateKey(ctx, 42, time.Hour); return err }, "POST", "/v1/keys/42/rotate", `{"grace_seconds":3600}`, `{"id":42,"secret":"lk_n"}`, "application/json"},
		{"DeleteKey", func(c *client.Client) error { return c.DeleteKey(ctx, 42) }, "DELETE", "/v1/keys/42", "", "", ""},
		{"ListDevices", func(c *client.Client) error {
			d, err := c.ListDevices(ctx, 42)
			if err == nil && (len(d) != 1 || d[0].DeviceID != "laptop") {
				t.Errorf("ListDevices: got %+v", d)
			}
			return err
		}, "GET", "/v1/keys/42/devices", "", `{"data":[{"key_id":42,"device_id":"laptop"}],"next_cursor":null}`, ""},
		{"DeleteDevice", func(c *client.Client) error { return c.DeleteDevice(ctx, 42, "a b/c") }, "DELETE", "/v1/keys/42/devices/a%20b%2Fc", "", "", ""},
		{"KeyUsage", func(c *client.Client) error {
			u, err := c.KeyUsage(ctx, 42, client.UsageOptions{Bucket: "day", Since: since, Until: since.Add(48 * time.Hour)})
			if err == nil && (len(u) != 1 || u[0].Total != 3) {
				t.Errorf("KeyUsage: got %+v", u)
			}
			return err
		}, "GET", "/v1/keys/42/usage?bucket=day&since=2027-01-01T00%3A00%3A00Z&until=2027-01-03T00%3A00%3A00Z", "", `{"data":[{"total":3}],"next_cursor":null}`, ""},
		{"Verify", func(c *client.Client) error {
			cost := int64(0)
			res, err := c.Verify(ctx, &latchkey.VerifyRequest{Key: "lk_k", Permissions: []string{"read"}, DeviceID: "d", Cost: &cost})
			if err == nil && (!res.Valid || res.RateLimit == nil || res.RateLimit.Remaining != 41) {
				t.Errorf("Verify: got %+v", res)
			}
			return err
		}, "POST", "/v1/keys/verify", `{"key":"lk_k","permissions":["read"],"device_id":"d","cost":0}`,
			`{"valid":true,"code":"VALID","key_id":42,"rate_limit":{"limit":100,"remaining":41,"reset_at":"2027-01-01T00:00:00Z"}}`, "application/json"},
		{"ListPermissions", func(c *client.Client) error { _, err := c.ListPermissions(ctx); return err }, "GET", "/v1/permissions", "", `{"data":[{"name":"read"}],"next_cursor":null}`, ""},
		{"CreatePermission", func(c *client.Client) error { _, err := c.CreatePermission(ctx, "read", "Read things"); return err }, "POST", "/v1/permissions", `{"description":"Read things","name":"read"}`, `{"name":"read"}`, "application/json"},
		{"DeletePermission", func(c *client.Client) error { return c.DeletePermission(ctx, "keys:read") }, "DELETE", "/v1/permissions/keys:read", "", "", ""},
		{"ListAudit", func(c *client.Client) error {
			p, err := c.ListAudit(ctx, client.AuditOptions{KeyID: 42, ActorKind: latchkey.ActorUser, ActorID: &actor, Action: "key.update", Since: since, Until: since.Add(time.Hour), Limit: 10, Cursor: "c"})
			if err == nil && (len(p.Data) != 1 || p.Data[0].Action != "key.update") {
				t.Errorf("ListAudit: got %+v", p)
			}
			return err
		}, "GET", "/v1/audit?action=key.update&actor_id=3&actor_kind=user&cursor=c&key_id=42&limit=10&since=2027-01-01T00%3A00%3A00Z&until=2027-01-01T01%3A00%3A00Z", "", `{"data":[{"action":"key.update"}],"next_cursor":null}`, ""},
		{"ListAccounts", func(c *client.Client) error { _, err := c.ListAccounts(ctx); return err }, "GET", "/v1/accounts", "", `{"data":[{"id":1,"name":"default"}],"next_cursor":null}`, ""},
		{"CreateAccount", func(c *client.Client) error { _, err := c.CreateAccount(ctx, "acme", "ac"); return err }, "POST", "/v1/accounts", `{"key_prefix":"ac","name":"acme"}`, `{"id":2}`, "application/json"},
		{"ListUsers", func(c *client.Client) error {
			m, err := c.ListUsers(ctx)
			if err == nil && (len(m) != 1 || m[0].Email != "a@b.test" || m[0].Role != latchkey.RoleAdmin) {
				t.Errorf("ListUsers: got %+v", m)
			}
			return err
		}, "GET", "/v1/users", "", `{"data":[{"id":5,"email":"a@b.test","role":"admin"}],"next_cursor":null}`, ""},
		{"CreateUser", func(c *client.Client) error {
			_, err := c.CreateUser(ctx, &client.UserCreate{Email: "a@b.test", Password: "correct horse", Role: latchkey.RoleAdmin})
			return err
		}, "POST", "/v1/users", `{"email":"a@b.test","password":"correct horse","role":"admin"}`, `{"id":5}`, "application/json"},
		{"SetMemberRole", func(c *client.Client) error { _, err := c.SetMemberRole(ctx, 1, 5, latchkey.RoleMember); return err }, "PUT", "/v1/accounts/1/members/5", `{"role":"member"}`, `{"id":5,"role":"member"}`, "application/json"},
		{"UpdateUser", func(c *client.Client) error {
			name, off := "Ada L.", false
			u, err := c.UpdateUser(ctx, 5, &client.UserUpdate{Name: &name, Disabled: &off})
			if err == nil && (u.ID != 5 || u.Name != "Ada L." || u.Disabled) {
				t.Errorf("UpdateUser: got %+v", u)
			}
			return err
		}, "PATCH", "/v1/users/5", `{"name":"Ada L.","disabled":false}`, `{"id":5,"name":"Ada L.","disabled":false}`, "application/json"},
		{"RemoveMember", func(c *client.Client) error { return c.RemoveMember(ctx, 1, 5) }, "DELETE", "/v1/accounts/1/members/5", "", "", ""},
		{"ChangePassword", func(c *client.Client) error { return c.ChangePassword(ctx, "old one", "new one") }, "POST", "/v1/auth/password", `{"current":"old one","new":"new one"}`, "", "application/json"},
		{"Login", func(c *client.Client) error { _, err := c.Login(ctx, "a@b.test", "pw"); return err }, "POST", "/v1/auth/login", `{"email":"a@b.test","password":"pw"}`, `{"access_token":"at"}`, "application/json"},
		{"Refresh", func(c *client.Client) error { _, err := c.Refresh(ctx, "rt"); return err }, "POST", "/v1/auth/refresh", `{"refresh_token":"rt"}`, `{"access_token":"at"}`, "application/json"},
		{"Logout", func(c *client.Client) error { return c.Logout(ctx) }, "POST", "/v1/auth/logout", "", "", ""},
		{"Health", func(c *client.Client) error {
			h, err := c.Health(ctx)
			if err == nil && (h.Status != "ok" || h.Version != "dev") {
				t.Errorf("Health: got %+v", h)
			}
			return err
		}, "GET", "/healthz", "", `{"status":"ok","version":"dev"}`, ""},
		{"Ready", func(c *client.Client) error {
			r, err := c.Ready(ctx)
			if err == nil && (r.Status != "ready" || r.Checks["store"] != "ok") {
				t.Errorf("Ready: got %+v", r)
			}
			return err
		}, "GET", "/readyz", "", `{"status":"ready","checks":{"store":"ok"}}`, ""},
		{"CSRFToken", func(c *client.Client) error {
			tok, err := c.CSRFToken(ctx)
			if err == nil && tok != "x" {
				t.Errorf("CSRFToken: got %q, want x", tok)
			}
			return err
		}, "GET", "/v1/auth/csrf", "", `{"csrf_token":"x"}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got recorded
			status := 200
			if tt.answer == "" {
				status = 204
			}
			c := MustRecorder(t, status, tt.answer, &got)
			if err := tt.call(c); err != nil {
				t.Fatalf("got %v, want no error", err)
			}
			if got.method != tt.method || got.uri != tt.uri {
				t.Errorf("request: got %s %s, want %s %s", got.method, got.uri, tt.method, tt.uri)
			}
			if got.body != tt.body {
				t.Errorf("body: got %s, want %s", got.body, tt.body)
			}
			if got.contentType != tt.wantCTType {
				t.Errorf("Content-Type: got %q, want %q", got.contentType, tt.wantCTType)
			}
			if got.auth != "Bearer lk_root" {
				t.Errorf("Authorization: got %q, want Bearer lk_root", got.auth)
			}
		})
	}
}

// TestCredentials checks which header each kind of credential is sent in.
func TestCredentials(t *testing.T) {
	var got recorded
	c := MustRecorder(t, 200, `{"data":[]}`, &got)
	c.RootKey, c.AccessToken, c.AccountID = "", "at", "acme"
	if _, err := c.ListKeys(context.Background(), client.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	if got.auth != "Bearer at" || got.account != "acme" {
		t.Errorf("access token: got Authorization %q, X-Account-ID %q; want Bearer at, acme", got.auth, got.account)
	}
}

// TestLoginReadsTheRefreshCookie checks that Login takes the refresh token
// from its cookie.
func TestLoginReadsTheRefreshCookie(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "__Host-access", Value: "at", Path: "/", Secure: true, HttpOnly: true})
		http.SetCookie(w, &http.Cookie{Name: "__Host-refresh", Value: "rt1", Path: "/", Secure: true, HttpOnly: true})
		io.WriteString(w, `{"access_token":"at","csrf_token":"ct","expires_at":"2027-01-01T00:10:00Z"}`)
	}))
	defer srv.Close()
	s, err := client.New(srv.URL, "").Login(context.Background(), "a@b.test", "pw")
	if err != nil {
		t.Fatal(err)
	}
	want := client.Session{AccessToken: "at", CSRFToken: "ct", ExpiresAt: time.Date(2027, 1, 1, 0, 10, 0, 0, time.UTC), RefreshToken: "rt1"}
	if *s != want {
		t.Errorf("got %+v, want %+v", *s, want)
	}
}

// TestErrorsAreLatchkeyErrors checks that refusals, problem or not, come
// back as *latchkey.Error with the code, fields and Retry-After.
func TestErrorsAreLatchkeyErrors(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		header     map[string]string
		body       string
		code, msg  string
		fields     map[string]string
		retryAfter time.Duration
	}{
		{"problem with fields", 400, nil,
			`{"type":"https://latchkey.dev/problems/invalid","title":"Bad Request","status":400,"detail":"permissions: unknown","code":"invalid","errors":{"permissions":"unknown"}}`,
			latchkey.EINVALID, "permissions: unknown", map[string]string{"permissions": "unknown"}, 0},
		{"unauthorized", 401, map[string]string{"WWW-Authenticate": `Bearer realm="latchkey"`},
			`{"status":401,"code":"unauthorized","detail":"invalid credential"}`, latchkey.EUNAUTHORIZED, "invalid credential", nil, 0},
		{"rate limited", 429, map[string]string{"Retry-After": "7"},
			`{"status":429,"code":"rate_limited","detail":"too many sign-in attempts"}`, latchkey.ERATELIMITED, "too many sign-in attempts", nil, 7 * time.Second},
		{"outage", 503, map[string]string{"Retry-After": "1"},
			`{"status":503,"code":"unavailable","detail":"store unavailable"}`, latchkey.EUNAVAILABLE, "store unavailable", nil, time.Second},
		{"a proxy's page", 502, nil, `<html>bad gateway</html>`, latchkey.EUNAVAILABLE, "Bad Gateway", nil, 0},
		{"not json", 404, nil, `404 page not found`, latchkey.ENOTFOUND, "Not Found", nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.Header().Set("Content-Type", "application/problem+json")
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			_, err := client.New(srv.URL, "lk_root").GetKey(context.Background(), 1)
			var e *latchkey.Error
			if !errors.As(err, &e) {
				t.Fatalf("got %T %v, want a *latchkey.Error", err, err)
			}
			if e.Code != tt.code || e.Message != tt.msg || e.RetryAfter != tt.retryAfter {
				t.Errorf("got code %q message %q retry %v, want %q %q %v", e.Code, e.Message, e.RetryAfter, tt.code, tt.msg, tt.retryAfter)
			}
			if len(e.Fields) != len(tt.fields) || e.Fields["permissions"] != tt.fields["permissions"] {
				t.Errorf("fields: got %v, want %v", e.Fields, tt.fields)
			}
			var se *client.StatusError
			if !errors.As(err, &se) || se.Status != tt.status || se.Path != "/v1/keys/1" {
				t.Errorf("status: got %+v, want %d on /v1/keys/1", se, tt.status)
			}
			if latchkey.ErrorCode(err) != tt.code {
				t.Errorf("ErrorCode: got %q, want %q", latchkey.ErrorCode(err), tt.code)
			}
		})
	}
}

// TestNetworkErrorIsNotAnAPIError checks that a call that got no answer is
// not dressed up as a refusal.
func TestNetworkErrorIsNotAnAPIError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	u := srv.URL
	srv.Close()
	_, err := client.New(u, "lk_root").GetKey(context.Background(), 1)
	var e *latchkey.Error
	if err == nil || errors.As(err, &e) {
		t.Fatalf("got %v, want a transport error that is not a *latchkey.Error", err)
	}
	var ue *url.Error
	if !errors.As(err, &ue) {
		t.Errorf("got %T, want it to wrap *url.Error", err)
	}
}
