package http_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/latchkey/latchkey"
	lkhttp "github.com/latchkey/latchkey/internal/http"
	"github.com/latchkey/latchkey/internal/http/compat"
	"github.com/latchkey/latchkey/internal/http/httpx"
	"github.com/latchkey/latchkey/internal/inmem"

	"github.com/latchkey/latchkey/internal/testenv"
	"github.com/latchkey/latchkey/internal/testenv/httpstack"
)

// These tests send NUL bytes and invalid UTF-8 in every place a request
// can carry a string (path values, query parameters, X-Account-ID, body
// fields at any depth) to every route, native and every seed surface, on a
// real store wired as latchkey serve wires it: SQLite always, and
// PostgreSQL, which refuses such strings, when LATCHKEY_TEST_POSTGRES_URL
// is set. Each must answer 400 naming the field in its surface's envelope;
// no route may answer 5xx or log an error, which proves the store never
// saw the bytes.

const stackAdminSecret = "strings-operator-secret-0123456789"

// stack is the whole HTTP surface on a real store, with a credential for
// every route and the ids its wildcards need.
type stack struct {
	h    http.Handler
	http testenv.HTTP // to h, in process
	logs *testenv.Buffer

	root       string // the bootstrap root key
	accountID  int64
	keyID      int64
	keySecret  string // an api key's secret, with device "d1" registered
	userID     int64  // an admin of the account
	access     string // the admin's access token
	csrf       string
	permission string // a name in the account's catalogue
}

// forEachStore runs fn on SQLite and on PostgreSQL (see
// httpstack.EachStore).
func forEachStore(t *testing.T, fn func(t *testing.T, st *stack)) {
	httpstack.EachStore(t, func(t *testing.T, dsn string) { fn(t, MustStack(t, dsn)) })
}

// MustStack serves the native API and the seed surfaces on the store at
// dsn, migrated and bootstrapped, with an api key (device d1 registered),
// a permission and a signed-in admin user.
func MustStack(tb testing.TB, dsn string) *stack {
	tb.Helper()
	hs := httpstack.New(tb, dsn, httpstack.Options{AdminSecret: stackAdminSecret, LoginLimiter: inmem.NewRateLimiter()})
	st := &stack{h: hs.Handler, http: testenv.HTTP{Handler: hs.Handler}, logs: hs.Logs, permission: "read"}
	st.root, st.accountID = hs.Boot.Secret, hs.Boot.Account.ID

	operator := []string{"X-Admin-Secret", stackAdminSecret}
	st.mustDo(tb, 201, "POST", "/v1/permissions", `{"name":"`+st.permission+`"}`, operator...)
	var key struct {
		ID     int64  `json:"id"`
		Secret string `json:"secret"`
	}
	st.mustDecode(tb, st.mustDo(tb, 201, "POST", "/v1/keys", `{"name":"acme","max_devices":2}`, operator...), &key)
	st.keyID, st.keySecret = key.ID, key.Secret
	var res latchkey.VerifyResult
	st.mustDecode(tb, st.mustDo(tb, 200, "POST", "/v1/keys/verify", `{"key":"`+key.Secret+`","device_id":"d1"}`, operator...), &res)
	if res.Code != latchkey.CodeValid {
		tb.Fatalf("verify: got %s, want VALID", res.Code)
	}
	const pw = "correct horse battery staple"
	var user struct {
		ID int64 `json:"id"`
	}
	st.mustDecode(tb, st.mustDo(tb, 201, "POST", "/v1/users", `{"email":"admin@acme.test","password":"`+pw+`","role":"admin"}`, operator...), &user)
	st.userID = user.ID
	sess := st.http.MustLogin(tb, "admin@acme.test", pw)
	st.access, st.csrf = sess.AccessToken, sess.CSRFToken
	return st
}

// do serves one request in process; a body (even an empty one) goes as
// application/json.
func (st *stack) do(tb testing.TB, method, target string, body []byte, headers ...string) *testenv.Response {
	tb.Helper()
	if body != nil {
		headers = append([]string{"Content-Type", "application/json"}, headers...)
	}
	return st.http.Do(tb, method, target, body, headers...)
}

