package http_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/latchkey/latchkey"
	lkhttp "github.com/latchkey/latchkey/internal/http"
	"github.com/latchkey/latchkey/internal/testenv"
)

// TestUserLifecycle drives PATCH /v1/users/{id}, POST /v1/auth/password and
// DELETE /v1/accounts/{id}/members/{user_id} on a real store, as latchkey
// serve wires it: who may do what, the refusals naming their problem, and
// sessions ending when a password changes or a user is deactivated.
func TestUserLifecycle(t *testing.T) {
	forEachStore(t, func(t *testing.T, st *stack) {
		h := st.http
		op := []string{"X-Admin-Secret", stackAdminSecret}
		admin := testenv.Session{AccessToken: st.access}
		const pw, pw2, pw3 = "member password one", "member password two", "member password three"
		var m latchkey.Member
		h.MustDo(t, 201, "POST", "/v1/users", map[string]string{"email": "m@acme.test", "password": pw}, op...).Decode(t, &m)
		user := func(id int64) string { return "/v1/users/" + strconv.FormatInt(id, 10) }
		member := func(id int64) string {
			return "/v1/accounts/" + strconv.FormatInt(st.accountID, 10) + "/members/" + strconv.FormatInt(id, 10)
		}
		ms := h.MustLogin(t, "m@acme.test", pw)

		t.Run("a member changes their own name only", func(t *testing.T) {
			var u latchkey.User
			h.MustDo(t, 200, "PATCH", user(m.ID), `{"name":"Em"}`, ms.Bearer()...).Decode(t, &u)
			if u.Name != "Em" || u.Disabled {
				t.Fatalf("renamed: got %+v, want Em, active", u)
			}
			wantProblem(t, h.Do(t, "PATCH", user(m.ID), `{"disabled":true}`, ms.Bearer()...), 403, "yourself")
			wantProblem(t, h.Do(t, "PATCH", user(m.ID), `{"password":"`+pw2+`"}`, ms.Bearer()...), 403, "/v1/auth/password")
			wantProblem(t, h.Do(t, "PATCH", user(st.userID), `{"name":"x"}`, ms.Bearer()...), 403, "role member")
			wantProblem(t, h.Do(t, "DELETE", member(st.userID), "", ms.Bearer()...), 403, "role member")
			wantProblem(t, h.Do(t, "PATCH", user(999), `{"name":"x"}`, admin.Bearer()...), 404, "")
		})
		t.Run("bad input names the field", func(t *testing.T) {
			for body, field := range map[string]string{`{"password":"short"}`: "password", `{"name":1}`: "name",
				`{"disabled":"yes"}`: "disabled", `{"nmae":"x"}`: "nmae", `{"name":"` + strings.Repeat("n", 201) + `"}`: "name"} {
				if p := wantProblem(t, h.Do(t, "PATCH", user(m.ID), body, admin.Bearer()...), 400, ""); p.Errors[field] == "" {
					t.Errorf("%s: got errors %v, want %s named", body, p.Errors, field)
				}
			}
			if p := wantProblem(t, h.Do(t, "POST", "/v1/auth/password", `{"current":"`+pw+`","new":"short"}`, ms.Bearer()...), 400, ""); p.Errors["new"] == "" {
				t.Errorf("short new password: got errors %v, want new named", p.Errors)
			}
			wantProblem(t, h.Do(t, "POST", "/v1/auth/password", `{"current":"`+pw+`","new":"`+pw2+`"}`, op...), 403, "signed-in user")
		})
		t.Run("changing one's own password ends one's sessions", func(t *testing.T) {
			if p := wantProblem(t, h.Do(t, "POST", "/v1/auth/password", `{"current":"not it at all","new":"`+pw2+`"}`, ms.Bearer()...), 400, ""); p.Errors["current"] == "" {
				t.Fatalf("wrong current password: got errors %v, want current named", p.Errors)
			}
			h.MustDo(t, 204, "POST", "/v1/auth/password", `{"current":"`+pw+`","new":"`+pw2+`"}`, ms.Bearer()...)
			h.MustDo(t, 401, "GET", "/v1/keys", "", ms.Bearer()...)
			if s := h.Login(t, "m@acme.test", pw); s.Status != 401 {
				t.Fatalf("the old password: got %d, want 401", s.Status)
			}
			ms = h.MustLogin(t, "m@acme.test", pw2)
		})
		t.Run("an admin's reset ends the member's sessions", func(t *testing.T) {
			h.MustDo(t, 200, "PATCH", user(m.ID), `{"password":"`+pw3+`"}`, admin.Bearer()...)
			h.MustDo(t, 401, "GET", "/v1/keys", "", ms.Bearer()...)
			ms = h.MustLogin(t, "m@acme.test", pw3)
		})
		t.Run("a deactivated user is signed out and cannot sign in", func(t *testing.T) {
			var u latchkey.User
			h.MustDo(t, 200, "PATCH", user(m.ID), `{"disabled":true}`, admin.Bearer()...).Decode(t, &u)
			if !u.Disabled || u.DisabledAt == nil {
				t.Fatalf("deactivated: got %+v, want disabled with disabled_at", u)
			}
			h.MustDo(t, 401, "GET", "/v1/keys", "", ms.Bearer()...)
			right, wrong := h.Login(t, "m@acme.test", pw3), h.Login(t, "m@acme.test", "a wrong password")
			if right.Status != 401 || right.Response.String() != wrong.Response.String() {
				t.Fatalf("sign-in while deactivated: got %d %s, want what a wrong password gets: %d %s",
					right.Status, right.Response, wrong.Status, wrong.Response)
			}
			h.MustDo(t, 200, "PATCH", user(m.ID), `{"disabled":false}`, admin.Bearer()...)
			ms = h.MustLogin(t, "m@acme.test", pw3)
		})
		t.Run("an account keeps an admin", func(t *testing.T) {
			wantProblem(t, h.Do(t, "PATCH", user(st.userID), `{"disabled":true}`, admin.Bearer()...), 403, "yourself")
			wantProblem(t, h.Do(t, "PATCH", user(st.userID), `{"disabled":true}`, op...), 409, "last active admin")
			wantProblem(t, h.Do(t, "DELETE", member(st.userID), "", op...), 409, "")
		})
		t.Run("removing a member", func(t *testing.T) {
			h.MustDo(t, 204, "DELETE", member(m.ID), "", admin.Bearer()...)
			h.MustDo(t, 403, "GET", "/v1/keys", "", ms.Bearer()...) // a member of no account
			wantProblem(t, h.Do(t, "DELETE", member(m.ID), "", admin.Bearer()...), 404, "")
			wantProblem(t, h.Do(t, "PATCH", user(m.ID), `{"name":"x"}`, admin.Bearer()...), 404, "not a member")
		})
		t.Run("audited", func(t *testing.T) {
			audit := h.MustDo(t, 200, "GET", "/v1/audit?limit=100", "", op...).String()
			for _, action := range []string{latchkey.ActionUserUpdate, latchkey.ActionMemberRemove} {
				if !strings.Contains(audit, `"action":"`+action+`"`) {
					t.Errorf("audit: no %s in %s", action, audit)
				}
			}
			if strings.Contains(audit, pw3) || strings.Contains(audit, "$argon2") {
				t.Errorf("audit holds a password or a hash: %s", audit)
			}
		})
		st.mustNotHaveFailed(t)
	})
}

