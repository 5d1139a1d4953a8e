package compat_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	lkhttp "github.com/latchkey/latchkey/internal/http"
	"github.com/latchkey/latchkey/internal/http/auth"
	"github.com/latchkey/latchkey/internal/http/compat"
	"github.com/latchkey/latchkey/internal/mock"
	"github.com/latchkey/latchkey/internal/testenv"
)

const (
	adminSecret = "operator-secret-0123456789"
	password    = "correct horse battery staple"
	userAgent   = "compat-test/1.0"
)

// t0 is the fixture's "now": sessions, expiries and status:"expired" use it.
var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// Accounts 7 ("default") and 8 ("beta"). Users: admin@acme.test is an admin
// of 7, member@acme.test a member of 7, beta@beta.test an admin of 8.
var (
	accounts = map[int64]*latchkey.Account{7: {ID: 7, Name: "default"}, 8: {ID: 8, Name: "beta"}}
	users    = map[string]*latchkey.User{
		"admin@acme.test":  {ID: 1, Email: "admin@acme.test"},
		"member@acme.test": {ID: 2, Email: "member@acme.test"},
		"beta@beta.test":   {ID: 3, Email: "beta@beta.test"},
	}
	memberships = map[int64][]*latchkey.Membership{
		1: {{AccountID: 7, UserID: 1, Role: latchkey.RoleAdmin}},
		2: {{AccountID: 7, UserID: 2, Role: latchkey.RoleMember}},
		3: {{AccountID: 8, UserID: 3, Role: latchkey.RoleAdmin}},
	}
	// catalogue is account 7's permission catalogue ("string" makes the
	// seed 002 example request valid as written).
	catalogue = map[string]bool{"readApplications": true, "writeApplications": true, "string": true}
)

// session is what POST /v1/auth/login answered for a user.
type session struct {
	Access string `json:"access_token"`
	CSRF   string `json:"csrf_token"`
}

// updateCall is one UpdateKey call as the fake saw it.
type updateCall struct {
	AccountID, ID int64
	Update        latchkey.KeyUpdate
	Actor         latchkey.Actor
}

// fixture is a Server on mocks serving the seed surfaces, with a fake key
// store behind mock.KeyService, signed-in users and bearer credentials.
type fixture struct {
	srv      *httptest.Server
	http     testenv.HTTP // requests to srv, with the fixture's User-Agent
	keys     *mock.KeyService
	users    *mock.UserService
	accounts *mock.AccountService
	verifier *mock.Verifier
	logs     *testenv.Buffer // everything the server and the surfaces log

	mu      sync.Mutex
	stored  map[int64]*latchkey.Key // by id; AccountID says whose
	secrets map[latchkey.SecretHash]int64
	calls   []updateCall

	admin, member, beta    session
	root, readOnly, apiKey string // bearer secrets of account 7
	writer                 string // a root key of account 7 with keys:write but not account:admin
	revokedRoot            string
	keySecret              string // secret of key 123
}

