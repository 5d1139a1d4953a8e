package http_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	lkhttp "github.com/latchkey/latchkey/internal/http"
	"github.com/latchkey/latchkey/internal/http/auth"
	"github.com/latchkey/latchkey/internal/mock"
	"github.com/latchkey/latchkey/internal/testenv"
)

const adminSecret = "operator-secret-0123456789"

// fixture is a Server on mocks with three bearer credentials: a root key
// holding every permission, a read-only root key and an api key.
type fixture struct {
	keys     *mock.KeyService
	perms    *mock.PermissionService
	audit    *mock.AuditService
	verifier *mock.Verifier
	users    *mock.UserService
	srv      *httptest.Server
	http     testenv.HTTP // to srv
	root     string
	readOnly string
	apiKey   string
	revoked  string
}

// MustFixture serves a Server on mocks (see fixture), after each option
// has changed it.
func MustFixture(tb testing.TB, options ...func(*lkhttp.Server)) *fixture {
	tb.Helper()
	f := &fixture{keys: &mock.KeyService{}, perms: &mock.PermissionService{}, audit: &mock.AuditService{}, verifier: &mock.Verifier{},
		users: &mock.UserService{}}
	f.root, _, _ = latchkey.NewSecret("lk")
	f.readOnly, _, _ = latchkey.NewSecret("lk")
	f.apiKey, _, _ = latchkey.NewSecret("lk")
	f.revoked, _, _ = latchkey.NewSecret("lk")
	past := time.Now().Add(-time.Hour)
	creds := map[string]*latchkey.VerifyKey{
		f.root:     {KeyID: 1, AccountID: 7, Kind: latchkey.KindRoot, Enabled: true, Permissions: latchkey.RootPermissions},
		f.readOnly: {KeyID: 2, AccountID: 7, Kind: latchkey.KindRoot, Enabled: true, Permissions: []string{latchkey.PermKeysRead}},
		f.apiKey:   {KeyID: 3, AccountID: 7, Kind: latchkey.KindAPI, Enabled: true},
		f.revoked:  {KeyID: 4, AccountID: 7, Kind: latchkey.KindRoot, Enabled: true, RevokedAt: &past, Permissions: latchkey.RootPermissions},
	}
	f.verifier.AuthenticateFn = func(ctx context.Context, secret string) (*latchkey.VerifyKey, error) {
		if k, ok := creds[secret]; ok {
			return k, nil
		}
		return nil, latchkey.Errorf(latchkey.EUNAUTHORIZED, "invalid credential")
	}
	accounts := &mock.AccountService{
		FindAccountByNameFn: func(ctx context.Context, name string) (*latchkey.Account, error) {
			if name == "default" {
				return &latchkey.Account{ID: 7, Name: name}, nil
			}
			return nil, latchkey.Errorf(latchkey.ENOTFOUND, "account not found")
		},
		FindAccountByIDFn: func(ctx context.Context, id int64) (*latchkey.Account, error) {
			if id == 7 || id == 8 {
				return &latchkey.Account{ID: id}, nil
			}
			return nil, latchkey.Errorf(latchkey.ENOTFOUND, "account not found")
		},
	}
	passwords := &mock.PasswordHasher{
		HashFn:   func(pw string) (string, error) { return "h:" + pw, nil },
		VerifyFn: func(enc, pw string) (bool, error) { return enc == "h:"+pw, nil },
	}
	s := &lkhttp.Server{Keys: f.keys, Permissions: f.perms, Audit: f.audit, Accounts: accounts,
		Verifier: f.verifier, Users: f.users, Auth: &auth.Authenticator{Verifier: f.verifier, Accounts: accounts,
			Users: f.users, Passwords: passwords, AdminSecret: adminSecret}}
	f.srv, f.http = startServer(tb, s, options)
	return f
}