// mustDo is do with a text body, failing unless the status is want; it
// returns the answer's body.
func (st *stack) mustDo(tb testing.TB, want int, method, target, body string, headers ...string) []byte {
	tb.Helper()
	res := st.do(tb, method, target, []byte(body), headers...)
	if res.Status != want {
		tb.Fatalf("%s %s: got %d %s, want %d", method, target, res.Status, res.Body, want)
	}
	return res.Body
}

// mustDecode decodes a JSON answer, failing the test otherwise.
func (st *stack) mustDecode(tb testing.TB, b []byte, v any) {
	tb.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		tb.Fatalf("decode %s: %v", b, err)
	}
}

// mustNotHaveFailed fails if the server logged an error (a store refusing
// a string would have).
func (st *stack) mustNotHaveFailed(tb testing.TB) {
	tb.Helper()
	for _, line := range strings.Split(st.logs.String(), "\n") {
		if strings.Contains(line, "level=ERROR") {
			tb.Errorf("the server logged an error: %s", line)
		}
	}
}

// route is one route of the server and the surface whose envelope it answers in.
type route struct {
	httpx.Route
	surface string // "native", "seed000" … "seed003"
	shared  bool   // the path answers in two surfaces
}

func (rt route) String() string { return rt.Method + " " + rt.Pattern }

// name tells a shared path's surfaces apart in subtest names.
func (rt route) name() string {
	if rt.shared {
		return rt.String() + " (" + rt.surface + ")"
	}
	return rt.String()
}

// seedSurfaces names the surfaces a seed route answers in, by its path as
// each product's document has it; a path two products share answers in
// both, the credential deciding which. None: a path this test does not know.
func seedSurfaces(rt httpx.Route) []string {
	switch p := rt.Pattern; {
	case strings.HasPrefix(p, "/admin/api-keys"):
		return []string{"seed001"}
	case strings.HasPrefix(p, "/apikeys"):
		return []string{"seed002"}
	case p == "/api/admin/api-tokens/{token}":
		return []string{"seed003"}
	case rt.Method == "PATCH" && p == "/api/admin/api-tokens/{id}":
		return []string{"seed000"}
	case strings.HasPrefix(p, "/api/admin/api-tokens"):
		return []string{"seed000", "seed003"}
	case strings.HasPrefix(p, "/api/auth/"), p == "/api/admin/me":
		return []string{"seed000"}
	}
	return nil
}

// allRoutes lists every native and seed route (a shared seed path once per
// surface); a seed route this test does not know fails it, so a new one
// cannot go untested.
func allRoutes(tb testing.TB) []route {
	tb.Helper()
	var out []route
	for _, rt := range lkhttp.NativeRoutes() {
		out = append(out, route{rt, "native", false})
	}
	for _, rt := range (&compat.Surfaces{}).Routes() {
		sfs := seedSurfaces(rt)
		if len(sfs) == 0 {
			tb.Fatalf("seed route %s %s: no surface known to this test; add it to seedSurfaces", rt.Method, rt.Pattern)
		}
		for _, sf := range sfs {
			out = append(out, route{httpx.Route{Method: rt.Method, Pattern: rt.Pattern}, sf, len(sfs) > 1})
		}
	}
	return out
}

// ignoresBody are the routes with an unsafe method that read no body.
var ignoresBody = map[string]bool{"POST /v1/auth/logout": true}

// readsBody reports whether a route reads a request body.
func (rt route) readsBody() bool {
	switch rt.Method {
	case "POST", "PUT", "PATCH":
		return !ignoresBody[rt.String()]
	}
	return false
}

// ownField is a documented string field of the route's body, besides the
// "name" and nested fields every route is sent.
var ownField = map[string]string{
	"POST /v1/keys/verify":              "device_id",
	"POST /v1/auth/login":               "email",
	"POST /v1/auth/refresh":             "refresh_token",
	"POST /v1/keys/{id}/revoke":         "reason",
	"PATCH /api/admin/api-tokens/{id}":  "owner_email",
	"PATCH /admin/api-keys/{id}":        "customer_email",
	"PATCH /apikeys/{id}":               "description",
	"PUT /api/admin/api-tokens/{token}": "expiresAt",
}

