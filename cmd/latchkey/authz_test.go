package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/testenv"
)

// call sends a request with the given headers and returns status and
// body; a body is sent as application/json unless headers name another
// type.
func (ts *testServer) call(tb testing.TB, method, path, body string, headers map[string]string) (int, string) {
	tb.Helper()
	var pairs []string
	if body != "" {
		if _, ok := headers["Content-Type"]; !ok {
			pairs = append(pairs, "Content-Type", "application/json")
		}
	}
	for k, v := range headers {
		pairs = append(pairs, k, v)
	}
	r := testenv.HTTP{URL: ts.URL}.Do(tb, method, path, body, pairs...)
	return r.Status, r.String()
}

// mustJSON sends a request as operator or root and decodes a 2xx answer.
func (ts *testServer) mustJSON(tb testing.TB, method, path string, body any, headers map[string]string, out any) {
	tb.Helper()
	b, _ := json.Marshal(body)
	st, ans := ts.call(tb, method, path, string(b), headers)
	if st/100 != 2 {
		tb.Fatalf("%s %s: got %d %s", method, path, st, ans)
	}
	if out != nil {
		if err := json.Unmarshal([]byte(ans), out); err != nil {
			tb.Fatal(err)
		}
	}
}

// bearerHeader is the Authorization header of a token.
func bearerHeader(tok string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + tok}
}

// mustLogin signs a user in and returns their access token.
func (ts *testServer) mustLogin(tb testing.TB, email, password string) string {
	tb.Helper()
	return testenv.HTTP{URL: ts.URL}.MustLogin(tb, email, password).AccessToken
}

const matrixAdminSecret = "matrix-operator-secret-0123"