// startServer applies each option to s, serves it over TCP until the test
// ends, and returns the server and a testenv.HTTP to it.
func startServer(tb testing.TB, s *lkhttp.Server, options []func(*lkhttp.Server)) (*httptest.Server, testenv.HTTP) {
	for _, o := range options {
		o(s)
	}
	srv := httptest.NewServer(s.Handler())
	tb.Cleanup(srv.Close)
	return srv, testenv.HTTP{URL: srv.URL}
}

// call sends a request with header pairs (testenv.HTTP.Do) and returns
// the status, body and headers of the answer.
func (f *fixture) call(tb testing.TB, method, path, body string, headers ...string) (int, string, http.Header) {
	tb.Helper()
	res := f.http.Do(tb, method, path, body, headers...)
	return res.Status, res.String(), res.Header
}

func bearer(s string) []string { return []string{"Authorization", "Bearer " + s} }

// problem decodes a problem+json body, failing the test otherwise.
func problem(tb testing.TB, body string) lkhttp.Problem {
	tb.Helper()
	var p lkhttp.Problem
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		tb.Fatalf("not a problem document: %q", body)
	}
	return p
}

// Each kind of credential reaches, or is refused by, GET and POST
// /v1/keys.
func TestAuth(t *testing.T) {
	f := MustFixture(t)
	f.keys.FindKeysFn = func(ctx context.Context, kf latchkey.KeyFilter) ([]*latchkey.Key, string, error) {
		if kf.AccountID != 7 {
			t.Errorf("account: got %d, want 7", kf.AccountID)
		}
		return nil, "", nil
	}
	f.keys.CreateKeyFn = func(ctx context.Context, accountID int64, c *latchkey.KeyCreate) (*latchkey.Key, string, error) {
		return &latchkey.Key{ID: 9}, "lk_new", nil
	}
	for _, tt := range []struct {
		name    string
		method  string
		headers []string
		want    int
		code    string
	}{
		{"no credential", "GET", nil, 401, "unauthorized"},
		{"malformed bearer", "GET", []string{"Authorization", "Bearer nope"}, 401, "unauthorized"},
		{"basic auth", "GET", []string{"Authorization", "Basic Zm9vOmJhcg=="}, 401, "unauthorized"},
		{"wrong admin secret", "GET", []string{"X-Admin-Secret", "wrong"}, 401, "unauthorized"},
		{"api key", "GET", bearer(f.apiKey), 403, "forbidden"},
		{"revoked root key", "GET", bearer(f.revoked), 401, "unauthorized"},
		{"read-only root key writes", "POST", bearer(f.readOnly), 403, "forbidden"},
		{"read-only root key reads", "GET", bearer(f.readOnly), 200, ""},
		{"root key", "GET", bearer(f.root), 200, ""},
		{"root key names another account", "GET", append(bearer(f.root), "X-Account-ID", "8"), 403, "forbidden"},
		{"operator", "GET", []string{"X-Admin-Secret", adminSecret}, 200, ""},
		{"operator unknown account", "GET", []string{"X-Admin-Secret", adminSecret, "X-Account-ID", "nope"}, 400, "invalid"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			body := ""
			if tt.method == "POST" {
				body = `{"name":"x"}`
			}
			st, b, h := f.call(t, tt.method, "/v1/keys", body, tt.headers...)
			if st != tt.want {
				t.Fatalf("status: got %d (%s), want %d", st, b, tt.want)
			}
			if tt.code != "" {
				if p := problem(t, b); p.Code != tt.code || p.Status != tt.want {
					t.Fatalf("problem: got %+v, want code %s", p, tt.code)
				}
				if ct := h.Get("Content-Type"); ct != "application/problem+json" {
					t.Fatalf("content type: got %q", ct)
				}
			}
		})
	}
}

// With no admin secret configured, even an empty X-Admin-Secret is
// refused.
func TestAdminSecretDisabled(t *testing.T) {
	f := MustFixture(t)
	s := &lkhttp.Server{Verifier: f.verifier, Keys: f.keys}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	if st := (testenv.HTTP{URL: srv.URL}).Do(t, "GET", "/v1/keys", nil, "X-Admin-Secret", "").Status; st != 401 {
		t.Fatalf("got %d, want 401 when no admin secret is configured", st)
	}
}