// wildcards returns the wildcard names of a route's pattern.
func (rt route) wildcards() []string {
	var names []string
	p := rt.Pattern
	for {
		i := strings.IndexByte(p, '{')
		j := strings.IndexByte(p, '}')
		if i < 0 || j < i {
			return names
		}
		names = append(names, strings.TrimSuffix(p[i+1:j], "..."))
		p = p[j+1:]
	}
}

// target fills the route's wildcards with the stack's ids, except the one
// named bad, which gets the escaped value.
func (st *stack) target(tb testing.TB, rt route, bad, value string) string {
	tb.Helper()
	p := rt.Pattern
	for _, name := range rt.wildcards() {
		v := ""
		switch {
		case name == bad:
			v = value
		case name == "id" && strings.HasPrefix(p, "/v1/accounts/"):
			v = strconv.FormatInt(st.accountID, 10)
		case name == "id" && strings.HasPrefix(p, "/v1/users/"):
			v = strconv.FormatInt(st.userID, 10)
		case name == "id":
			v = strconv.FormatInt(st.keyID, 10)
		case name == "user_id":
			v = strconv.FormatInt(st.userID, 10)
		case name == "device_id":
			v = "d1"
		case name == "name":
			v = st.permission
		case name == "token":
			v = st.keySecret
		default:
			tb.Fatalf("%s: no value for wildcard {%s}; add one to stack.target", rt, name)
		}
		p = strings.Replace(p, "{"+name+"}", url.PathEscape(v), 1)
	}
	return p
}

// credential returns the headers that get a route past its authentication.
func (st *stack) credential(rt route) []string {
	switch rt.surface {
	case "seed000":
		return []string{"Cookie", "__Host-access=" + st.access, "X-CSRF-Token", st.csrf}
	case "seed002":
		return []string{"Authorization", "Bearer " + st.access}
	case "seed003":
		return []string{"Authorization", st.root}
	}
	return []string{"X-Admin-Secret", stackAdminSecret}
}

// namesField checks an answer is a 400 naming field in the surface's envelope.
func namesField(rt route, rec *testenv.Response, field string) error {
	if rec.Status != http.StatusBadRequest {
		return fmt.Errorf("status: got %d %s, want 400", rec.Status, rec.Body)
	}
	var env struct {
		// native problem+json
		Code   any               `json:"code"`
		Errors map[string]string `json:"errors"`
		// seed 000
		Error string `json:"error"`
		Field string `json:"field"`
		// seeds 001 and 002
		Message string `json:"message"`
		Status  any    `json:"status"`
		// seed 003
		Name    string `json:"name"`
		Details []struct {
			Path string `json:"path"`
		} `json:"details"`
	}
	if err := json.Unmarshal(rec.Body, &env); err != nil {
		return fmt.Errorf("body: got %q, want JSON", rec.Body)
	}
	ok := false
	switch rt.surface {
	case "native":
		_, named := env.Errors[field]
		ok = named && env.Code == latchkey.EINVALID && rec.Header.Get("Content-Type") == "application/problem+json"
	case "seed000":
		ok = env.Error == "invalid_params" && env.Field == field
	case "seed001":
		ok = env.Status == false && env.Code == float64(400) && strings.HasPrefix(env.Message, field+" ")
	case "seed002":
		ok = env.Error == "Bad Request" && strings.HasPrefix(env.Message, field+": ")
	case "seed003":
		for _, d := range env.Details {
			ok = ok || d.Path == field
		}
		ok = ok && env.Name == "BadDataError"
	}
	if !ok {
		return fmt.Errorf("body: got %s, want a %s 400 naming %q", rec.Body, rt.surface, field)
	}
	return nil
}

// badValue is one string PostgreSQL would refuse: as raw bytes (for
// paths, queries and headers) and as it is written inside a JSON string.
// Each stays invalid whatever the fuzz target puts around it.
type badValue struct{ name, raw, json string }

var badValues = []badValue{
	{"NUL", "a\x00b", `a\u0000b`},
	{"raw NUL", "\x00", "\x00"},
	{"invalid byte", "a\xffb", "a\xffb"},
	{"overlong encoding", "\xc0\x80", "\xc0\x80"},
	{"encoded surrogate", "\xed\xa0\x80", "\xed\xa0\x80"},
	{"truncated sequence", "ok\xe2\x82 x", "ok\xe2\x82 x"}, // a space after, so no suffix can complete it
}