// wantProblem fails unless the answer is a problem of the status whose
// detail says about (when given), and returns it.
func wantProblem(tb testing.TB, res *testenv.Response, status int, about string) lkhttp.Problem {
	tb.Helper()
	if res.Status != status {
		tb.Fatalf("got %d %s, want %d", res.Status, res.Body, status)
	}
	p := problem(tb, res.String())
	if !strings.Contains(p.Detail, about) {
		tb.Fatalf("detail: got %q, want it to say %q", p.Detail, about)
	}
	return p
}

// TestAdminOfOneAccountCannotTakeOverAnother: a user is one person across
// accounts, so an admin of one account may not reset the password of,
// deactivate or rename a user who is also in an account they do not
// administer; inside their own account they still may.
func TestAdminOfOneAccountCannotTakeOverAnother(t *testing.T) {
	forEachStore(t, func(t *testing.T, st *stack) {
		h := st.http
		op := []string{"X-Admin-Secret", stackAdminSecret}
		var two latchkey.Account
		h.MustDo(t, 201, "POST", "/v1/accounts", map[string]string{"name": "two"}, op...).Decode(t, &two)
		inTwo := append([]string{"X-Account-ID", "two"}, op...)
		h.MustDo(t, 200, "PUT", "/v1/accounts/"+strconv.FormatInt(two.ID, 10)+"/members/"+strconv.FormatInt(st.userID, 10),
			map[string]string{"role": "admin"}, op...)
		const pw = "carol's long password"
		h.MustDo(t, 201, "POST", "/v1/users", map[string]string{"email": "carol@two.test", "password": pw, "role": "admin"}, inTwo...)
		var dave latchkey.Member
		h.MustDo(t, 201, "POST", "/v1/users", map[string]string{"email": "dave@two.test", "password": pw, "role": "member"}, inTwo...).Decode(t, &dave)
		carol := h.MustLogin(t, "carol@two.test", pw)

		victim := "/v1/users/" + strconv.FormatInt(st.userID, 10)
		for _, change := range []string{`{"password":"a takeover password"}`, `{"disabled":true}`, `{"name":"owned"}`} {
			wantProblem(t, h.Do(t, "PATCH", victim, change, carol.Bearer()...), 403, "do not administer")
		}
		var u latchkey.User
		h.MustDo(t, 200, "PATCH", "/v1/users/"+strconv.FormatInt(dave.ID, 10), `{"name":"Dave"}`, carol.Bearer()...).Decode(t, &u)
		if u.Name != "Dave" {
			t.Errorf("an admin renaming a member of only their account: got %+v", u)
		}
		h.MustDo(t, 200, "PATCH", victim, `{"name":"still mine"}`, op...)
	})
}