// POST /v1/keys: 201 with Location and the secret; each bad body named.
func TestCreateKey(t *testing.T) {
	f := MustFixture(t)
	var got *latchkey.KeyCreate
	f.keys.CreateKeyFn = func(ctx context.Context, accountID int64, c *latchkey.KeyCreate) (*latchkey.Key, string, error) {
		got = c
		if a := latchkey.ActorFromContext(ctx); a.Kind != latchkey.ActorRootKey || a.ID != 1 || (c.Name == "acme" && a.UserAgent != "test-agent") {
			t.Errorf("actor: got %+v", a)
		}
		if err := c.Validate(time.Now()); err != nil {
			return nil, "", err
		}
		return &latchkey.Key{ID: 42, AccountID: accountID, Name: c.Name}, "lk_secret", nil
	}
	h := append(bearer(f.root), "Content-Type", "application/json", "User-Agent", "test-agent")
	st, b, hdr := f.call(t, "POST", "/v1/keys", `{"name":"acme","owner_email":"ops@acme.test","rate_limit":{"limit":5,"window_seconds":60},"expires_at":"2027-01-01T00:00:00Z"}`, h...)
	if st != 201 {
		t.Fatalf("got %d %s, want 201", st, b)
	}
	if hdr.Get("Location") != "/v1/keys/42" {
		t.Fatalf("Location: got %q", hdr.Get("Location"))
	}
	var k struct {
		ID     int64  `json:"id"`
		Secret string `json:"secret"`
	}
	json.Unmarshal([]byte(b), &k)
	if k.ID != 42 || k.Secret != "lk_secret" {
		t.Fatalf("got %+v, want id 42 with its secret", k)
	}
	if got.RateLimit == nil || got.RateLimit.Limit != 5 || got.ExpiresAt == nil || *got.OwnerEmail != "ops@acme.test" {
		t.Fatalf("decoded: got %+v", got)
	}

	for _, tt := range []struct {
		name, body, ctype string
		want              int
		field             string
	}{
		{"malformed JSON", `{"name":`, "", 400, ""},
		{"wrong type", `{"max_devices":"two"}`, "", 400, "max_devices"},
		{"unknown enum", `{"kind":"admin"}`, "", 400, "kind"},
		{"bad email", `{"owner_email":"not-an-email"}`, "", 400, "owner_email"},
		{"bad time", `{"expires_at":"next week"}`, "", 400, "expires_at"},
		{"time as a number", `{"expires_at":1700000000}`, "", 400, "expires_at"},
		{"negative limit", `{"rate_limit":{"limit":-1,"window_seconds":60}}`, "", 400, "rate_limit.limit"},
		{"negative devices", `{"max_devices":-1}`, "", 400, "max_devices"},
		{"bad refill", `{"credits":{"remaining":1,"refill_amount":1,"refill_interval":"fortnight"}}`, "", 400, "credits.refill_interval"},
		{"meta not object", `{"meta":[1,2]}`, "", 400, "meta"},
		{"read-only", `{"status":"active"}`, "", 400, "status"},
		{"unknown field", `{"nmae":"x"}`, "", 400, "nmae"},
		{"wrong content type", `name=x`, "application/x-www-form-urlencoded", 415, ""},
		{"too large", `{"name":"` + strings.Repeat("a", 70<<10) + `"}`, "", 413, ""},
		{"empty body", ``, "", 400, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ct := tt.ctype
			if ct == "" {
				ct = "application/json"
			}
			st, b, _ := f.call(t, "POST", "/v1/keys", tt.body, append(bearer(f.root), "Content-Type", ct)...)
			if st != tt.want {
				t.Fatalf("status: got %d (%s), want %d", st, b, tt.want)
			}
			p := problem(t, b)
			if strings.Contains(p.Detail, "Unmarshal") || strings.Contains(p.Detail, "json:") {
				t.Errorf("detail %q speaks Go, not to the caller", p.Detail)
			}
			if tt.field != "" {
				if _, ok := p.Errors[tt.field]; !ok {
					t.Fatalf("errors: got %v, want one for %q", p.Errors, tt.field)
				}
				if !strings.Contains(p.Detail, tt.field) {
					t.Fatalf("detail %q does not name %q", p.Detail, tt.field)
				}
			}
		})
	}
}

