package http

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/http/auth"
	"github.com/latchkey/latchkey/internal/http/httpx"
	"github.com/latchkey/latchkey/internal/mock"
	"github.com/latchkey/latchkey/internal/testenv"
)

// Every decoder of untrusted input has a fuzz target; the seed corpus runs
// in the normal test run. A decoder may refuse input only with an
// application error, never panic or return a bare error.
func checkDecodeErr(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if code := latchkey.ErrorCode(err); code != latchkey.EINVALID {
		t.Fatalf("got code %q (%v), want %q", code, err, latchkey.EINVALID)
	}
	if latchkey.ErrorMessage(err) == "" {
		t.Fatal("error without a message")
	}
}

var keySeeds = []string{
	`{"name":"acme prod","owner_email":"ops@acme.test","permissions":["read"],"rate_limit":{"limit":10,"window_seconds":60},"max_devices":2,"credits":{"remaining":5,"refill_amount":5,"refill_interval":"day"},"meta":{"plan":"pro"},"expires_at":"2027-01-01T00:00:00Z"}`,
	`{"owner_email":null,"expires_at":null,"rate_limit":null,"credits":null,"meta":null}`,
	`{"name":1}`, `{"expires_at":"tomorrow"}`, `{"rate_limit":{"limit":"x"}}`, `{"rate_limit":{"bogus":1}}`,
	`{"status":"active"}`, `[]`, `null`, `"x"`, `{`, `{"a":1}{}`, `{"meta":[1]}`, `{"permissions":[1]}`,
	`{"max_devices":-1}`, `{"max_devices":1e400}`, `{"name":"\u0000"}`, ``,
}

// fuzzDecoder fuzzes a field-by-field decoder from the key seeds: it may
// refuse only with an invalid error, and what it accepts must validate or
// be refused the same way.
func fuzzDecoder[T any](f *testing.F, decode func([]byte) (T, error), validate func(T) error) {
	for _, s := range keySeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := decode(b)
		checkDecodeErr(t, err)
		if err == nil {
			checkDecodeErr(t, validate(v))
		}
	})
}

// FuzzDecodeKeyCreate fuzzes the create body decoder.
func FuzzDecodeKeyCreate(f *testing.F) {
	fuzzDecoder(f, decodeKeyCreate, func(c *latchkey.KeyCreate) error { return c.Validate(latchkey.SystemClock()) })
}

// FuzzDecodeKeyUpdate fuzzes the merge-patch decoder.
func FuzzDecodeKeyUpdate(f *testing.F) {
	fuzzDecoder(f, decodeKeyUpdate, (*latchkey.KeyUpdate).Validate)
}

// FuzzDecodeVerifyRequest fuzzes the verify body: refused only as invalid.
func FuzzDecodeVerifyRequest(f *testing.F) {
	for _, s := range []string{
		`{"key":"lk_x","permissions":["a"],"device_id":"d","cost":1}`, `{"key":1}`, `{"cost":-1,"key":"k"}`,
		`{"cost":0.5}`, `{"key":"k","extra":true}`, `{}`, `[]`, `{"key":"k"} {}`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var req latchkey.VerifyRequest
		err := unmarshalStrict(b, &req)
		checkDecodeErr(t, err)
		if err == nil {
			checkDecodeErr(t, req.Validate())
		}
	})
}

// The other native bodies are decoded inside their handlers, so they are
// fuzzed through the real handler on mocks that accept anything valid: a
// body may be refused only with a 4xx problem whose code the route can
// give for bad input, never a 5xx (a panic renders as 500).

const fuzzAdminSecret = "fuzz-operator-secret-0123456789"