// badRequest is one request carrying a bad string and the field its 400 names.
type badRequest struct {
	where   string
	target  string
	body    []byte
	headers []string
	field   string
}

// badRequests are the requests that put v in each place rt reads a string.
func (st *stack) badRequests(tb testing.TB, rt route, v badValue) []badRequest {
	tb.Helper()
	cred := st.credential(rt)
	var out []badRequest
	for _, name := range rt.wildcards() {
		out = append(out, badRequest{where: "path " + name, target: st.target(tb, rt, name, v.raw), headers: cred, field: name})
	}
	plain := st.target(tb, rt, "", "")
	out = append(out,
		badRequest{where: "query", target: plain + "?q=" + url.QueryEscape(v.raw), headers: cred, field: "q"},
		badRequest{where: "X-Account-ID", target: plain, headers: append([]string{"X-Account-ID", v.raw}, cred...), field: "X-Account-ID"},
	)
	if rt.readsBody() {
		bodies := []struct{ body, field string }{
			{`{"name":"` + v.json + `"}`, "name"},
			{`{"meta":{"plan":["pro","` + v.json + `"]}}`, "meta.plan[1]"},
		}
		if f, ok := ownField[rt.String()]; ok {
			bodies = append(bodies, struct{ body, field string }{`{"` + f + `":"` + v.json + `"}`, f})
		}
		for _, b := range bodies {
			out = append(out, badRequest{where: "body " + b.field, target: plain, body: []byte(b.body), headers: cred, field: b.field})
		}
	}
	return out
}

// Every place of every route refuses every bad string, naming it in the
// route's envelope.
func TestBadStringsEveryRoute(t *testing.T) {
	forEachStore(t, func(t *testing.T, st *stack) {
		routes := allRoutes(t)
		for _, rt := range routes {
			for _, v := range badValues {
				for _, br := range st.badRequests(t, rt, v) {
					t.Run(rt.name()+"/"+br.where+"/"+v.name, func(t *testing.T) {
						rec := st.do(t, rt.Method, br.target, br.body, br.headers...)
						if err := namesField(rt, rec, br.field); err != nil {
							t.Fatal(err)
						}
					})
				}
			}
		}
		st.mustNotHaveFailed(t)
	})
}