// PATCH /v1/keys/{id}: null clears, absent keeps, an empty patch changes
// nothing.
func TestUpdateKeyMergePatch(t *testing.T) {
	f := MustFixture(t)
	var got *latchkey.KeyUpdate
	f.keys.UpdateKeyFn = func(ctx context.Context, accountID, id int64, u *latchkey.KeyUpdate) (*latchkey.Key, error) {
		got = u
		if id != 42 {
			return nil, latchkey.Errorf(latchkey.ENOTFOUND, "key %d not found", id)
		}
		return &latchkey.Key{ID: 42}, nil
	}
	f.keys.FindKeyByIDFn = func(ctx context.Context, accountID, id int64) (*latchkey.Key, error) {
		return &latchkey.Key{ID: id}, nil
	}
	st, b, _ := f.call(t, "PATCH", "/v1/keys/42", `{"owner_email":null,"enabled":false}`, bearer(f.root)...)
	if st != 200 {
		t.Fatalf("got %d %s", st, b)
	}
	if !got.OwnerEmail.Null || got.Enabled == nil || *got.Enabled || got.OwnerName.Set || got.Name != nil {
		t.Fatalf("patch: got %+v, want owner_email cleared, enabled false, rest kept", got)
	}
	got = nil
	if st, _, _ := f.call(t, "PATCH", "/v1/keys/42", `{}`, bearer(f.root)...); st != 200 || got != nil {
		t.Fatalf("empty patch: got %d (update called: %v), want 200 without an update", st, got != nil)
	}
	if st, b, _ := f.call(t, "PATCH", "/v1/keys/43", `{"name":"x"}`, bearer(f.root)...); st != 404 || problem(t, b).Code != "not_found" {
		t.Fatalf("unknown key: got %d %s, want 404", st, b)
	}
	if st, b, _ := f.call(t, "PATCH", "/v1/keys/abc", `{"name":"x"}`, bearer(f.root)...); st != 400 || problem(t, b).Errors["id"] == "" {
		t.Fatalf("bad id: got %d %s, want 400 naming id", st, b)
	}
}

// A store error or a panic is a 500 that reveals nothing.
func TestInternalErrorsAreNotLeaked(t *testing.T) {
	f := MustFixture(t)
	f.keys.FindKeyByIDFn = func(ctx context.Context, accountID, id int64) (*latchkey.Key, error) {
		return nil, errors.New("sqlite: disk I/O error at /var/secret/path")
	}
	f.keys.DeleteKeyFn = func(ctx context.Context, accountID, id int64) error { panic("boom") }
	st, b, _ := f.call(t, "GET", "/v1/keys/1", "", bearer(f.root)...)
	if st != 500 || strings.Contains(b, "disk") || problem(t, b).Detail != "internal error" {
		t.Fatalf("got %d %s, want 500 internal error without detail", st, b)
	}
	st, b, _ = f.call(t, "DELETE", "/v1/keys/2", "", bearer(f.root)...)
	if st != 500 || strings.Contains(b, "boom") {
		t.Fatalf("panic: got %d %s, want 500 without detail", st, b)
	}
}