// fuzzServer is a Server on mocks; "admin@acme.test" signs in with
// "correct horse battery" and "rt-good" is a live refresh token. It has no
// LoginLimiter: the throttle has its own tests in session_test.go.
func fuzzServer() *Server {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	fam := func(userID int64) *latchkey.SessionFamily {
		return &latchkey.SessionFamily{ID: "fam", UserID: userID, ExpiresAt: now.Add(auth.RefreshTTL)}
	}
	accounts := &mock.AccountService{
		FindAccountByNameFn: func(ctx context.Context, name string) (*latchkey.Account, error) {
			return &latchkey.Account{ID: 7, Name: name}, nil
		},
		FindAccountByIDFn: func(ctx context.Context, id int64) (*latchkey.Account, error) {
			return &latchkey.Account{ID: id, Name: "default"}, nil
		},
		CreateAccountFn: func(ctx context.Context, a *latchkey.Account) error { a.ID = 9; return nil },
	}
	users := &mock.UserService{
		FindUserByEmailFn: func(ctx context.Context, email string) (*latchkey.User, string, error) {
			if email == "admin@acme.test" {
				return &latchkey.User{ID: 1, Email: email}, "h:correct horse battery", nil
			}
			return nil, "", latchkey.Errorf(latchkey.ENOTFOUND, "no user")
		},
		FindUserByIDFn: func(ctx context.Context, id int64) (*latchkey.User, error) {
			return &latchkey.User{ID: id, Email: "member@acme.test"}, nil
		},
		CreateMemberFn: func(ctx context.Context, accountID int64, u *latchkey.User, hash string, role latchkey.Role) error {
			u.ID = 3
			return nil
		},
		SetMembershipFn: func(ctx context.Context, accountID, userID int64, role latchkey.Role) error { return nil },
		UpdateUserFn: func(ctx context.Context, id int64, u *latchkey.UserUpdate) (*latchkey.User, error) {
			return &latchkey.User{ID: id, Email: "member@acme.test"}, nil
		},
		FindMembershipsFn: func(ctx context.Context, userID int64) ([]*latchkey.Membership, error) {
			return []*latchkey.Membership{{AccountID: 7, UserID: userID, Role: latchkey.RoleMember}}, nil
		},
	}
	verifier := &mock.Verifier{}
	clock := func() time.Time { return now }
	return &Server{
		Keys: &mock.KeyService{
			FindKeyByIDFn: func(ctx context.Context, accountID, id int64) (*latchkey.Key, error) {
				return &latchkey.Key{ID: id, AccountID: accountID, Kind: latchkey.KindAPI}, nil
			},
			RevokeKeyFn: func(ctx context.Context, accountID, id int64, reason string) (*latchkey.Key, error) {
				return &latchkey.Key{ID: id, AccountID: accountID}, nil
			},
			RotateKeyFn: func(ctx context.Context, accountID, id int64, grace time.Duration) (*latchkey.Key, string, error) {
				return &latchkey.Key{ID: id, AccountID: accountID}, "lk_new", nil
			},
		},
		Permissions: &mock.PermissionService{CreatePermissionFn: func(ctx context.Context, p *latchkey.Permission) error { return nil }},
		Accounts:    accounts,
		Users:       users,
		Verifier:    verifier,
		Clock:       clock,
		Auth: &auth.Authenticator{
			Verifier: verifier,
			Accounts: accounts,
			Users:    users,
			Sessions: &mock.SessionService{
				CreateSessionFn: func(ctx context.Context, userID int64, ttl time.Duration, ip, ua string) (*latchkey.SessionFamily, string, error) {
					return fam(userID), "rt-new", nil
				},
				RefreshSessionFn: func(ctx context.Context, tok string) (*latchkey.SessionFamily, string, error) {
					if tok != "rt-good" {
						return nil, "", latchkey.Errorf(latchkey.EUNAUTHORIZED, "invalid refresh token")
					}
					return fam(1), "rt-next", nil
				},
			},
			Passwords: &mock.PasswordHasher{
				HashFn:   func(pw string) (string, error) { return "h:" + pw, nil },
				VerifyFn: func(enc, pw string) (bool, error) { return enc == "h:"+pw, nil },
			},
			SecretKey:   []byte("0123456789abcdef0123456789abcdef"),
			AdminSecret: fuzzAdminSecret,
			Clock:       clock,
		},
	}
}

// bodyRoute is one native route whose JSON body is fuzzed.
type bodyRoute struct {
	method, path string
	operator     bool     // send X-Admin-Secret
	valid        []string // bodies that must succeed (2xx)
	invalid      []string // bodies that must be refused with 400
	refusals     []string // codes besides invalid and too_large the route may answer
}

// commonBodySeeds are shapes every route must refuse or accept cleanly.
var commonBodySeeds = []string{
	``, ` `, `{}`, `[]`, `null`, `"x"`, `1`, `{`, `}`, `{"a":1}{}`, `{} {}`, `{"a":1}`, `{"":null}`,
	`{"name":"\u0000"}`, `{"email":"\ud800"}`, `{"role":"admin","role":"member"}`, "\xff\xfe{}",
	`{"` + strings.Repeat("k", 60) + `":1}`, `{"x":` + strings.Repeat("[", 100) + `}`,
}

// maxFuzzBody bounds the fuzzed bodies (cut without a branch, so length
// alone is never new coverage): an input past httpx.MaxBodyBytes would reach the
// 413 path, and minimizing a 64 KiB input takes the whole -fuzzminimizetime
// (a minute by default) with no other progress. Every length rule of these
// bodies is far below it; the 413 is checked once before fuzzing.
const maxFuzzBody = 4 << 10