// TestAuthorizationMatrix sends every protected route of every surface as
// each kind of principal and checks that nothing gets through that should
// not: no credential and a wrong one are 401, an api key and a root key
// lacking the permission 403, a member may only read, an admin of another
// account never reaches this account's resources, and the right principal
// succeeds.
func TestAuthorizationMatrix(t *testing.T) {
	ts := MustStartServer(t, Config{AdminSecret: matrixAdminSecret})
	op := map[string]string{"X-Admin-Secret": matrixAdminSecret}
	root := bearerHeader(ts.RootKey)

	// account A (default): an api key, users, root keys each lacking one permission
	var apiKey struct {
		Secret string `json:"secret"`
	}
	ts.mustJSON(t, "POST", "/v1/keys", map[string]any{"name": "matrix api key"}, root, &apiKey)
	ts.mustJSON(t, "POST", "/v1/users", map[string]any{"email": "admin-a@acme.test", "password": "admin-a password", "role": "admin"}, root, nil)
	ts.mustJSON(t, "POST", "/v1/users", map[string]any{"email": "member-a@acme.test", "password": "member-a password", "role": "member"}, root, nil)
	lacking := map[string]string{}
	for _, p := range latchkey.RootPermissions {
		var others []string
		for _, q := range latchkey.RootPermissions {
			if q != p {
				others = append(others, q)
			}
		}
		var k struct {
			Secret string `json:"secret"`
		}
		ts.mustJSON(t, "POST", "/v1/keys", map[string]any{"kind": "root", "name": "lacks " + p, "permissions": others}, root, &k)
		lacking[p] = k.Secret
	}
	// account B with its own admin
	var acctB struct{ ID int64 }
	ts.mustJSON(t, "POST", "/v1/accounts", map[string]any{"name": "bravo"}, op, &acctB)
	var adminB struct{ ID int64 }
	ts.mustJSON(t, "POST", "/v1/users", map[string]any{"email": "admin-b@bravo.test", "password": "admin-b password", "role": "admin"},
		map[string]string{"X-Admin-Secret": matrixAdminSecret, "X-Account-ID": "bravo"}, &adminB)

	principals := map[string]map[string]string{
		"no credential":            {},
		"wrong credential":         bearerHeader(mustNewSecret()),
		"api key":                  bearerHeader(apiKey.Secret),
		"member":                   bearerHeader(ts.mustLogin(t, "member-a@acme.test", "member-a password")),
		"admin of another account": bearerHeader(ts.mustLogin(t, "admin-b@bravo.test", "admin-b password")),
		"admin":                    bearerHeader(ts.mustLogin(t, "admin-a@acme.test", "admin-a password")),
	}

	// fresh resources of account A for each call
	newKey := func() string {
		var k struct{ ID int64 }
		ts.mustJSON(t, "POST", "/v1/keys", map[string]any{"name": "target", "max_devices": 2}, root, &k)
		return fmt.Sprint(k.ID)
	}
	newKeyWithDevice := func() string {
		var k struct {
			ID     int64
			Secret string
		}
		ts.mustJSON(t, "POST", "/v1/keys", map[string]any{"name": "device target", "max_devices": 2}, root, &k)
		ts.mustJSON(t, "POST", "/v1/keys/verify", map[string]any{"key": k.Secret, "device_id": "d1"}, root, nil)
		return fmt.Sprint(k.ID)
	}
	permN := 0
	newPerm := func() string {
		permN++
		name := fmt.Sprintf("perm%d", permN)
		ts.mustJSON(t, "POST", "/v1/permissions", map[string]any{"name": name}, root, nil)
		return name
	}
	var memberID struct{ ID int64 }
	ts.mustJSON(t, "POST", "/v1/users", map[string]any{"email": "target@acme.test", "password": "target password", "role": "member"}, root, &memberID)

	type route struct {
		method, path, perm string
		body               string
		// crossAccount: the route names a resource of account A, so an
		// admin of another account gets 404 (403 when the route names the
		// account itself).
		crossAccount bool
	}
	// userOnly routes serve signed-in users only: the right principal is one.
	userOnly := map[string]bool{"/v1/auth/csrf": true}
	routes := func() []route {
		return []route{
			{"POST", "/v1/keys", latchkey.PermKeysWrite, `{"name":"m"}`, false},
			{"GET", "/v1/keys", latchkey.PermKeysRead, "", false},
			{"GET", "/v1/keys/" + newKey(), latchkey.PermKeysRead, "", true},
			{"PATCH", "/v1/keys/" + newKey(), latchkey.PermKeysWrite, `{"name":"m2"}`, true},
			{"DELETE", "/v1/keys/" + newKey(), latchkey.PermKeysWrite, "", true},
			{"POST", "/v1/keys/" + newKey() + "/revoke", latchkey.PermKeysWrite, `{"reason":"m"}`, true},
			{"POST", "/v1/keys/" + newKey() + "/rotate", latchkey.PermKeysWrite, `{}`, true},
			{"GET", "/v1/keys/" + newKey() + "/devices", latchkey.PermKeysRead, "", true},
			{"DELETE", "/v1/keys/" + newKeyWithDevice() + "/devices/d1", latchkey.PermKeysWrite, "", true},
			{"GET", "/v1/keys/" + newKey() + "/usage", latchkey.PermKeysRead, "", true},
			{"POST", "/v1/keys/verify", latchkey.PermKeysVerify, `{"key":"` + mustNewSecret() + `"}`, false},
			{"GET", "/v1/permissions", latchkey.PermKeysRead, "", false},
			{"POST", "/v1/permissions", latchkey.PermAccountAdmin, fmt.Sprintf(`{"name":"new%d"}`, nextSeq()), false},
			{"DELETE", "/v1/permissions/" + newPerm(), latchkey.PermAccountAdmin, "", true},
			{"GET", "/v1/audit", latchkey.PermAuditRead, "", false},
			{"GET", "/v1/users", latchkey.PermAccountAdmin, "", false},
			{"POST", "/v1/users", latchkey.PermAccountAdmin, fmt.Sprintf(`{"email":"u%d@acme.test","password":"a long password"}`, nextSeq()), false},
			{"PUT", fmt.Sprintf("/v1/accounts/1/members/%d", memberID.ID), latchkey.PermAccountAdmin, `{"role":"member"}`, true},
			{"GET", "/v1/accounts", "authenticated", "", false},
			{"POST", "/v1/accounts", "operator", fmt.Sprintf(`{"name":"acct%d"}`, nextSeq()), false},
			{"GET", "/v1/auth/csrf", "authenticated", "", false},
		}
	}

	names := []string{"no credential", "wrong credential", "api key", "member", "admin of another account", "root key lacking the permission", "admin", "right principal"}
	for _, who := range names {
		for _, rt := range routes() {
			headers := principals[who]
			switch who {
			case "root key lacking the permission":
				switch rt.perm {
				case "authenticated":
					continue // every principal qualifies
				case "operator":
					headers = root
				default:
					headers = bearerHeader(lacking[rt.perm])
				}
			case "right principal":
				headers = root
				if rt.perm == "operator" {
					headers = op
				} else if userOnly[rt.path] {
					headers = principals["admin"]
				}
			}
			if userOnly[rt.path] && who == "root key lacking the permission" {
				continue
			}
			st, body := ts.call(t, rt.method, rt.path, rt.body, headers)
			allowed := false
			switch who {
			case "member":
				allowed = rt.perm == latchkey.PermKeysRead || rt.perm == latchkey.PermAuditRead || rt.perm == "authenticated"
			case "admin":
				allowed = rt.perm != "operator"
			case "admin of another account":
				allowed = !rt.crossAccount && rt.perm != "operator"
			case "right principal":
				allowed = true
			}
			var want string
			switch {
			case allowed:
				want = "2xx"
			case who == "no credential" || who == "wrong credential":
				want = "401"
			case who == "admin of another account" && rt.crossAccount && strings.HasPrefix(rt.path, "/v1/accounts/"):
				want = "403" // the account itself is named: not a member of it
			case who == "admin of another account" && rt.crossAccount:
				want = "404" // another account's key or permission is not there

			default:
				want = "403"
			}
			ok := false
			switch want {
			case "2xx":
				ok = st/100 == 2
			case "401":
				ok = st == 401
			case "403":
				ok = st == 403
			case "404":
				ok = st == 404
			}
			if !ok {
				t.Errorf("%s %s as %s: got %d %s, want %s", rt.method, rt.path, who, st, strings.TrimSpace(body), want)
			}
		}
	}

	// logout ends only a user's own session, so it is checked on its own
	for who, want := range map[string]int{"no credential": 401, "wrong credential": 401, "api key": 403} {
		if st, body := ts.call(t, "POST", "/v1/auth/logout", "", principals[who]); st != want {
			t.Errorf("POST /v1/auth/logout as %s: got %d %s, want %d", who, st, body, want)
		}
	}
	if st, _ := ts.call(t, "POST", "/v1/auth/logout", "", root); st != 400 {
		t.Errorf("POST /v1/auth/logout as a root key: got %d, want 400 (no session)", st)
	}
	fresh := bearerHeader(ts.mustLogin(t, "member-a@acme.test", "member-a password"))
	if st, _ := ts.call(t, "POST", "/v1/auth/logout", "", fresh); st != 204 {
		t.Errorf("POST /v1/auth/logout as a member: got %d, want 204", st)
	}
	if st, _ := ts.call(t, "GET", "/v1/keys", "", fresh); st != 401 {
		t.Errorf("after logout: got %d, want 401", st)
	}

	// an account admin cannot pull another account's user into theirs (nor
	// learn who they are): that user is not found
	for who, h := range map[string]map[string]string{"root key": root, "admin": principals["admin"]} {
		st, body := ts.call(t, "PUT", fmt.Sprintf("/v1/accounts/1/members/%d", adminB.ID), `{"role":"admin"}`, h)
		if st != 404 || strings.Contains(body, "admin-b@bravo.test") {
			t.Errorf("PUT another account's user into account 1 as %s: got %d %s, want 404 without their email", who, st, body)
		}
	}

	// an admin of another account lists only their own account's keys
	st, body := ts.call(t, "GET", "/v1/keys?limit=1000", "", principals["admin of another account"])
	if st != 200 || strings.Contains(body, "matrix api key") || strings.Contains(body, `"account_id":1`) {
		t.Fatalf("another account's list: got %d %s, want none of account 1's keys", st, body)
	}
}

