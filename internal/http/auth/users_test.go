package auth_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/http/auth"
	"github.com/latchkey/latchkey/internal/inmem"
	"github.com/latchkey/latchkey/internal/mock"
)

// people is a tiny user store for the lifecycle tests: user 1 admins
// account 7, user 2 is a member there, user 3 admins account 8 only, user
// 4 is a deactivated admin of account 7. Passwords hash to "h:" + the
// password.
type people struct {
	users   map[int64]*latchkey.User
	roles   map[int64]map[int64]latchkey.Role // user → account → role
	updates []latchkey.UserUpdate             // UpdateUser calls, in order
	updated []int64                           // their user ids
	hashes  int                               // Hash calls
}

// newPeople returns the four users, each with password "pw of <id>".
func newPeople() *people {
	return &people{
		users: map[int64]*latchkey.User{
			1: {ID: 1, Email: "admin@acme.test"}, 2: {ID: 2, Email: "member@acme.test"},
			3: {ID: 3, Email: "other@beta.test"}, 4: {ID: 4, Email: "gone@acme.test", Disabled: true},
		},
		roles: map[int64]map[int64]latchkey.Role{
			1: {7: latchkey.RoleAdmin}, 2: {7: latchkey.RoleMember}, 3: {8: latchkey.RoleAdmin}, 4: {7: latchkey.RoleAdmin},
		},
	}
}

// authenticator serves the people through mocks.
func (pp *people) authenticator() *auth.Authenticator {
	users := &mock.UserService{
		FindUserByIDFn: func(ctx context.Context, id int64) (*latchkey.User, error) {
			if u, ok := pp.users[id]; ok {
				c := *u
				return &c, nil
			}
			return nil, latchkey.Errorf(latchkey.ENOTFOUND, "user %d not found", id)
		},
		FindUserByEmailFn: func(ctx context.Context, email string) (*latchkey.User, string, error) {
			for _, u := range pp.users {
				if u.Email == email {
					return u, "h:pw of " + string(rune('0'+u.ID)), nil
				}
			}
			return nil, "", latchkey.Errorf(latchkey.ENOTFOUND, "no user")
		},
		FindMembershipsFn: func(ctx context.Context, userID int64) ([]*latchkey.Membership, error) {
			var ms []*latchkey.Membership
			for acc, role := range pp.roles[userID] {
				ms = append(ms, &latchkey.Membership{AccountID: acc, UserID: userID, Role: role})
			}
			return ms, nil
		},
		FindMembersFn: func(ctx context.Context, accountID int64) ([]*latchkey.Member, error) {
			var out []*latchkey.Member
			for id, accs := range pp.roles {
				if role, ok := accs[accountID]; ok {
					out = append(out, &latchkey.Member{User: *pp.users[id], Role: role})
				}
			}
			return out, nil
		},
		UpdateUserFn: func(ctx context.Context, id int64, u *latchkey.UserUpdate) (*latchkey.User, error) {
			pp.updates, pp.updated = append(pp.updates, *u), append(pp.updated, id)
			c := *pp.users[id]
			return &c, nil
		},
	}
	return &auth.Authenticator{Users: users, Passwords: &mock.PasswordHasher{
		HashFn:   func(pw string) (string, error) { pp.hashes++; return "h:" + pw, nil },
		VerifyFn: func(enc, pw string) (bool, error) { return enc == "h:"+pw, nil },
	}}
}

// Principals of the lifecycle tests, all acting in account 7 but the
// operator.
var (
	operator    = &auth.Principal{Actor: latchkey.Actor{Kind: latchkey.ActorOperator}, AccountID: 7}
	admin       = &auth.Principal{Actor: latchkey.Actor{Kind: latchkey.ActorUser, ID: 1, IP: "192.0.2.1"}, AccountID: 7, Role: latchkey.RoleAdmin}
	member      = &auth.Principal{Actor: latchkey.Actor{Kind: latchkey.ActorUser, ID: 2, IP: "192.0.2.2"}, AccountID: 7, Role: latchkey.RoleMember}
	adminKey    = &auth.Principal{Actor: latchkey.Actor{Kind: latchkey.ActorRootKey, ID: 9}, AccountID: 7, Permissions: []string{latchkey.PermAccountAdmin}}
	readOnlyKey = &auth.Principal{Actor: latchkey.Actor{Kind: latchkey.ActorRootKey, ID: 10}, AccountID: 7, Permissions: []string{latchkey.PermKeysRead}}
)

func ptr[T any](v T) *T { return &v }

