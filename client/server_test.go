package client_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/client"
	"github.com/latchkey/latchkey/internal/testenv/binary"
)

const operatorSecret = "operator-secret-for-tests"

// MustRealServer builds cmd/latchkey, starts `latchkey serve` on a free
// port with a fresh SQLite file and the operator secret, and returns its
// URL. It skips when the binary does not build (cmd/latchkey's own tests
// report that), so that a half-finished CLI does not fail the SDK.
func MustRealServer(tb testing.TB) string {
	tb.Helper()
	if testing.Short() {
		tb.Skip("starts the real server: not with -short")
	}
	dir := tb.TempDir()
	bin, err := binary.Build(dir)
	if err != nil {
		tb.Skipf("cmd/latchkey does not build, so the real-server test cannot run: %v", err)
	}
	p, err := binary.Start(context.Background(), binary.Options{Bin: bin, Dir: dir, StartTimeout: 30 * time.Second,
		Env: []string{"LATCHKEY_LISTEN=127.0.0.1:0", "LATCHKEY_DATABASE_URL=" + filepath.Join(dir, "lk.db"), "LATCHKEY_ADMIN_SECRET=" + operatorSecret}})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(p.Kill)
	return p.URL
}

// result is a call's value and error, for must(call()).ok(t).
type result[T any] struct {
	v   T
	err error
}

// must holds a call's answer for ok.
func must[T any](v T, err error) result[T] { return result[T]{v, err} }

// ok fails the test on an error and returns the value.
func (r result[T]) ok(tb testing.TB) T {
	tb.Helper()
	if r.err != nil {
		tb.Fatalf("got %v, want no error", r.err)
	}
	return r.v
}

// wantCode fails the test unless err is a *latchkey.Error with code.
func wantCode(tb testing.TB, err error, code string) *latchkey.Error {
	tb.Helper()
	var e *latchkey.Error
	if !errors.As(err, &e) || e.Code != code {
		tb.Fatalf("got %v, want a *latchkey.Error with code %s", err, code)
	}
	return e
}