// fuzzBody fuzzes a route's body through the handler.
func fuzzBody(f *testing.F, rt bodyRoute) {
	h := testenv.HTTP{Handler: fuzzServer().Handler(), Header: http.Header{"Content-Type": {"application/json"}}}
	if rt.operator {
		h.Header.Set("X-Admin-Secret", fuzzAdminSecret)
	}
	serve := func(tb testing.TB, b []byte) *testenv.Response { return h.Do(tb, rt.method, rt.path, b) }
	for _, s := range rt.valid {
		if rec := serve(f, []byte(s)); rec.Status/100 != 2 {
			f.Fatalf("%s %s %s: got %d %s, want 2xx", rt.method, rt.path, s, rec.Status, rec.Body)
		}
	}
	for _, s := range rt.invalid {
		if rec := serve(f, []byte(s)); rec.Status != http.StatusBadRequest {
			f.Fatalf("%s %s %s: got %d %s, want 400", rt.method, rt.path, s, rec.Status, rec.Body)
		}
	}
	// Past the limit is a 413, checked here rather than fuzzed.
	if rec := serve(f, []byte(`{"name":"`+strings.Repeat("a", httpx.MaxBodyBytes)+`"}`)); rec.Status != http.StatusRequestEntityTooLarge {
		f.Fatalf("%s %s with a body past %d bytes: got %d %s, want 413", rt.method, rt.path, httpx.MaxBodyBytes, rec.Status, rec.Body)
	}
	for _, s := range slices.Concat(rt.valid, rt.invalid, commonBodySeeds) {
		f.Add([]byte(s))
	}
	allowed := append([]string{latchkey.EINVALID, latchkey.ETOOLARGE}, rt.refusals...)
	f.Fuzz(func(t *testing.T, b []byte) {
		rec := serve(t, b[:min(len(b), maxFuzzBody)])
		if rec.Status >= 500 {
			t.Fatalf("status: got %d (%s), want no 5xx for any body", rec.Status, rec.Body)
		}
		if rec.Status < 400 {
			return
		}
		if ct := rec.Header.Get("Content-Type"); ct != "application/problem+json" {
			t.Fatalf("content type: got %q, want application/problem+json", ct)
		}
		var p Problem
		if err := json.Unmarshal(rec.Body, &p); err != nil {
			t.Fatalf("body: got %q, want a problem document", rec.Body)
		}
		if !slices.Contains(allowed, p.Code) {
			t.Fatalf("code: got %q (%s), want one of %v", p.Code, p.Detail, allowed)
		}
		if p.Status != rec.Status || rec.Status != ErrorStatus(&latchkey.Error{Code: p.Code}) {
			t.Fatalf("status: got %d in the document and %d on the wire, want %d for %q", p.Status, rec.Status, ErrorStatus(&latchkey.Error{Code: p.Code}), p.Code)
		}
		if p.Detail == "" {
			t.Fatal("problem without a detail")
		}
		if strings.Contains(p.Detail, "Go struct") || strings.Contains(p.Detail, "json: ") {
			t.Fatalf("detail %q speaks Go, not to the caller", p.Detail)
		}
	})
}

// FuzzRevokeBody fuzzes POST /v1/keys/{id}/revoke through its handler.
func FuzzRevokeBody(f *testing.F) {
	fuzzBody(f, bodyRoute{method: "POST", path: "/v1/keys/5/revoke", operator: true,
		valid:   []string{``, `{}`, `{"reason":"leaked"}`, `{"reason":""}`},
		invalid: []string{`{"reason":1}`, `{"reason":null,"why":"x"}`, `{"reason":"` + strings.Repeat("r", 501) + `"}`, `[]`, `{"reason":"a"} {}`},
	})
}

// FuzzRotateBody fuzzes POST /v1/keys/{id}/rotate through its handler.
func FuzzRotateBody(f *testing.F) {
	fuzzBody(f, bodyRoute{method: "POST", path: "/v1/keys/5/rotate", operator: true,
		valid:   []string{``, `{}`, `{"grace_seconds":0}`, `{"grace_seconds":3600}`, `{"grace_seconds":2592000}`},
		invalid: []string{`{"grace_seconds":-1}`, `{"grace_seconds":1e2}`, `{"grace_seconds":2592001}`, `{"grace_seconds":1.5}`, `{"grace_seconds":"60"}`, `{"grace_seconds":1e400}`, `{"grace_seconds":18446744074}`, `{"grace":60}`},
	})
}

// FuzzCreatePermissionBody fuzzes POST /v1/permissions through its
// handler.
func FuzzCreatePermissionBody(f *testing.F) {
	fuzzBody(f, bodyRoute{method: "POST", path: "/v1/permissions", operator: true,
		valid:   []string{`{"name":"reports:read"}`, `{"name":"a.b-c_d*","description":"all"}`},
		invalid: []string{``, `{}`, `{"name":""}`, `{"name":"a b"}`, `{"name":"` + strings.Repeat("n", 101) + `"}`, `{"name":1}`, `{"name":"ok","description":"` + strings.Repeat("d", 2001) + `"}`},
	})
}