var seq int64

func nextSeq() int64 { seq++; return seq }

func mustNewSecret() string {
	s, _, _ := latchkey.NewSecret("lk")
	return s
}

// TestSeedSurfaceAuthorization sends each seed surface's route as every
// kind of principal, in the credential style the surface documents, and
// checks that only the right principal changes anything.
func TestSeedSurfaceAuthorization(t *testing.T) {
	ts := MustStartServer(t, Config{AdminSecret: matrixAdminSecret})
	op := map[string]string{"X-Admin-Secret": matrixAdminSecret}
	root := bearerHeader(ts.RootKey)
	var apiKey struct{ Secret string }
	ts.mustJSON(t, "POST", "/v1/keys", map[string]any{"name": "seed api key"}, root, &apiKey)
	var noWrite struct{ Secret string }
	ts.mustJSON(t, "POST", "/v1/keys", map[string]any{"kind": "root", "name": "no keys:write",
		"permissions": []string{"keys:read", "keys:verify", "account:admin", "audit:read"}}, root, &noWrite)
	ts.mustJSON(t, "POST", "/v1/users", map[string]any{"email": "admin@acme.test", "password": "admin password", "role": "admin"}, root, nil)
	ts.mustJSON(t, "POST", "/v1/users", map[string]any{"email": "member@acme.test", "password": "member password", "role": "member"}, root, nil)
	ts.mustJSON(t, "POST", "/v1/accounts", map[string]any{"name": "bravo"}, op, nil)
	ts.mustJSON(t, "POST", "/v1/users", map[string]any{"email": "admin@bravo.test", "password": "bravo password", "role": "admin"},
		map[string]string{"X-Admin-Secret": matrixAdminSecret, "X-Account-ID": "bravo"}, nil)
	type session struct{ access, csrf string }
	login := func(email, pw string) session {
		var a struct {
			AccessToken string `json:"access_token"`
			CSRFToken   string `json:"csrf_token"`
		}
		ts.mustJSON(t, "POST", "/v1/auth/login", map[string]string{"email": email, "password": pw}, nil, &a)
		return session{a.AccessToken, a.CSRFToken}
	}
	sessions := map[string]session{
		"member":                   login("member@acme.test", "member password"),
		"admin of another account": login("admin@bravo.test", "bravo password"),
		"admin":                    login("admin@acme.test", "admin password"),
	}

	type target struct {
		id     int64
		secret string
	}
	newTarget := func() target {
		var k struct {
			ID     int64
			Secret string
		}
		ts.mustJSON(t, "POST", "/v1/keys", map[string]any{"name": "seed target", "owner_email": "before@acme.test",
			"expires_at": "2030-01-01T00:00:00Z"}, root, &k)
		return target{k.ID, k.Secret}
	}
	// changed reports whether a seed call altered the target.
	changed := func(k target) bool {
		var got struct {
			Name        string  `json:"name"`
			Description string  `json:"description"`
			OwnerEmail  *string `json:"owner_email"`
			ExpiresAt   *string `json:"expires_at"`
			OwnerName   *string `json:"owner_name"`
		}
		ts.mustJSON(t, "GET", fmt.Sprintf("/v1/keys/%d", k.id), nil, root, &got)
		return got.OwnerEmail == nil || *got.OwnerEmail != "before@acme.test" || got.ExpiresAt == nil ||
			*got.ExpiresAt != "2030-01-01T00:00:00Z" || got.OwnerName != nil || got.Description != ""
	}

	type seed struct {
		name, method string
		path         func(k target) string
		body         string
		// headers gives the principal's credential in the surface's style.
		headers func(who string) map[string]string
		right   string // the principal that may change the key
	}
	cookie := func(who string) map[string]string {
		s, ok := sessions[who]
		if !ok {
			return nil
		}
		return map[string]string{"Cookie": "__Host-access=" + s.access, "X-CSRF-Token": s.csrf}
	}
	userBearer := func(who string) map[string]string {
		if s, ok := sessions[who]; ok {
			return bearerHeader(s.access)
		}
		return nil
	}
	seeds := []seed{
		{"000", "PATCH", func(k target) string { return fmt.Sprintf("/api/admin/api-tokens/%d", k.id) },
			`{"owner_email":"user@example.com","status":"revoked","revoked":true,"revoked_reason":"x"}`, cookie, "admin"},
		{"001", "PATCH", func(k target) string { return fmt.Sprintf("/admin/api-keys/%d", k.id) },
			`{"customer_name":"n","customer_email":"c@acme.test","max_devices":2,"rate_limit_per_hour":5,"is_active":true}`,
			func(who string) map[string]string {
				if who == "operator" {
					return op
				}
				return nil
			}, "operator"},
		{"002", "PATCH", func(k target) string { return fmt.Sprintf("/apikeys/%d", k.id) },
			`{"description":"changed","flatPermissionsList":[]}`, userBearer, "admin"},
		{"003", "PUT", func(k target) string { return "/api/admin/api-tokens/" + k.secret },
			`{"expiresAt":"2031-01-01T00:00:00Z"}`, userBearer, "admin"},
	}
	keyCred := map[string]string{
		"wrong credential": mustNewSecret(), "api key": apiKey.Secret,
		"root key lacking the permission": noWrite.Secret, "root key": ts.RootKey,
	}
	whos := []string{"no credential", "wrong credential", "api key", "member", "admin of another account",
		"root key lacking the permission", "root key", "operator", "admin"}
	for _, sd := range seeds {
		for _, who := range whos {
			k := newTarget()
			h := sd.headers(who)
			if h == nil {
				h = map[string]string{}
			}
			if sec, ok := keyCred[who]; ok {
				h = bearerHeader(sec)
				if sd.name == "000" { // a key sent the way this surface takes credentials
					h = map[string]string{"Cookie": "__Host-access=" + sec, "X-CSRF-Token": "x"}
				}
			}
			if who == "operator" && sd.name != "001" {
				h = op
			}
			h["Content-Type"] = "application/json"
			st, body := ts.call(t, sd.method, sd.path(k), sd.body, h)
			didChange := changed(k)
			right := who == sd.right || (sd.name == "003" && who == "root key")
			// the audit log holds the key's creation and, for the right
			// principal only, the change, by that principal
			var events struct {
				Data []struct {
					Action    string `json:"action"`
					ActorKind string `json:"actor_kind"`
				} `json:"data"`
			}
			ts.mustJSON(t, "GET", fmt.Sprintf("/v1/audit?key_id=%d", k.id), nil, root, &events)
			wantActor := map[string]string{"admin": "user", "operator": "operator", "root key": "root_key"}[who]
			switch n := len(events.Data); {
			case right && (n < 2 || events.Data[0].ActorKind != wantActor):
				t.Errorf("seed %s as %s: audit %+v, want the change by %s on top", sd.name, who, events.Data, wantActor)
			case !right && n != 1:
				t.Errorf("seed %s as %s: audit %+v, want only the key's creation", sd.name, who, events.Data)
			}
			switch {
			case right && (st/100 != 2 || !didChange):
				t.Errorf("seed %s as %s: got %d %s (changed %v), want 2xx and the key changed", sd.name, who, st, body, didChange)
			case !right && didChange:
				t.Errorf("seed %s as %s: got %d %s and the key CHANGED; want it refused", sd.name, who, st, body)
			case !right && st/100 == 2 && !(sd.name == "003" && who == "admin of another account"):
				// seed 003 answers 200 and changes nothing for a token its caller's account does not know
				t.Errorf("seed %s as %s: got %d %s, want a refusal", sd.name, who, st, body)
			}
		}
	}
}