// TestAgainstTheRealServer calls every typed method against the real
// binary.
func TestAgainstTheRealServer(t *testing.T) {
	base := MustRealServer(t)
	ctx := context.Background()
	op := &client.Client{BaseURL: base, AdminSecret: operatorSecret}

	if h := must(op.Health(ctx)).ok(t); h.Status != "ok" {
		t.Errorf("Health: got %+v", h)
	}
	if r := must(op.Ready(ctx)).ok(t); r.Status != "ready" || r.Checks["store"] != "ok" {
		t.Errorf("Ready: got %+v", r)
	}

	// The operator mints a root key holding every permission.
	all := []string{latchkey.PermKeysRead, latchkey.PermKeysWrite, latchkey.PermKeysVerify, latchkey.PermAccountAdmin, latchkey.PermAuditRead}
	rk := must(op.CreateKey(ctx, &latchkey.KeyCreate{Kind: latchkey.KindRoot, Name: "sdk test", Permissions: all})).ok(t)
	root := client.New(base, rk.Secret)

	t.Run("permissions", func(t *testing.T) {
		must(root.CreatePermission(ctx, "readApplications", "read the API")).ok(t)
		wantCode(t, must2(root.CreatePermission(ctx, "readApplications", "")), latchkey.ECONFLICT)
		ps := must(root.ListPermissions(ctx)).ok(t)
		if !slices.ContainsFunc(ps, func(p *latchkey.Permission) bool { return p.Name == "readApplications" }) {
			t.Errorf("ListPermissions: got %v, want readApplications in it", ps)
		}
		must(root.CreatePermission(ctx, "gone", "")).ok(t)
		if err := root.DeletePermission(ctx, "gone"); err != nil {
			t.Fatal(err)
		}
	})

	email := "ops@acme.test"
	k := must(root.CreateKey(ctx, &latchkey.KeyCreate{Name: "acme prod", OwnerEmail: &email, Permissions: []string{"readApplications"},
		RateLimit: &latchkey.RateLimit{Limit: 100, WindowSeconds: 3600}, MaxDevices: 2, Meta: []byte(`{"plan":"pro"}`)})).ok(t)

	t.Run("keys", func(t *testing.T) {
		e := wantCode(t, must2(root.CreateKey(ctx, &latchkey.KeyCreate{Name: "x", Permissions: []string{"nope"}})), latchkey.EINVALID)
		if e.Fields["permissions"] == "" {
			t.Errorf("unknown permission: got fields %v, want one for permissions", e.Fields)
		}
		if got := must(root.GetKey(ctx, k.ID)).ok(t); got.Name != "acme prod" || string(got.Meta) != `{"plan":"pro"}` {
			t.Errorf("GetKey: got %+v", got)
		}
		p := must(root.ListKeys(ctx, client.ListOptions{OwnerEmail: email, Kind: "api", Status: "active"})).ok(t)
		if len(p.Data) != 1 || p.Data[0].ID != k.ID {
			t.Errorf("ListKeys: got %+v, want key %d alone", p.Data, k.ID)
		}
		u := must(root.UpdateKey(ctx, k.ID, map[string]any{"description": "renamed", "owner_phone": nil})).ok(t)
		if u.Description != "renamed" || u.Name != "acme prod" {
			t.Errorf("UpdateKey: got %+v", u)
		}
		wantCode(t, must2(root.GetKey(ctx, 999999)), latchkey.ENOTFOUND)

		res := must(root.Verify(ctx, &latchkey.VerifyRequest{Key: k.Secret, Permissions: []string{"readApplications"}, DeviceID: "laptop"})).ok(t)
		if !res.Valid || res.KeyID != k.ID || res.RateLimit == nil || res.RateLimit.Limit != 100 {
			t.Errorf("Verify: got %+v", res)
		}
		ds := must(root.ListDevices(ctx, k.ID)).ok(t)
		if len(ds) != 1 || ds[0].DeviceID != "laptop" {
			t.Errorf("ListDevices: got %+v", ds)
		}
		if err := root.DeleteDevice(ctx, k.ID, "laptop"); err != nil {
			t.Fatal(err)
		}
		if ds := must(root.ListDevices(ctx, k.ID)).ok(t); len(ds) != 0 {
			t.Errorf("ListDevices after DeleteDevice: got %+v", ds)
		}
		must(root.KeyUsage(ctx, k.ID, client.UsageOptions{Bucket: "minute", Since: time.Now().Add(-time.Hour)})).ok(t)
	})

	t.Run("middleware", func(t *testing.T) {
		vk := must(root.CreateKey(ctx, &latchkey.KeyCreate{Kind: latchkey.KindRoot, Name: "verify only", Permissions: []string{latchkey.PermKeysVerify}})).ok(t)
		fresh := must(root.CreateKey(ctx, &latchkey.KeyCreate{Name: "fresh", Permissions: []string{"readApplications"}, RateLimit: &latchkey.RateLimit{Limit: 2, WindowSeconds: 3600}})).ok(t)
		h := client.New(base, vk.Secret).Middleware(client.MiddlewareOptions{Permissions: []string{"readApplications"}},
			http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
		limit := regexp.MustCompile(`^"default";r=(\d+);t=(\d+)$`)
		for i, want := range []struct {
			status int
			r      string
		}{{204, "1"}, {204, "0"}, {429, "0"}} {
			rec := serve(h, "Authorization", "Bearer "+fresh.Secret)
			if rec.Code != want.status {
				t.Errorf("request %d: got %d, want %d", i, rec.Code, want.status)
			}
			if got := rec.Header().Get("RateLimit-Policy"); got != `"default";q=2;w=3600` {
				t.Errorf("request %d: RateLimit-Policy got %q, want \"default\";q=2;w=3600", i, got)
			}
			m := limit.FindStringSubmatch(rec.Header().Get("RateLimit"))
			if m == nil || m[1] != want.r {
				t.Errorf("request %d: RateLimit got %q, want \"default\";r=%s;t=<seconds>", i, rec.Header().Get("RateLimit"), want.r)
			}
			if want.status == 429 && (m == nil || rec.Header().Get("Retry-After") != max(m[2], "1")) {
				t.Errorf("request %d: Retry-After got %q, want the RateLimit's t", i, rec.Header().Get("Retry-After"))
			}
		}
		rec := serve(h)
		if rec.Code != 401 || rec.Header().Get("WWW-Authenticate") != "Bearer" {
			t.Errorf("no key: got %d WWW-Authenticate %q, want 401 Bearer", rec.Code, rec.Header().Get("WWW-Authenticate"))
		}
		rec = serve(h, "X-API-Key", "lk_made_up")
		if rec.Code != 401 || !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("unknown key: got %d WWW-Authenticate %q, want 401 Bearer", rec.Code, rec.Header().Get("WWW-Authenticate"))
		}

		// A root key without keys:verify is the operator's mistake: 500, logged once.
		readOnly := must(root.CreateKey(ctx, &latchkey.KeyCreate{Kind: latchkey.KindRoot, Name: "read only", Permissions: []string{latchkey.PermKeysRead}})).ok(t)
		var logs bytes.Buffer
		bad := client.New(base, readOnly.Secret).Middleware(client.MiddlewareOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil))}, http.NotFoundHandler())
		for range 2 {
			if rec := serve(bad, "X-API-Key", k.Secret); rec.Code != 500 {
				t.Errorf("root key without keys:verify: got %d, want 500", rec.Code)
			}
		}
		if n := strings.Count(logs.String(), "\n"); n != 1 {
			t.Errorf("root key without keys:verify: got %d log lines %q, want 1", n, logs.String())
		}

		must(root.RevokeKey(ctx, fresh.ID, "test")).ok(t)
		if rec := serve(h, "Authorization", "Bearer "+fresh.Secret); rec.Code != 403 {
			t.Errorf("revoked key: got %d, want 403", rec.Code)
		}
	})

	t.Run("rotate, audit, delete", func(t *testing.T) {
		rot := must(root.RotateKey(ctx, k.ID, time.Minute)).ok(t)
		if rot.Secret == "" || rot.Secret == k.Secret || rot.ID != k.ID {
			t.Errorf("RotateKey: got %+v", rot)
		}
		if res := must(root.Verify(ctx, &latchkey.VerifyRequest{Key: rot.Secret})).ok(t); !res.Valid {
			t.Errorf("rotated secret: got %s, want VALID", res.Code)
		}
		ev := must(root.ListAudit(ctx, client.AuditOptions{KeyID: k.ID, ActorKind: latchkey.ActorRootKey, Limit: 100})).ok(t)
		if len(ev.Data) == 0 {
			t.Errorf("ListAudit: got no events for key %d", k.ID)
		}
		if err := root.DeleteKey(ctx, k.ID); err != nil {
			t.Fatal(err)
		}
		wantCode(t, must2(root.GetKey(ctx, k.ID)), latchkey.ENOTFOUND)
	})

	t.Run("accounts, users, sessions", func(t *testing.T) {
		if as := must(root.ListAccounts(ctx)).ok(t); len(as) != 1 || as[0].Name != "default" {
			t.Errorf("ListAccounts as a root key: got %+v, want default alone", as)
		}
		wantCode(t, must2(root.CreateAccount(ctx, "acme", "")), latchkey.EFORBIDDEN)
		if a := must(op.CreateAccount(ctx, "acme", "ac")).ok(t); a.Name != "acme" || a.KeyPrefix != "ac" {
			t.Errorf("CreateAccount: got %+v", a)
		}
		m := must(root.CreateUser(ctx, &client.UserCreate{Email: "ada@acme.test", Name: "Ada", Password: "correct horse battery", Role: latchkey.RoleAdmin})).ok(t)
		if m.ID == 0 || m.Role != latchkey.RoleAdmin {
			t.Errorf("CreateUser: got %+v", m)
		}
		// The last admin of an account stays one: another comes first.
		wantCode(t, must2(root.SetMemberRole(ctx, 1, m.ID, latchkey.RoleMember)), latchkey.ECONFLICT)
		must(root.CreateUser(ctx, &client.UserCreate{Email: "grace@acme.test", Password: "correct horse battery", Role: latchkey.RoleAdmin})).ok(t)
		if m := must(root.SetMemberRole(ctx, 1, m.ID, latchkey.RoleMember)).ok(t); m.Role != latchkey.RoleMember {
			t.Errorf("SetMemberRole: got %+v", m)
		}
		us := must(root.ListUsers(ctx)).ok(t)
		if !slices.ContainsFunc(us, func(u *latchkey.Member) bool { return u.Email == "ada@acme.test" && u.Role == latchkey.RoleMember }) {
			t.Errorf("ListUsers: got %+v", us)
		}

		anon := client.New(base, "")
		wantCode(t, must2(anon.Login(ctx, "ada@acme.test", "wrong password!!")), latchkey.EUNAUTHORIZED)
		s := must(anon.Login(ctx, "ada@acme.test", "correct horse battery")).ok(t)
		if s.AccessToken == "" || s.CSRFToken == "" || s.RefreshToken == "" || s.ExpiresAt.IsZero() {
			t.Fatalf("Login: got %+v, want every field", s)
		}
		user := &client.Client{BaseURL: base, AccessToken: s.AccessToken}
		if tok := must(user.CSRFToken(ctx)).ok(t); tok != s.CSRFToken {
			t.Errorf("CSRFToken: got %q, want the login's %q", tok, s.CSRFToken)
		}
		if ks := must(user.ListKeys(ctx, client.ListOptions{})).ok(t); len(ks.Data) == 0 {
			t.Errorf("ListKeys as a member: got none")
		}
		s2 := must(anon.Refresh(ctx, s.RefreshToken)).ok(t)
		if s2.AccessToken == "" || s2.RefreshToken == "" || s2.RefreshToken == s.RefreshToken {
			t.Errorf("Refresh: got %+v", s2)
		}
		user.AccessToken = s2.AccessToken
		if err := user.Logout(ctx); err != nil {
			t.Fatal(err)
		}
		wantCode(t, must2(user.ListKeys(ctx, client.ListOptions{})), latchkey.EUNAUTHORIZED)
	})

	t.Run("user lifecycle", func(t *testing.T) {
		const pw, pw2 = "correct horse battery", "another horse battery"
		m := must(root.CreateUser(ctx, &client.UserCreate{Email: "lin@acme.test", Name: "Lin", Password: pw})).ok(t)
		name, on, off := "Lin Y.", true, false
		if u := must(root.UpdateUser(ctx, m.ID, &client.UserUpdate{Name: &name})).ok(t); u.Name != name || u.Disabled {
			t.Errorf("UpdateUser name: got %+v", u)
		}
		if u := must(root.UpdateUser(ctx, m.ID, &client.UserUpdate{Disabled: &on})).ok(t); !u.Disabled {
			t.Errorf("UpdateUser disabled: got %+v", u)
		}
		anon := client.New(base, "")
		wantCode(t, must2(anon.Login(ctx, "lin@acme.test", pw)), latchkey.EUNAUTHORIZED)
		must(root.UpdateUser(ctx, m.ID, &client.UserUpdate{Disabled: &off})).ok(t)
		s := must(anon.Login(ctx, "lin@acme.test", pw)).ok(t)

		// Your own password: the session ends with the change.
		lin := &client.Client{BaseURL: base, AccessToken: s.AccessToken}
		e := wantCode(t, lin.ChangePassword(ctx, "not the password!", pw2), latchkey.EINVALID)
		if e.Fields["current"] == "" {
			t.Errorf("ChangePassword with a wrong current one: got fields %v, want current named", e.Fields)
		}
		if err := lin.ChangePassword(ctx, pw, pw2); err != nil {
			t.Fatal(err)
		}
		wantCode(t, must2(lin.ListKeys(ctx, client.ListOptions{})), latchkey.EUNAUTHORIZED)
		must(anon.Login(ctx, "lin@acme.test", pw2)).ok(t)
		wantCode(t, root.ChangePassword(ctx, pw, pw2), latchkey.EFORBIDDEN) // a root key has no password

		if err := root.RemoveMember(ctx, 1, m.ID); err != nil {
			t.Fatal(err)
		}
		wantCode(t, root.RemoveMember(ctx, 1, m.ID), latchkey.ENOTFOUND)
		if us := must(root.ListUsers(ctx)).ok(t); slices.ContainsFunc(us, func(u *latchkey.Member) bool { return u.ID == m.ID }) {
			t.Errorf("ListUsers after RemoveMember: got %+v", us)
		}
	})
}

// must2 drops a value and keeps the error, for calls expected to fail.
func must2[T any](_ T, err error) error { return err }