// UpdateUser: who may change whom, what is checked before anyone is asked,
// and what reaches the store.
func TestUpdateUser(t *testing.T) {
	for _, tt := range []struct {
		name  string
		p     *auth.Principal
		id    int64
		c     auth.UserChange
		code  string // "" for success
		field string // the invalid field
		want  *latchkey.UserUpdate
	}{
		{"the operator renames anyone", operator, 3, auth.UserChange{Name: ptr("Bea")}, "", "", &latchkey.UserUpdate{Name: ptr("Bea")}},
		{"an admin deactivates a member", admin, 2, auth.UserChange{Disabled: ptr(true)}, "", "", &latchkey.UserUpdate{Disabled: ptr(true)}},
		{"an admin resets a member", admin, 2, auth.UserChange{Password: ptr("a new password!")}, "", "", &latchkey.UserUpdate{PasswordHash: ptr("h:a new password!")}},
		{"a root key with account:admin reactivates", adminKey, 4, auth.UserChange{Disabled: ptr(false)}, "", "", &latchkey.UserUpdate{Disabled: ptr(false)}},
		{"a user renames themself", member, 2, auth.UserChange{Name: ptr("Me")}, "", "", &latchkey.UserUpdate{Name: ptr("Me")}},
		{"an empty change", admin, 2, auth.UserChange{}, "", "", nil},
		{"another account's user is not found", admin, 3, auth.UserChange{Name: ptr("x")}, latchkey.ENOTFOUND, "", nil},
		{"an unknown user is not found", admin, 99, auth.UserChange{Name: ptr("x")}, latchkey.ENOTFOUND, "", nil},
		{"a member may not rename an admin", member, 1, auth.UserChange{Name: ptr("x")}, latchkey.EFORBIDDEN, "", nil},
		{"a root key without account:admin", readOnlyKey, 2, auth.UserChange{Name: ptr("x")}, latchkey.EFORBIDDEN, "", nil},
		{"nobody deactivates themself", admin, 1, auth.UserChange{Disabled: ptr(true)}, latchkey.EFORBIDDEN, "", nil},
		{"an own password needs the current one", admin, 1, auth.UserChange{Password: ptr("a new password!")}, latchkey.EFORBIDDEN, "", nil},
		{"the last active admin stays", operator, 1, auth.UserChange{Disabled: ptr(true)}, latchkey.ECONFLICT, "", nil},
		{"a bad name, before anything else", readOnlyKey, 99, auth.UserChange{Name: ptr("a\x00")}, latchkey.EINVALID, "name", nil},
		{"a short password, before anything else", readOnlyKey, 99, auth.UserChange{Password: ptr("short")}, latchkey.EINVALID, "password", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pp := newPeople()
			u, err := pp.authenticator().UpdateUser(context.Background(), tt.p, tt.id, tt.c)
			if code := latchkey.ErrorCode(err); code != tt.code {
				t.Fatalf("code: got %q (%v), want %q", code, err, tt.code)
			}
			if _, ok := latchkey.ErrorFields(err)[tt.field]; tt.field != "" && !ok {
				t.Fatalf("fields: got %v, want %s named", latchkey.ErrorFields(err), tt.field)
			}
			if tt.code != "" {
				if len(pp.updates) != 0 || pp.hashes != 0 {
					t.Fatalf("refused, yet %d updates and %d hashes were made", len(pp.updates), pp.hashes)
				}
				return
			}
			if u == nil || u.ID != tt.id {
				t.Fatalf("answer: got %+v, want user %d", u, tt.id)
			}
			switch {
			case tt.want == nil && len(pp.updates) != 0:
				t.Fatalf("an empty change updated %+v", pp.updates)
			case tt.want != nil && (len(pp.updates) != 1 || pp.updated[0] != tt.id || !sameUpdate(pp.updates[0], *tt.want)):
				t.Fatalf("updates: got %+v of %v, want %+v of %d", pp.updates, pp.updated, *tt.want, tt.id)
			}
		})
	}
}

// sameUpdate compares two updates by the values their fields point to.
func sameUpdate(a, b latchkey.UserUpdate) bool {
	eq := func(x, y *string) bool { return (x == nil) == (y == nil) && (x == nil || *x == *y) }
	return eq(a.Name, b.Name) && eq(a.PasswordHash, b.PasswordHash) &&
		(a.Disabled == nil) == (b.Disabled == nil) && (a.Disabled == nil || *a.Disabled == *b.Disabled)
}

// With a second active admin, the first may be deactivated.
func TestUpdateUserAnotherAdmin(t *testing.T) {
	pp := newPeople()
	pp.roles[2][7] = latchkey.RoleAdmin
	if _, err := pp.authenticator().UpdateUser(context.Background(), operator, 1, auth.UserChange{Disabled: ptr(true)}); err != nil {
		t.Fatalf("got %v, want user 1 deactivated while user 2 also admins account 7", err)
	}
}