func MustFixture(tb testing.TB) *fixture {
	tb.Helper()
	f := &fixture{keys: &mock.KeyService{}, stored: map[int64]*latchkey.Key{}, secrets: map[latchkey.SecretHash]int64{},
		logs: &testenv.Buffer{}}
	logger := slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f.root, _, _ = latchkey.NewSecret("lk")
	f.readOnly, _, _ = latchkey.NewSecret("lk")
	f.apiKey, _, _ = latchkey.NewSecret("lk")
	f.revokedRoot, _, _ = latchkey.NewSecret("lk")
	f.writer, _, _ = latchkey.NewSecret("lk")
	past := t0.Add(-time.Hour)
	creds := map[string]*latchkey.VerifyKey{
		f.root:        {KeyID: 1, AccountID: 7, Kind: latchkey.KindRoot, Enabled: true, Permissions: latchkey.RootPermissions},
		f.readOnly:    {KeyID: 2, AccountID: 7, Kind: latchkey.KindRoot, Enabled: true, Permissions: []string{latchkey.PermKeysRead}},
		f.apiKey:      {KeyID: 3, AccountID: 7, Kind: latchkey.KindAPI, Enabled: true},
		f.writer:      {KeyID: 5, AccountID: 7, Kind: latchkey.KindRoot, Enabled: true, Permissions: []string{latchkey.PermKeysRead, latchkey.PermKeysWrite}},
		f.revokedRoot: {KeyID: 4, AccountID: 7, Kind: latchkey.KindRoot, Enabled: true, RevokedAt: &past, Permissions: latchkey.RootPermissions},
	}
	verifier := &mock.Verifier{AuthenticateFn: func(ctx context.Context, secret string) (*latchkey.VerifyKey, error) {
		if k, ok := creds[secret]; ok {
			return k, nil
		}
		return nil, latchkey.Errorf(latchkey.EUNAUTHORIZED, "invalid credential")
	}}
	accountSvc := &mock.AccountService{
		FindAccountByIDFn: func(ctx context.Context, id int64) (*latchkey.Account, error) {
			if a, ok := accounts[id]; ok {
				return a, nil
			}
			return nil, latchkey.Errorf(latchkey.ENOTFOUND, "account not found")
		},
		FindAccountByNameFn: func(ctx context.Context, name string) (*latchkey.Account, error) {
			for _, a := range accounts {
				if a.Name == name {
					return a, nil
				}
			}
			return nil, latchkey.Errorf(latchkey.ENOTFOUND, "account not found")
		},
	}
	families := map[string]*latchkey.SessionFamily{}
	var famMu sync.Mutex
	sessions := &mock.SessionService{
		CreateSessionFn: func(ctx context.Context, userID int64, ttl time.Duration, ip, ua string) (*latchkey.SessionFamily, string, error) {
			famMu.Lock()
			defer famMu.Unlock()
			fam := &latchkey.SessionFamily{ID: "family-" + string(rune('0'+userID)), UserID: userID, CreatedAt: t0, ExpiresAt: t0.Add(ttl)}
			families[fam.ID] = fam
			return fam, "refresh-" + fam.ID, nil
		},
		FindSessionFamilyFn: func(ctx context.Context, id string) (*latchkey.SessionFamily, error) {
			famMu.Lock()
			defer famMu.Unlock()
			if fam, ok := families[id]; ok {
				return fam, nil
			}
			return nil, latchkey.Errorf(latchkey.ENOTFOUND, "no such family")
		},
	}
	userSvc := &mock.UserService{
		FindUserByEmailFn: func(ctx context.Context, email string) (*latchkey.User, string, error) {
			if u, ok := users[email]; ok {
				return u, "encoded-hash", nil
			}
			return nil, "", latchkey.Errorf(latchkey.ENOTFOUND, "no such user")
		},
		FindUserByIDFn: func(ctx context.Context, id int64) (*latchkey.User, error) {
			for _, u := range users {
				if u.ID == id {
					return u, nil
				}
			}
			return nil, latchkey.Errorf(latchkey.ENOTFOUND, "no such user")
		},
		FindMembershipsFn: func(ctx context.Context, userID int64) ([]*latchkey.Membership, error) {
			return memberships[userID], nil
		},
	}
	hasher := &mock.PasswordHasher{
		HashFn:   func(pw string) (string, error) { return "dummy", nil },
		VerifyFn: func(encoded, pw string) (bool, error) { return pw == password, nil },
	}
	clock := func() time.Time { return t0 }
	f.users, f.accounts, f.verifier = userSvc, accountSvc, verifier
	authn := &auth.Authenticator{Accounts: accountSvc, Verifier: verifier, Users: userSvc, Sessions: sessions,
		Passwords: hasher, SecretKey: []byte("0123456789abcdef0123456789abcdef"), AdminSecret: adminSecret, Clock: clock}
	s := &lkhttp.Server{Keys: f.keys, Accounts: accountSvc, Verifier: verifier, Users: userSvc, Auth: authn, Clock: clock,
		Logger: logger}
	s.Surfaces = []lkhttp.Surface{&compat.Surfaces{Auth: authn, Keys: f.keys, Clock: clock, Logger: logger}}
	f.srv = httptest.NewServer(s.Handler())
	tb.Cleanup(f.srv.Close)
	f.http = testenv.HTTP{URL: f.srv.URL, Header: http.Header{"User-Agent": {userAgent}}}
	f.fakeStore()

	f.admin = f.login(tb, "admin@acme.test")
	f.member = f.login(tb, "member@acme.test")
	f.beta = f.login(tb, "beta@beta.test")

	owner := "ops@acme.test"
	f.keySecret = f.addKey(&latchkey.Key{ID: 123, AccountID: 7, Kind: latchkey.KindAPI, Name: "acme prod", OwnerEmail: &owner,
		Enabled: true, CreatedAt: t0.Add(-24 * time.Hour), UpdatedAt: t0.Add(-24 * time.Hour), CreatedIP: "203.0.113.9",
		UserAgent: "curl/8.5.0", Permissions: []string{}, Start: "lk_Ab3x"})
	f.storeKey(f.root, &latchkey.Key{ID: 1, AccountID: 7, Kind: latchkey.KindRoot, Enabled: true, CreatedAt: t0,
		Permissions: latchkey.RootPermissions})
	f.storeKey(f.writer, &latchkey.Key{ID: 5, AccountID: 7, Kind: latchkey.KindRoot, Enabled: true, CreatedAt: t0,
		Permissions: []string{latchkey.PermKeysRead, latchkey.PermKeysWrite}})
	f.addKey(&latchkey.Key{ID: 42, AccountID: 7, Kind: latchkey.KindAPI, Enabled: true, CreatedAt: t0, Permissions: []string{}})
	f.addKey(&latchkey.Key{ID: 800, AccountID: 8, Kind: latchkey.KindAPI, Enabled: true, CreatedAt: t0, Permissions: []string{}})
	return f
}