// TestSeedSurfacesAtVerify checks, on the real server, that what each seed
// surface promises is obeyed by the very next verification: seed 000's
// revoke, seed 001's is_active, rate_limit_per_hour and max_devices, seed
// 002's permissions and seed 003's expiry.
func TestSeedSurfacesAtVerify(t *testing.T) {
	ts := MustStartServer(t, Config{AdminSecret: matrixAdminSecret})
	root := bearerHeader(ts.RootKey)
	ts.mustJSON(t, "POST", "/v1/users", map[string]any{"email": "admin@acme.test", "password": "admin password", "role": "admin"}, root, nil)
	ts.mustJSON(t, "POST", "/v1/permissions", map[string]any{"name": "readApplications"}, root, nil)
	var login struct {
		AccessToken string `json:"access_token"`
		CSRFToken   string `json:"csrf_token"`
	}
	ts.mustJSON(t, "POST", "/v1/auth/login", map[string]string{"email": "admin@acme.test", "password": "admin password"}, nil, &login)
	newKey := func() (int64, string) {
		var k struct {
			ID     int64
			Secret string
		}
		ts.mustJSON(t, "POST", "/v1/keys", map[string]any{"name": "seed", "expires_at": "2030-01-01T00:00:00Z"}, root, &k)
		ts.issued = append(ts.issued, k.Secret)
		return k.ID, k.Secret
	}
	send := func(method, path, body string, h map[string]string) {
		t.Helper()
		h["Content-Type"] = "application/json"
		if st, b := ts.call(t, method, path, body, h); st/100 != 2 {
			t.Fatalf("%s %s: got %d %s", method, path, st, b)
		}
	}
	verify := func(secret string, extra map[string]any) string {
		t.Helper()
		body := map[string]any{"key": secret}
		for k, v := range extra {
			body[k] = v
		}
		return ts.verify(t, body).Code
	}
	op := func() map[string]string { return map[string]string{"X-Admin-Secret": matrixAdminSecret} }

	t.Run("000 revoked:true", func(t *testing.T) {
		id, secret := newKey()
		send("PATCH", fmt.Sprintf("/api/admin/api-tokens/%d", id), `{"revoked":true,"revoked_reason":"leaked"}`,
			map[string]string{"Cookie": "__Host-access=" + login.AccessToken, "X-CSRF-Token": login.CSRFToken})
		if got := verify(secret, nil); got != "REVOKED" {
			t.Fatalf("verify: got %s, want REVOKED", got)
		}
	})
	t.Run("001 is_active, rate_limit_per_hour, max_devices", func(t *testing.T) {
		id, secret := newKey()
		path := fmt.Sprintf("/admin/api-keys/%d", id)
		send("PATCH", path, `{"is_active":false}`, op())
		if got := verify(secret, nil); got != "DISABLED" {
			t.Fatalf("is_active false: got %s, want DISABLED", got)
		}
		send("PATCH", path, `{"is_active":true,"rate_limit_per_hour":2,"max_devices":1}`, op())
		for i, want := range []string{"VALID", "VALID", "RATE_LIMITED"} {
			if got := verify(secret, map[string]any{"device_id": "phone"}); got != want {
				t.Fatalf("verification %d: got %s, want %s", i+1, got, want)
			}
		}
		if got := verify(secret, map[string]any{"device_id": "laptop"}); got != "DEVICE_LIMIT_EXCEEDED" {
			t.Fatalf("a second device: got %s, want DEVICE_LIMIT_EXCEEDED", got)
		}
	})
	t.Run("002 flatPermissionsList", func(t *testing.T) {
		id, secret := newKey()
		need := map[string]any{"permissions": []string{"readApplications"}}
		if got := verify(secret, need); got != "INSUFFICIENT_PERMISSIONS" {
			t.Fatalf("before: got %s, want INSUFFICIENT_PERMISSIONS", got)
		}
		send("PATCH", fmt.Sprintf("/apikeys/%d", id), `{"description":"d","flatPermissionsList":["readApplications"]}`,
			bearerHeader(login.AccessToken))
		if got := verify(secret, need); got != "VALID" {
			t.Fatalf("after: got %s, want VALID", got)
		}
	})
	t.Run("003 expiresAt in the past", func(t *testing.T) {
		_, secret := newKey()
		h := map[string]string{"Authorization": ts.RootKey}
		send("PUT", "/api/admin/api-tokens/"+secret, `{"expiresAt":"2020-01-01T00:00:00Z"}`, h)
		if got := verify(secret, nil); got != "EXPIRED" {
			t.Fatalf("verify: got %s, want EXPIRED", got)
		}
	})
}