// ChangePassword checks the current password, names the field at fault,
// is throttled as sign-in is, and stores only the new hash.
func TestChangePassword(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name, current, next string
		p                   *auth.Principal
		code, field         string
	}{
		{"ok", "pw of 2", "a new password!", member, "", ""},
		{"wrong current", "pw of 1", "a new password!", member, latchkey.EINVALID, "current"},
		{"no current", "", "a new password!", member, latchkey.EINVALID, "current"},
		{"overlong current", strings.Repeat("p", 257), "a new password!", member, latchkey.EINVALID, "current"},
		{"short new", "pw of 2", "short", member, latchkey.EINVALID, "new"},
		{"not a user", "pw of 2", "a new password!", adminKey, latchkey.EFORBIDDEN, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pp := newPeople()
			err := pp.authenticator().ChangePassword(ctx, tt.p, tt.current, tt.next)
			if code := latchkey.ErrorCode(err); code != tt.code {
				t.Fatalf("code: got %q (%v), want %q", code, err, tt.code)
			}
			if _, ok := latchkey.ErrorFields(err)[tt.field]; tt.field != "" && !ok {
				t.Fatalf("fields: got %v, want %s named", latchkey.ErrorFields(err), tt.field)
			}
			want := 0
			if tt.code == "" {
				want = 1
			}
			if len(pp.updates) != want || (want == 1 && (pp.updated[0] != 2 || *pp.updates[0].PasswordHash != "h:"+tt.next)) {
				t.Fatalf("updates: got %+v of %v, want %d with the new hash", pp.updates, pp.updated, want)
			}
		})
	}
	t.Run("throttled per email", func(t *testing.T) {
		pp := newPeople()
		a := pp.authenticator()
		a.LoginLimiter = inmem.NewRateLimiter()
		var err error
		for range 11 {
			err = a.ChangePassword(ctx, member, "wrong guess!", "a new password!")
		}
		if latchkey.ErrorCode(err) != latchkey.ERATELIMITED {
			t.Fatalf("11th guess in a minute: got %v, want rate_limited", err)
		}
	})
}

// CompleteSetup hands the store a normalised user and the hash, and
// refuses a missing token before spending a hash on it.
func TestCompleteSetup(t *testing.T) {
	ctx := context.Background()
	pp := newPeople()
	a := pp.authenticator()
	if _, err := a.CompleteSetup(ctx, "tok", "ada@acme.test", "Ada", "correct horse battery"); latchkey.ErrorCode(err) != latchkey.EUNAVAILABLE {
		t.Fatalf("without Setup: got %v, want unavailable", err)
	}
	var got struct {
		token, hash string
		u           latchkey.User
	}
	var users int64
	a.Users.(*mock.UserService).CountUsersFn = func(ctx context.Context) (int64, error) { return users, nil }
	a.Setup = &mock.SetupService{CompleteSetupFn: func(ctx context.Context, token string, u *latchkey.User, hash string) (*latchkey.User, error) {
		got.token, got.hash, got.u = token, hash, *u
		u.ID = 1
		return u, nil
	}}
	u, err := a.CompleteSetup(ctx, "tok", " Ada@ACME.test ", "Ada", "correct horse battery")
	if err != nil || u.ID != 1 {
		t.Fatalf("got %+v, %v, want the new user", u, err)
	}
	if got.token != "tok" || got.hash != "h:correct horse battery" || got.u.Email != "ada@acme.test" || got.u.Name != "Ada" {
		t.Fatalf("store got %+v, want the token, the hash and ada@acme.test", got)
	}
	users, got.hash = 1, ""
	if _, err := a.CompleteSetup(ctx, "tok", "eve@acme.test", "", "correct horse battery"); latchkey.ErrorCode(err) != latchkey.ECONFLICT || got.hash != "" {
		t.Fatalf("once a user exists: got %v (store saw hash %q), want conflict before any hashing", err, got.hash)
	}
	users = 0
	for _, tt := range []struct {
		name, token, email, password, code string
	}{
		{"no token", "", "ada@acme.test", "correct horse battery", latchkey.EUNAUTHORIZED},
		{"overlong token", strings.Repeat("t", 257), "ada@acme.test", "correct horse battery", latchkey.EUNAUTHORIZED},
		{"bad email", "tok", "ada", "correct horse battery", latchkey.EINVALID},
		{"short password", "tok", "ada@acme.test", "short", latchkey.EINVALID},
	} {
		t.Run(tt.name, func(t *testing.T) {
			hashes := pp.hashes
			if _, err := a.CompleteSetup(ctx, tt.token, tt.email, "Ada", tt.password); latchkey.ErrorCode(err) != tt.code {
				t.Fatalf("got %v, want %s", err, tt.code)
			}
			if pp.hashes != hashes {
				t.Fatal("a refused setup spent a password hash")
			}
		})
	}
}

// A deactivated user cannot sign in, and hears what a wrong password hears.
func TestSignInDeactivated(t *testing.T) {
	pp := newPeople()
	a := pp.authenticator()
	a.Sessions = &mock.SessionService{}
	rec := func(email, password string) error {
		_, err := a.SignIn(httptest.NewRecorder(), httptest.NewRequest("POST", "/v1/auth/login", nil), email, password)
		return err
	}
	gone, wrong := rec("gone@acme.test", "pw of 4"), rec("admin@acme.test", "wrong password!")
	if latchkey.ErrorCode(gone) != latchkey.EUNAUTHORIZED || latchkey.ErrorMessage(gone) != latchkey.ErrorMessage(wrong) {
		t.Fatalf("deactivated: got %v, want what a wrong password gets (%v)", gone, wrong)
	}
}