// A User-Agent is stored with the key it creates, the audit event and the
// session, so one with invalid UTF-8 is made valid rather than refused;
// other headers that reach no store (X-CSRF-Token, Authorization) answer
// their usual 4xx. Over a real connection too: net/http passes bytes
// 0x80–0xFF in header values through.
func TestBadHeaders(t *testing.T) {
	forEachStore(t, func(t *testing.T, st *stack) {
		operator := []string{"X-Admin-Secret", stackAdminSecret}
		var k latchkey.Key
		st.mustDecode(t, st.mustDo(t, 201, "POST", "/v1/keys", `{"name":"ua"}`, append(operator, "User-Agent", "curl/\xff8.5\x00")...), &k)
		st.mustDecode(t, st.mustDo(t, 200, "GET", "/v1/keys/"+strconv.FormatInt(k.ID, 10), "", operator...), &k)
		if k.UserAgent != "curl/\uFFFD8.5\uFFFD" {
			t.Fatalf("stored user_agent: got %q, want %q", k.UserAgent, "curl/\uFFFD8.5\uFFFD")
		}
		audit := st.mustDo(t, 200, "GET", "/v1/audit?key_id="+strconv.FormatInt(k.ID, 10), "", operator...)
		if !utf8.Valid(audit) || !bytes.Contains(audit, []byte("curl/\uFFFD8.5\uFFFD")) {
			t.Fatalf("audit: got %s, want the cleaned user agent", audit)
		}
		st.mustDo(t, 200, "POST", "/v1/auth/login", `{"email":"admin@acme.test","password":"correct horse battery staple"}`, "User-Agent", "\xc0\x80")
		st.mustDo(t, 200, "PATCH", "/admin/api-keys/"+strconv.FormatInt(st.keyID, 10), `{"customer_name":"Acme"}`, append(operator, "User-Agent", "\xff")...)

		for _, tt := range []struct {
			name, method, target, body string
			headers                    []string
			want                       int
		}{
			{"CSRF token, native", "POST", "/v1/keys", `{}`, []string{"Cookie", "__Host-access=" + st.access, "X-CSRF-Token", "\xff"}, 403},
			{"CSRF token, seed 000", "PATCH", "/api/admin/api-tokens/" + strconv.FormatInt(st.keyID, 10), `{"status":"active"}`,
				[]string{"Cookie", "__Host-access=" + st.access, "X-CSRF-Token", st.csrf[:4] + "\xff"}, 403},
			{"bearer, native", "GET", "/v1/keys", "", []string{"Authorization", "Bearer lk_\xff"}, 401},
			{"bearer, seed 002", "PATCH", "/apikeys/1", `{}`, []string{"Authorization", "Bearer lka_\xff"}, 401},
			{"bare token, seed 003", "PUT", "/api/admin/api-tokens/x", `{}`, []string{"Authorization", "\xff\x00"}, 401},
			{"admin secret", "GET", "/v1/keys", "", []string{"X-Admin-Secret", "\xff"}, 401},
		} {
			t.Run(tt.name, func(t *testing.T) {
				st.mustDo(t, tt.want, tt.method, tt.target, tt.body, tt.headers...)
			})
		}

		srv := httptest.NewServer(st.h)
		defer srv.Close()
		res := testenv.HTTP{URL: srv.URL}.Do(t, "POST", "/v1/keys", `{"name":"over the wire"}`,
			"X-Admin-Secret", stackAdminSecret, "User-Agent", "agent/\xfe\xff")
		if res.Status != 201 || !bytes.Contains(res.Body, []byte("agent/\uFFFD\"")) {
			t.Fatalf("over the wire: got %d %s, want 201 with the cleaned user agent", res.Status, res.Body)
		}
		st.mustNotHaveFailed(t)
	})
}

// FuzzBadStringsEveryRoute puts a fuzzed string holding a bad sequence in
// a fuzzed place of a fuzzed route, on PostgreSQL when
// LATCHKEY_TEST_POSTGRES_URL is set, else on SQLite: every answer is a 400
// naming the field, in the route's envelope.
func FuzzBadStringsEveryRoute(f *testing.F) {
	dsn := httpstack.SQLiteDSN(f)
	if os.Getenv("LATCHKEY_TEST_POSTGRES_URL") != "" {
		dsn = testenv.PostgresDSN(f)
	}
	st := MustStack(f, dsn)
	routes := allRoutes(f)
	for i := range routes {
		for j := range 5 {
			f.Add(uint16(i), uint8(j), uint8(i+j), "pre", "post")
		}
	}
	f.Add(uint16(0), uint8(0), uint8(0), "", "")
	f.Add(uint16(3), uint8(3), uint8(2), `"quoted\`, "{}")
	f.Add(uint16(16), uint8(3), uint8(35), "0", "\x80") // once completed the truncated sequence
	f.Fuzz(func(t *testing.T, ri uint16, place, kind uint8, prefix, suffix string) {
		rt := routes[int(ri)%len(routes)]
		v := badValues[int(kind)%len(badValues)]
		// One string around the bad sequence; a slash would be a path
		// separator, so it is not fuzzed into path values.
		prefix, suffix = strings.ReplaceAll(prefix, "/", "_"), strings.ReplaceAll(suffix, "/", "_")
		v.raw = prefix + v.raw + suffix
		v.json = jsonText(prefix) + v.json + jsonText(suffix)
		reqs := st.badRequests(t, rt, v)
		br := reqs[int(place)%len(reqs)]
		rec := st.do(t, rt.Method, br.target, br.body, br.headers...)
		if err := namesField(rt, rec, br.field); err != nil {
			t.Fatalf("%s, %s: %v", rt, br.where, err)
		}
	})
}

// jsonText writes s inside a JSON string: quotes, backslashes and control
// characters escaped, other bytes (invalid UTF-8 among them) as they are.
func jsonText(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20:
			fmt.Fprintf(&b, `\u%04x`, c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
