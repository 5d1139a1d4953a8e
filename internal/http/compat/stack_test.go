package compat_test

import (
	"net/http"
	"sort"
	"strconv"
	"testing"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/testenv"
	"github.com/latchkey/latchkey/internal/testenv/httpstack"
)

// stack is the whole server (native API and seed surfaces) on a real
// store, for the tests that play each product's client: what they
// create must verify on /v1/keys/verify and be in the audit log.
type stack struct {
	testenv.HTTP
	root      string // the bootstrap root key (every permission)
	rootID    int64
	adminID   int64 // admin@acme.test, an admin of the default account
	logs      *testenv.Buffer
	operator  []string
	accountID int64
}

// stackPassword is admin@acme.test's password.
const stackPassword = "correct horse battery staple"

// forEachStore runs fn on a stack over SQLite and over PostgreSQL (see
// httpstack.EachStore).
func forEachStore(t *testing.T, fn func(t *testing.T, st *stack)) {
	httpstack.EachStore(t, func(t *testing.T, dsn string) { fn(t, MustStack(t, dsn)) })
}

// MustStack serves everything on a fresh store at dsn with the bootstrap
// root key and an admin user.
func MustStack(tb testing.TB, dsn string) *stack {
	tb.Helper()
	hs := httpstack.New(tb, dsn, httpstack.Options{AdminSecret: adminSecret})
	st := &stack{logs: hs.Logs, operator: []string{"X-Admin-Secret", adminSecret}}
	st.root, st.rootID, st.accountID = hs.Boot.Secret, hs.Boot.Key.ID, hs.Boot.Account.ID
	st.HTTP = testenv.HTTP{Handler: hs.Handler, RemoteAddr: "127.0.0.1:1234", Header: http.Header{"User-Agent": {userAgent}}}
	var user struct {
		ID int64 `json:"id"`
	}
	st.MustDo(tb, http.StatusCreated, "POST", "/v1/users", map[string]string{"email": "admin@acme.test", "password": stackPassword, "role": "admin"},
		st.operator...).Decode(tb, &user)
	st.adminID = user.ID
	return st
}

// mustVerify fails unless the key verifies with code want.
func (st *stack) mustVerify(tb testing.TB, secret string, want latchkey.VerifyCode) {
	tb.Helper()
	var res latchkey.VerifyResult
	st.MustDo(tb, http.StatusOK, "POST", "/v1/keys/verify", map[string]string{"key": secret}, st.operator...).Decode(tb, &res)
	if res.Code != want {
		tb.Fatalf("verify: got %s, want %s", res.Code, want)
	}
}

// mustAudit fails unless the audit log of the key holds each action, in
// order, each by the actor kind and id given.
func (st *stack) mustAudit(tb testing.TB, keyID int64, actor latchkey.ActorKind, actorID int64, actions ...string) {
	tb.Helper()
	var page struct {
		Data []latchkey.AuditEvent `json:"data"`
	}
	st.MustDo(tb, http.StatusOK, "GET", "/v1/audit?limit=1000&key_id="+strconv.FormatInt(keyID, 10), nil, st.operator...).Decode(tb, &page)
	sort.Slice(page.Data, func(i, j int) bool { return page.Data[i].ID < page.Data[j].ID })
	var got []string
	for _, ev := range page.Data {
		if ev.ActorKind != actor || ev.ActorID != actorID || ev.IP != "127.0.0.1" {
			tb.Errorf("audit %s: got actor %s %d from %q, want %s %d from 127.0.0.1", ev.Action, ev.ActorKind, ev.ActorID, ev.IP, actor, actorID)
		}
		got = append(got, ev.Action)
	}
	if len(got) != len(actions) {
		tb.Fatalf("audit of key %d: got %v, want %v", keyID, got, actions)
	}
	for i := range got {
		if got[i] != actions[i] {
			tb.Fatalf("audit of key %d: got %v, want %v", keyID, got, actions)
		}
	}
}

// mustKeyID returns the id of the one key whose name is name, through the
// native API.
func (st *stack) mustKeyID(tb testing.TB, name string) int64 {
	tb.Helper()
	var page struct {
		Data []latchkey.Key `json:"data"`
	}
	st.MustDo(tb, http.StatusOK, "GET", "/v1/keys?q="+name, nil, st.operator...).Decode(tb, &page)
	for _, k := range page.Data {
		if k.Name == name {
			return k.ID
		}
	}
	tb.Fatalf("no key named %q in %+v", name, page.Data)
	return 0
}