// POST /v1/keys/verify: 200 for every outcome; bad bodies and api-key
// callers refused.
func TestVerifyHandler(t *testing.T) {
	f := MustFixture(t)
	secret, _, _ := latchkey.NewSecret("lk")
	f.verifier.VerifyFn = func(ctx context.Context, accountID int64, req *latchkey.VerifyRequest) (*latchkey.VerifyResult, error) {
		if accountID != 7 {
			t.Errorf("account: got %d, want 7", accountID)
		}
		if req.Key != secret {
			return &latchkey.VerifyResult{Code: latchkey.CodeNotFound}, nil
		}
		return &latchkey.VerifyResult{Valid: true, Code: latchkey.CodeValid, KeyID: 5}, nil
	}
	st, b, _ := f.call(t, "POST", "/v1/keys/verify", `{"key":"`+secret+`"}`, bearer(f.root)...)
	if st != 200 || !strings.Contains(b, `"code":"VALID"`) {
		t.Fatalf("got %d %s", st, b)
	}
	st, b, _ = f.call(t, "POST", "/v1/keys/verify", `{"key":"lk_nope"}`, bearer(f.root)...)
	if st != 200 || b != `{"valid":false,"code":"NOT_FOUND"}`+"\n" {
		t.Fatalf("not found: got %d %q, want only valid and code", st, b)
	}
	for body, field := range map[string]string{`{"key":"k","cost":-1}`: "cost", `{"key":1}`: "key", `{}`: "key", `{"key":"k","cost":1.5}`: "cost"} {
		st, b, _ := f.call(t, "POST", "/v1/keys/verify", body, bearer(f.root)...)
		if st != 400 || problem(t, b).Errors[field] == "" {
			t.Errorf("%s: got %d %s, want 400 naming %s", body, st, b, field)
		}
	}
	// an api key may not call verify itself
	if st, _, _ := f.call(t, "POST", "/v1/keys/verify", `{"key":"`+secret+`"}`, bearer(f.apiKey)...); st != 403 {
		t.Fatalf("api key caller: got %d, want 403", st)
	}
}

// GET /v1/keys: every filter reaches the store, each bad parameter is named.
func TestListKeysQuery(t *testing.T) {
	f := MustFixture(t)
	var got latchkey.KeyFilter
	f.keys.FindKeysFn = func(ctx context.Context, kf latchkey.KeyFilter) ([]*latchkey.Key, string, error) {
		got = kf
		return []*latchkey.Key{{ID: 3}}, "next-page", nil
	}
	st, b, _ := f.call(t, "GET", "/v1/keys?status=revoked&kind=api&owner_email=a@b.test&q=acme&limit=10&cursor=abc", "", bearer(f.root)...)
	if st != 200 || !strings.Contains(b, `"next_cursor":"next-page"`) {
		t.Fatalf("got %d %s", st, b)
	}
	if *got.Status != latchkey.StatusRevoked || *got.Kind != latchkey.KindAPI || *got.OwnerEmail != "a@b.test" || *got.Query != "acme" || got.Limit != 10 || got.Cursor != "abc" {
		t.Fatalf("filter: got %+v", got)
	}
	for q, field := range map[string]string{"status=gone": "status", "kind=x": "kind", "limit=0": "limit", "limit=abc": "limit", "limit=5000": "limit",
		"stauts=active": "stauts", "cursor=%%%garbage": "query"} {
		st, b, _ := f.call(t, "GET", "/v1/keys?"+q, "", bearer(f.root)...)
		if st != 400 || problem(t, b).Errors[field] == "" {
			t.Errorf("%s: got %d %s, want 400 naming %s", q, st, b, field)
		}
	}
}

// An unknown /v1/ route is a problem+json 404.
func TestUnknownRouteIsProblem(t *testing.T) {
	f := MustFixture(t)
	st, b, _ := f.call(t, "GET", "/v1/nope", "", bearer(f.root)...)
	if st != 404 || problem(t, b).Code != "not_found" {
		t.Fatalf("got %d %s", st, b)
	}
}