// addKey stores a key with a fresh secret and returns the secret.
func (f *fixture) addKey(k *latchkey.Key) string {
	secret, _, _ := latchkey.NewSecret("lk")
	f.storeKey(secret, k)
	return secret
}

// storeKey stores a key with the given secret.
func (f *fixture) storeKey(secret string, k *latchkey.Key) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stored[k.ID] = k
	f.secrets[latchkey.HashSecret(secret)] = k.ID
}

// key returns a copy of a stored key.
func (f *fixture) key(id int64) latchkey.Key {
	f.mu.Lock()
	defer f.mu.Unlock()
	return *f.stored[id]
}

// updates returns the UpdateKey calls so far.
func (f *fixture) updates() []updateCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]updateCall(nil), f.calls...)
}

// fakeStore makes the KeyService mock behave like the store for the calls
// the seed surfaces make: lookups scoped to an account, and a merge patch
// that validates, checks the permission catalogue and records its actor.
func (f *fixture) fakeStore() {
	find := func(accountID, id int64) (*latchkey.Key, error) {
		k, ok := f.stored[id]
		if !ok || k.AccountID != accountID {
			return nil, latchkey.Errorf(latchkey.ENOTFOUND, "key %d not found", id)
		}
		return k, nil
	}
	f.keys.FindKeyByIDFn = func(ctx context.Context, accountID, id int64) (*latchkey.Key, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		k, err := find(accountID, id)
		if err != nil {
			return nil, err
		}
		c := *k
		return &c, nil
	}
	f.keys.FindKeyBySecretFn = func(ctx context.Context, accountID int64, hash latchkey.SecretHash) (*latchkey.Key, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		k, err := find(accountID, f.secrets[hash])
		if err != nil {
			return nil, latchkey.Errorf(latchkey.ENOTFOUND, "key not found")
		}
		c := *k
		return &c, nil
	}
	f.keys.UpdateKeyFn = func(ctx context.Context, accountID, id int64, u *latchkey.KeyUpdate) (*latchkey.Key, error) {
		if err := u.Validate(); err != nil {
			return nil, err
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		f.calls = append(f.calls, updateCall{AccountID: accountID, ID: id, Update: *u, Actor: latchkey.ActorFromContext(ctx)})
		k, err := find(accountID, id)
		if err != nil {
			return nil, err
		}
		if u.Permissions != nil {
			for _, p := range *u.Permissions {
				if !catalogue[p] {
					return nil, latchkey.FieldError("permissions", "unknown permission %q", p)
				}
			}
		}
		apply(k, u)
		k.UpdatedAt = t0
		c := *k
		return &c, nil
	}
}

// apply is the store's merge patch, with the status the store derives.
func apply(k *latchkey.Key, u *latchkey.KeyUpdate) {
	u.Apply(k, t0)
	k.Status = k.StatusAt(t0)
}

// login signs a user in through POST /v1/auth/login and returns the tokens.
func (f *fixture) login(tb testing.TB, email string) session {
	tb.Helper()
	s := f.http.MustLogin(tb, email, password)
	return session{Access: s.AccessToken, CSRF: s.CSRFToken}
}

// do sends a request with header pairs (see testenv.HTTP.Do) and returns
// the status, body and response headers. Curl cannot send Secure cookies
// over plain HTTP from its jar either, so cookies go in an explicit Cookie
// header.
func (f *fixture) do(tb testing.TB, method, path, body string, headers ...string) (int, string, http.Header) {
	tb.Helper()
	res := f.http.Do(tb, method, path, body, headers...)
	return res.Status, res.String(), res.Header
}

// mustDo is do, failing the test unless the status is want.
func (f *fixture) mustDo(tb testing.TB, want int, method, path, body string, headers ...string) (string, http.Header) {
	tb.Helper()
	status, got, h := f.do(tb, method, path, body, headers...)
	if status != want {
		tb.Fatalf("%s %s: got %d %s, want %d", method, path, status, got, want)
	}
	return got, h
}

// errorCase is one row of a surface's table of refusals: a request and
// the status and body it must answer.
type errorCase struct {
	name    string
	path    string
	body    string
	headers []string
	status  int
	want    string // "" for no body
}

// runErrorCases sends each case with method and compares its body with
// MustJSONEqual after normalize (nil: none).
func (f *fixture) runErrorCases(t *testing.T, method string, cases []errorCase, normalize func(testing.TB, string) string) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			got, h := f.mustDo(t, tt.status, method, tt.path, tt.body, tt.headers...)
			if tt.want == "" {
				if got != "" {
					t.Fatalf("body: got %q, want none", got)
				}
				return
			}
			if normalize != nil {
				got = normalize(t, got)
			}
			MustJSONEqual(t, got, tt.want)
			if ct := h.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type: got %q, want application/json", ct)
			}
		})
	}
}