// FuzzLoginBody fuzzes POST /v1/auth/login through its handler.
func FuzzLoginBody(f *testing.F) {
	fuzzBody(f, bodyRoute{method: "POST", path: "/v1/auth/login",
		valid:    []string{`{"email":"admin@acme.test","password":"correct horse battery"}`, `{"email":" ADMIN@acme.test","password":"correct horse battery"}`},
		invalid:  []string{``, `{}`, `{"email":"admin@acme.test"}`, `{"password":"x"}`, `{"email":1,"password":"x"}`, `{"email":"a@b.test","password":"` + strings.Repeat("p", 257) + `"}`, `{"email":"a@b.test","password":"x","remember":true}`},
		refusals: []string{latchkey.EUNAUTHORIZED},
	})
}

// FuzzRefreshBody fuzzes POST /v1/auth/refresh through its handler.
func FuzzRefreshBody(f *testing.F) {
	fuzzBody(f, bodyRoute{method: "POST", path: "/v1/auth/refresh",
		valid:    []string{`{"refresh_token":"rt-good"}`},
		invalid:  []string{`{"refresh_token":1}`, `{"token":"rt-good"}`, `[]`},
		refusals: []string{latchkey.EUNAUTHORIZED},
	})
}

// FuzzCreateAccountBody fuzzes POST /v1/accounts through its handler.
func FuzzCreateAccountBody(f *testing.F) {
	fuzzBody(f, bodyRoute{method: "POST", path: "/v1/accounts", operator: true,
		valid:   []string{`{"name":"globex"}`, `{"name":"Globex Corp","key_prefix":"gx2"}`},
		invalid: []string{``, `{}`, `{"name":""}`, `{"name":"42"}`, `{"name":"x","key_prefix":"Bad"}`, `{"name":"x","key_prefix":"2x"}`, `{"name":"` + strings.Repeat("a", 101) + `"}`, `{"name":["x"]}`},
	})
}

// FuzzCreateUserBody fuzzes POST /v1/users through its handler.
func FuzzCreateUserBody(f *testing.F) {
	fuzzBody(f, bodyRoute{method: "POST", path: "/v1/users", operator: true,
		valid:   []string{`{"email":"new@acme.test","password":"long enough password"}`, `{"email":"boss@acme.test","name":"Boss","password":"long enough password","role":"admin"}`},
		invalid: []string{``, `{}`, `{"email":"bad","password":"long enough password"}`, `{"email":"a@acme.test","password":"short"}`, `{"email":"a@acme.test","password":"long enough password","role":"owner"}`, `{"email":"a@acme.test","password":"long enough password","role":null,"x":1}`},
	})
}

// FuzzSetMemberBody fuzzes PUT /v1/accounts/{id}/members/{user_id}
// through its handler.
func FuzzSetMemberBody(f *testing.F) {
	fuzzBody(f, bodyRoute{method: "PUT", path: "/v1/accounts/7/members/2", operator: true,
		valid:   []string{`{"role":"admin"}`, `{"role":"member"}`},
		invalid: []string{``, `{}`, `{"role":""}`, `{"role":"owner"}`, `{"role":"ADMIN"}`, `{"role":1}`, `{"role":"admin","user_id":3}`},
	})
}

// FuzzUpdateUserBody fuzzes PATCH /v1/users/{id} through its handler.
func FuzzUpdateUserBody(f *testing.F) {
	fuzzBody(f, bodyRoute{method: "PATCH", path: "/v1/users/2", operator: true,
		valid:   []string{`{}`, `{"name":"Ada"}`, `{"disabled":true}`, `{"disabled":false,"name":null}`, `{"password":"long enough password"}`},
		invalid: []string{``, `{"name":1}`, `{"disabled":"yes"}`, `{"password":"short"}`, `{"password":"` + strings.Repeat("p", 257) + `"}`, `{"name":"` + strings.Repeat("n", 201) + `"}`, `{"email":"a@b.test"}`},
	})
}

// FuzzChangePasswordBody fuzzes POST /v1/auth/password through its handler:
// the operator's body is decoded, then refused (only a user has one).
func FuzzChangePasswordBody(f *testing.F) {
	fuzzBody(f, bodyRoute{method: "POST", path: "/v1/auth/password", operator: true,
		invalid:  []string{``, `{"current":1}`, `{"current":"a","new":"b","old":"c"}`, `[]`},
		refusals: []string{latchkey.EFORBIDDEN},
	})
}