// Health, readiness, the document and /metrics answer without
// credentials.
func TestHealthAndMetrics(t *testing.T) {
	f := MustFixture(t)
	for _, p := range []string{"/healthz", "/readyz", "/openapi.json"} {
		if st, b, _ := f.call(t, "GET", p, ""); st != 200 {
			t.Errorf("%s: got %d %s", p, st, b)
		}
	}
	f.verifier.VerifyFn = func(ctx context.Context, accountID int64, req *latchkey.VerifyRequest) (*latchkey.VerifyResult, error) {
		return &latchkey.VerifyResult{Code: latchkey.CodeRevoked}, nil
	}
	f.call(t, "POST", "/v1/keys/verify", `{"key":"lk_x"}`, bearer(f.root)...)
	_, b, _ := f.call(t, "GET", "/metrics", "")
	for _, want := range []string{`latchkey_verifications_total{code="REVOKED"} 1`, "latchkey_verify_duration_seconds_bucket"} {
		if !strings.Contains(b, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// A known path under another method is a 405 with Allow.
func TestMethodNotAllowed(t *testing.T) {
	f := MustFixture(t)
	st, b, h := f.call(t, "PUT", "/v1/keys/1", `{}`, bearer(f.root)...)
	if st != 405 || problem(t, b).Code != "method_not_allowed" || !strings.Contains(h.Get("Allow"), "PATCH") {
		t.Fatalf("got %d %s Allow=%q, want 405 allowing PATCH", st, b, h.Get("Allow"))
	}
}

// Creating or changing a root key needs account:admin.
func TestRootKeysNeedAccountAdmin(t *testing.T) {
	f := MustFixture(t)
	writer, _, _ := latchkey.NewSecret("lk")
	prev := f.verifier.AuthenticateFn
	f.verifier.AuthenticateFn = func(ctx context.Context, secret string) (*latchkey.VerifyKey, error) {
		if secret == writer {
			return &latchkey.VerifyKey{KeyID: 11, AccountID: 7, Kind: latchkey.KindRoot, Enabled: true,
				Permissions: []string{latchkey.PermKeysRead, latchkey.PermKeysWrite}}, nil
		}
		return prev(ctx, secret)
	}
	f.keys.FindKeyByIDFn = func(ctx context.Context, accountID, id int64) (*latchkey.Key, error) {
		kind := latchkey.KindAPI
		if id == 1 {
			kind = latchkey.KindRoot
		}
		return &latchkey.Key{ID: id, Kind: kind}, nil
	}
	f.keys.UpdateKeyFn = func(ctx context.Context, accountID, id int64, u *latchkey.KeyUpdate) (*latchkey.Key, error) {
		return &latchkey.Key{ID: id}, nil
	}
	f.keys.CreateKeyFn = func(ctx context.Context, accountID int64, c *latchkey.KeyCreate) (*latchkey.Key, string, error) {
		return &latchkey.Key{ID: 5}, "lk_x", nil
	}
	for _, tt := range []struct {
		method, path, body string
		want               int
	}{
		{"POST", "/v1/keys", `{"kind":"root","permissions":["account:admin"]}`, 403},
		{"POST", "/v1/keys", `{"kind":"api"}`, 201},
		{"PATCH", "/v1/keys/1", `{"permissions":["account:admin"]}`, 403},
		{"POST", "/v1/keys/1/revoke", ``, 403},
		{"PATCH", "/v1/keys/2", `{"name":"ok"}`, 200},
	} {
		if st, b, _ := f.call(t, tt.method, tt.path, tt.body, bearer(writer)...); st != tt.want {
			t.Errorf("%s %s: got %d %s, want %d", tt.method, tt.path, st, b, tt.want)
		}
	}
	// with account:admin the same root-key changes go through (key 1 is
	// f.root itself, so change another root key)
	f.keys.FindKeyByIDFn = func(ctx context.Context, accountID, id int64) (*latchkey.Key, error) {
		return &latchkey.Key{ID: id, Kind: latchkey.KindRoot}, nil
	}
	if st, b, _ := f.call(t, "PATCH", "/v1/keys/6", `{"name":"x"}`, bearer(f.root)...); st != 200 {
		t.Fatalf("admin: got %d %s, want 200", st, b)
	}
}

// A root key may rotate itself and forget its devices, nothing else of
// its own.
func TestRootKeyCannotLockItselfOut(t *testing.T) {
	f := MustFixture(t)
	f.keys.FindKeyByIDFn = func(ctx context.Context, accountID, id int64) (*latchkey.Key, error) {
		return &latchkey.Key{ID: id, Kind: latchkey.KindRoot}, nil
	}
	f.keys.DeleteKeyFn = func(ctx context.Context, accountID, id int64) error { return nil }
	f.keys.RotateKeyFn = func(ctx context.Context, accountID, id int64, grace time.Duration) (*latchkey.Key, string, error) {
		return &latchkey.Key{ID: id}, "lk_new", nil
	}
	f.keys.DeleteDeviceFn = func(ctx context.Context, accountID, keyID int64, deviceID string) error { return nil }
	for _, tt := range []struct {
		method, path, body string
		want               int
	}{
		{"DELETE", "/v1/keys/1/devices/laptop", "", 204},
		{"DELETE", "/v1/keys/1", "", 409},
		{"POST", "/v1/keys/1/revoke", "", 409},
		{"PATCH", "/v1/keys/1", `{"enabled":false}`, 409},
		{"POST", "/v1/keys/1/rotate", "", 200},
		{"DELETE", "/v1/keys/5", "", 204},
	} {
		if st, b, _ := f.call(t, tt.method, tt.path, tt.body, bearer(f.root)...); st != tt.want {
			t.Errorf("%s %s: got %d %s, want %d", tt.method, tt.path, st, b, tt.want)
		}
	}
}

// Every bad field of a body is named, and a secret used as a field name
// is not echoed.
func TestEveryBadFieldIsNamed(t *testing.T) {
	f := MustFixture(t)
	st, b, _ := f.call(t, "PATCH", "/v1/keys/3", `{"name":null,"enabled":null,"max_devices":"x","zzz":1}`, bearer(f.root)...)
	p := problem(t, b)
	if st != 400 || len(p.Errors) != 4 {
		t.Fatalf("got %d %+v, want 400 naming 4 fields", st, p.Errors)
	}
	secret, _, _ := latchkey.NewSecret("lk")
	_, b, _ = f.call(t, "POST", "/v1/keys", `{"`+secret+`":1}`, bearer(f.root)...)
	if strings.Contains(b, secret) {
		t.Fatalf("an unknown field that is a secret was echoed: %s", b)
	}
	if st, b, _ := f.call(t, "POST", "/v1/keys/1/rotate", `{"grace_seconds":18446744074}`, bearer(f.root)...); st != 400 {
		t.Fatalf("huge grace: got %d %s, want 400", st, b)
	}
	if st, _, h := f.call(t, "GET", "/v1/keys/verify", "", bearer(f.root)...); st != 405 || h.Get("Allow") != "POST" {
		t.Fatalf("GET verify: got %d, want 405 Allow: POST", st)
	}
}

// A request whose client went away is logged at debug, whatever failed
// for it; the same failure with the client still there is an ERROR.
func TestAbandonedRequestIsNotAnError(t *testing.T) {
	logs := &testenv.Buffer{}
	f := MustFixture(t, func(s *lkhttp.Server) {
		s.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	f.keys.FindKeyByIDFn = func(ctx context.Context, accountID, id int64) (*latchkey.Key, error) {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("find key: %w", err) // as a store call queued when the client left
		}
		return nil, errors.New("find key: disk I/O error")
	}
	h := f.srv.Config.Handler
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequest("GET", "/v1/keys/1", nil).WithContext(ctx)
	req.Header.Set("Authorization", "Bearer "+f.root)
	h.ServeHTTP(httptest.NewRecorder(), req)
	if out := logs.String(); strings.Contains(out, "level=ERROR") || !strings.Contains(out, `level=DEBUG msg="request abandoned by its client"`) {
		t.Fatalf("logs: got %q, want the abandoned request at debug and no error", out)
	}
	f.http.MustDo(t, 500, "GET", "/v1/keys/1", "", bearer(f.root)...)
	if out := logs.String(); !strings.Contains(out, `level=ERROR msg="request failed"`) {
		t.Fatalf("logs: got %q, want the same failure with its client there as an error", out)
	}
}