// surfaceRequest is a request to one seed surface and the body it must answer.
type surfaceRequest struct {
	name, method, path, body string
	headers                  []string
	want                     string
}

// updateRequests is one update request to each surface that passes every
// check before the store is reached, with the body each must answer;
// secret is the seed 003 token in the path.
func updateRequests(f *fixture, secret string, want000, want001, want002, want003 string) []surfaceRequest {
	return []surfaceRequest{
		{"seed 000", "PATCH", "/api/admin/api-tokens/123", `{"status":"revoked"}`,
			hdrs([]string{"X-CSRF-Token", f.admin.CSRF}, cookie(f.admin)), want000},
		{"seed 001", "PATCH", "/admin/api-keys/42", `{"is_active":false}`, []string{"X-Admin-Secret", adminSecret}, want001},
		{"seed 002", "PATCH", "/apikeys/42", `{"description":"d","flatPermissionsList":[]}`,
			[]string{"Authorization", "Bearer " + f.admin.Access}, want002},
		{"seed 003", "PUT", "/api/admin/api-tokens/" + secret, `{"expiresAt":"2027-01-01T00:00:00Z"}`,
			[]string{"Authorization", f.root, "Content-Type", "application/json"}, want003},
	}
}

// runSurfaceRequests sends each request, wanting status and its body (an
// Unleash error compared without its random id); check, when not nil,
// looks at the headers too.
func (f *fixture) runSurfaceRequests(t *testing.T, status int, reqs []surfaceRequest, check func(*testing.T, http.Header)) {
	t.Helper()
	for _, tt := range reqs {
		t.Run(tt.name, func(t *testing.T) {
			body, h := f.mustDo(t, status, tt.method, tt.path, tt.body, tt.headers...)
			if check != nil {
				check(t, h)
			}
			if strings.HasPrefix(tt.want, `{"id"`) {
				body = unleashBody(t, body)
			}
			MustJSONEqual(t, body, tt.want)
		})
	}
}

// lastUpdate returns the last UpdateKey call, failing unless there were n.
func (f *fixture) lastUpdate(tb testing.TB, n int) updateCall {
	tb.Helper()
	calls := f.updates()
	if len(calls) != n {
		tb.Fatalf("UpdateKey calls: got %d, want %d", len(calls), n)
	}
	return calls[n-1]
}

// cookie returns the header pair carrying a session's access cookie.
func cookie(s session) []string { return []string{"Cookie", "__Host-access=" + s.Access} }

// hdrs joins header pair lists.
func hdrs(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// MustJSONEqual fails unless got and want hold the same JSON value.
func MustJSONEqual(tb testing.TB, got, want string) {
	tb.Helper()
	g, w := mustDecodePair(tb, got, want)
	if !reflect.DeepEqual(g, w) {
		tb.Fatalf("body:\n got %s\nwant %s", got, want)
	}
}

// MustSameShape fails unless got has exactly the members of want, each of
// the same JSON kind (null in want stands for "string or null"), recursively
// through objects.
func MustSameShape(tb testing.TB, got, want string) {
	tb.Helper()
	g, w := mustDecodePair(tb, got, want)
	sameShape(tb, "$", g, w)
}

// mustDecodePair decodes a body and the JSON it is compared with.
func mustDecodePair(tb testing.TB, got, want string) (g, w any) {
	tb.Helper()
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		tb.Fatalf("body is not JSON: %q", got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		tb.Fatalf("bad want %q: %v", want, err)
	}
	return g, w
}

func sameShape(tb testing.TB, path string, g, w any) {
	tb.Helper()
	switch w := w.(type) {
	case map[string]any:
		gm, ok := g.(map[string]any)
		if !ok {
			tb.Fatalf("%s: got %T, want an object", path, g)
		}
		for k := range w {
			if _, ok := gm[k]; !ok {
				tb.Errorf("%s: member %q missing", path, k)
			}
		}
		for k, gv := range gm {
			wv, ok := w[k]
			if !ok {
				tb.Errorf("%s: extra member %q", path, k)
				continue
			}
			sameShape(tb, path+"."+k, gv, wv)
		}
	case string:
		if _, ok := g.(string); !ok && g != nil {
			tb.Errorf("%s: got %T, want a string (or null)", path, g)
		}
	case nil:
	default:
		if reflect.TypeOf(g) != reflect.TypeOf(w) {
			tb.Errorf("%s: got %T, want %T", path, g, w)
		}
	}
}
