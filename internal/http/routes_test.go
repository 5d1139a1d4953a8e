package http_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
)

// badInput is one malformed request and the field its 400 must name.
type badInput struct {
	name, method, path, body, field string
}

// checkBadInput sends each request with the root key and wants a 400
// problem+json whose errors name the field.
func checkBadInput(t *testing.T, f *fixture, cases []badInput) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			st, b, h := f.call(t, tt.method, tt.path, tt.body, append(bearer(f.root), "Content-Type", "application/json")...)
			if st != 400 {
				t.Fatalf("status: got %d (%s), want 400", st, b)
			}
			if ct := h.Get("Content-Type"); ct != "application/problem+json" {
				t.Fatalf("content type: got %q, want application/problem+json", ct)
			}
			p := problem(t, b)
			if p.Code != latchkey.EINVALID || p.Status != 400 {
				t.Fatalf("problem: got code %q status %d, want %q 400", p.Code, p.Status, latchkey.EINVALID)
			}
			if _, ok := p.Errors[tt.field]; !ok {
				t.Fatalf("errors: got %v, want one for %q", p.Errors, tt.field)
			}
		})
	}
}

// GET /v1/keys/{id}/usage: defaults, an explicit range, and each bad
// parameter named.
func TestUsageQuery(t *testing.T) {
	f := MustFixture(t)
	var got latchkey.UsageFilter
	f.keys.FindUsageFn = func(ctx context.Context, accountID, keyID int64, uf latchkey.UsageFilter) ([]*latchkey.UsageBucket, error) {
		if accountID != 7 || keyID != 5 {
			return nil, latchkey.Errorf(latchkey.ENOTFOUND, "key %d not found", keyID)
		}
		got = uf
		return []*latchkey.UsageBucket{{Start: uf.Since, Counts: map[string]int64{"VALID": 3}, Total: 3}}, nil
	}

	t.Run("defaults", func(t *testing.T) {
		st, b, _ := f.call(t, "GET", "/v1/keys/5/usage", "", bearer(f.readOnly)...)
		if st != 200 || !strings.Contains(b, `"total":3`) {
			t.Fatalf("got %d %s, want 200 with the buckets", st, b)
		}
		if got.Bucket != time.Hour {
			t.Fatalf("bucket: got %v, want %v", got.Bucket, time.Hour)
		}
		if d := got.Until.Sub(got.Since); d != 24*time.Hour {
			t.Fatalf("range: got %v, want %v", d, 24*time.Hour)
		}
	})
	t.Run("explicit range", func(t *testing.T) {
		st, b, _ := f.call(t, "GET", "/v1/keys/5/usage?bucket=day&since=2026-01-01T00:00:00Z&until=2026-01-08T00:00:00%2B02:00", "", bearer(f.root)...)
		if st != 200 {
			t.Fatalf("got %d %s, want 200", st, b)
		}
		since := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		until := time.Date(2026, 1, 7, 22, 0, 0, 0, time.UTC)
		if got.Bucket != 24*time.Hour || !got.Since.Equal(since) || !got.Until.Equal(until) {
			t.Fatalf("filter: got %+v, want a day bucket from %v to %v", got, since, until)
		}
	})
	t.Run("unknown key", func(t *testing.T) {
		st, b, _ := f.call(t, "GET", "/v1/keys/6/usage", "", bearer(f.root)...)
		if st != 404 || problem(t, b).Code != latchkey.ENOTFOUND {
			t.Fatalf("got %d %s, want 404", st, b)
		}
	})

	checkBadInput(t, f, append(badTimeRanges("/v1/keys/5/usage"),
		badInput{"unknown bucket", "GET", "/v1/keys/5/usage?bucket=week", "", "bucket"},
		badInput{"too many buckets", "GET", "/v1/keys/5/usage?bucket=minute&since=2026-01-01T00:00:00Z&until=2026-03-01T00:00:00Z", "", "bucket"},
		badInput{"unknown parameter", "GET", "/v1/keys/5/usage?bucktes=day", "", "bucktes"},
		badInput{"bad key id", "GET", "/v1/keys/abc/usage", "", "id"},
	))
}

// badTimeRanges are the since and until every GET route taking a time
// range refuses (queryTime's format, then since before until), on path.
func badTimeRanges(path string) []badInput {
	return []badInput{
		{"since not a time", "GET", path + "?since=yesterday", "", "since"},
		{"until not a date", "GET", path + "?until=2026-13-01", "", "until"},
		{"until a date without a time", "GET", path + "?until=2026-01-01", "", "until"},
		{"until before since", "GET", path + "?since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z", "", "since"},
		{"empty range", "GET", path + "?since=2026-01-01T00:00:00Z&until=2026-01-01T00:00:00Z", "", "since"},
	}
}

// GET /v1/audit: every filter reaches the store, and each bad parameter
// is named.
func TestAuditQuery(t *testing.T) {
	f := MustFixture(t)
	var got latchkey.AuditFilter
	f.audit.FindAuditEventsFn = func(ctx context.Context, af latchkey.AuditFilter) ([]*latchkey.AuditEvent, string, error) {
		got = af
		return nil, "", nil
	}
	st, b, _ := f.call(t, "GET", "/v1/audit?key_id=5&actor_kind=root_key&actor_id=0&action=key.create&since=2026-01-01T00:00:00Z&until=2026-02-01T00:00:00Z&limit=20&cursor=c1", "", bearer(f.root)...)
	if st != 200 || !strings.Contains(b, `"data":[]`) {
		t.Fatalf("got %d %s, want 200 with an empty page", st, b)
	}
	if got.AccountID != 7 || got.KeyID == nil || *got.KeyID != 5 || got.ActorKind == nil || *got.ActorKind != latchkey.ActorRootKey ||
		got.ActorID == nil || *got.ActorID != 0 || got.Action == nil || *got.Action != "key.create" ||
		got.Since == nil || got.Since.Month() != time.January || got.Until == nil || got.Until.Month() != time.February ||
		got.Limit != 20 || got.Cursor != "c1" {
		t.Fatalf("filter: got %+v", got)
	}

	checkBadInput(t, f, append(badTimeRanges("/v1/audit"),
		badInput{"key_id not a number", "GET", "/v1/audit?key_id=abc", "", "key_id"},
		badInput{"key_id zero", "GET", "/v1/audit?key_id=0", "", "key_id"},
		badInput{"unknown actor kind", "GET", "/v1/audit?actor_kind=robot", "", "actor_kind"},
		badInput{"negative actor id", "GET", "/v1/audit?actor_id=-1", "", "actor_id"},
		badInput{"limit too large", "GET", "/v1/audit?limit=1001", "", "limit"},
		badInput{"unknown parameter", "GET", "/v1/audit?actor=root", "", "actor"},
	))
}

// POST /v1/permissions: created in the caller's account; conflicts, a
// caller without account:admin and bad names refused.
func TestCreatePermission(t *testing.T) {
	f := MustFixture(t)
	var got *latchkey.Permission
	f.perms.CreatePermissionFn = func(ctx context.Context, p *latchkey.Permission) error {
		if p.Name == "taken" {
			return latchkey.Errorf(latchkey.ECONFLICT, "permission %q exists", p.Name)
		}
		got = p
		return nil
	}
	st, b, _ := f.call(t, "POST", "/v1/permissions", `{"name":"reports:read","description":"read reports"}`, bearer(f.root)...)
	if st != 201 {
		t.Fatalf("got %d %s, want 201", st, b)
	}
	if got == nil || got.AccountID != 7 || got.Name != "reports:read" || got.Description != "read reports" {
		t.Fatalf("created: got %+v, want reports:read in account 7", got)
	}
	if st, b, _ := f.call(t, "POST", "/v1/permissions", `{"name":"taken"}`, bearer(f.root)...); st != 409 {
		t.Fatalf("existing name: got %d %s, want 409", st, b)
	}
	if st, b, _ := f.call(t, "POST", "/v1/permissions", `{"name":"x"}`, bearer(f.readOnly)...); st != 403 {
		t.Fatalf("without account:admin: got %d %s, want 403", st, b)
	}

	checkBadInput(t, f, []badInput{
		{"name absent", "POST", "/v1/permissions", `{}`, "name"},
		{"name empty", "POST", "/v1/permissions", `{"name":""}`, "name"},
		{"name with a space", "POST", "/v1/permissions", `{"name":"read keys"}`, "name"},
		{"name with a slash", "POST", "/v1/permissions", `{"name":"keys/read"}`, "name"},
		{"name not ASCII", "POST", "/v1/permissions", `{"name":"lesen\u00e4"}`, "name"},
		{"name too long", "POST", "/v1/permissions", `{"name":"` + strings.Repeat("a", 101) + `"}`, "name"},
		{"name not a string", "POST", "/v1/permissions", `{"name":1}`, "name"},
		{"description too long", "POST", "/v1/permissions", `{"name":"ok","description":"` + strings.Repeat("d", 2001) + `"}`, "description"},
		{"unknown field", "POST", "/v1/permissions", `{"name":"ok","nmae":"x"}`, "nmae"},
	})
	if got.Name != "reports:read" {
		t.Fatalf("a refused permission reached the store: got %+v", got)
	}
}

// DELETE /v1/permissions/{name} refuses a malformed name.
func TestDeletePermissionBadName(t *testing.T) {
	f := MustFixture(t)
	checkBadInput(t, f, []badInput{
		{"name with a space", "DELETE", "/v1/permissions/read%20keys", "", "name"},
		{"name too long", "DELETE", "/v1/permissions/" + strings.Repeat("a", 101), "", "name"},
	})
}

// A key naming a permission outside the catalogue is a 400 naming it.
func TestCreateKeyUnknownPermission(t *testing.T) {
	f := MustFixture(t)
	catalogue := map[string]bool{"read": true, "write": true}
	// As the store does (internal/sqldb checkPermissions): the first name
	// not in the catalogue is an invalid error naming permissions.
	f.keys.CreateKeyFn = func(ctx context.Context, accountID int64, c *latchkey.KeyCreate) (*latchkey.Key, string, error) {
		for _, n := range c.Permissions {
			if !catalogue[n] {
				return nil, "", latchkey.FieldError("permissions", "unknown permission %q", n)
			}
		}
		return &latchkey.Key{ID: 9, AccountID: accountID, Permissions: c.Permissions}, "lk_new", nil
	}
	if st, b, _ := f.call(t, "POST", "/v1/keys", `{"permissions":["read","write"]}`, bearer(f.root)...); st != 201 {
		t.Fatalf("known permissions: got %d %s, want 201", st, b)
	}
	st, b, _ := f.call(t, "POST", "/v1/keys", `{"permissions":["read","delete"]}`, bearer(f.root)...)
	if st != 400 {
		t.Fatalf("status: got %d %s, want 400", st, b)
	}
	p := problem(t, b)
	if p.Code != latchkey.EINVALID || !strings.Contains(p.Errors["permissions"], `"delete"`) {
		t.Fatalf("problem: got %+v, want errors naming permissions and the unknown %q", p, "delete")
	}
	if !strings.Contains(p.Detail, "permissions") {
		t.Fatalf("detail: got %q, want it to name permissions", p.Detail)
	}
	// a malformed name is refused before the store is asked
	checkBadInput(t, f, []badInput{
		{"malformed permission", "POST", "/v1/keys", `{"permissions":["no spaces please"]}`, "permissions"},
	})
}

// A key's devices: list, delete, not found, and the permission needed.
func TestDevices(t *testing.T) {
	f := MustFixture(t)
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	f.keys.FindDevicesFn = func(ctx context.Context, accountID, keyID int64) ([]*latchkey.Device, error) {
		switch {
		case accountID == 7 && keyID == 5:
			return []*latchkey.Device{{KeyID: 5, DeviceID: "phone-1", CreatedAt: created}}, nil
		case accountID == 7 && keyID == 6:
			return nil, nil
		}
		return nil, latchkey.Errorf(latchkey.ENOTFOUND, "key %d not found", keyID)
	}
	var deleted []string
	f.keys.DeleteDeviceFn = func(ctx context.Context, accountID, keyID int64, deviceID string) error {
		if accountID != 7 || keyID != 5 || deviceID == "gone" {
			return latchkey.Errorf(latchkey.ENOTFOUND, "device not found")
		}
		deleted = append(deleted, deviceID)
		return nil
	}

	t.Run("list", func(t *testing.T) {
		st, b, _ := f.call(t, "GET", "/v1/keys/5/devices", "", bearer(f.readOnly)...)
		if st != 200 {
			t.Fatalf("got %d %s, want 200", st, b)
		}
		var pg struct {
			Data       []latchkey.Device `json:"data"`
			NextCursor *string           `json:"next_cursor"`
		}
		if err := json.Unmarshal([]byte(b), &pg); err != nil {
			t.Fatal(err)
		}
		if len(pg.Data) != 1 || pg.Data[0].DeviceID != "phone-1" || !pg.Data[0].CreatedAt.Equal(created) || pg.NextCursor != nil {
			t.Fatalf("page: got %+v, want phone-1 and no next cursor", pg)
		}
	})
	t.Run("list empty is an empty array", func(t *testing.T) {
		st, b, _ := f.call(t, "GET", "/v1/keys/6/devices", "", bearer(f.root)...)
		if st != 200 || !strings.Contains(b, `"data":[]`) {
			t.Fatalf("got %d %s, want 200 with data []", st, b)
		}
	})
	t.Run("delete", func(t *testing.T) {
		st, b, _ := f.call(t, "DELETE", "/v1/keys/5/devices/phone%201", "", bearer(f.root)...)
		if st != 204 || b != "" {
			t.Fatalf("got %d %q, want 204 without a body", st, b)
		}
		if len(deleted) != 1 || deleted[0] != "phone 1" {
			t.Fatalf("deleted: got %q, want [phone 1]", deleted)
		}
	})
	for _, tt := range []struct {
		name, method, path string
	}{
		{"list of an unknown key", "GET", "/v1/keys/99/devices"},
		{"delete on an unknown key", "DELETE", "/v1/keys/99/devices/phone-1"},
		{"delete an unknown device", "DELETE", "/v1/keys/5/devices/gone"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st, b, _ := f.call(t, tt.method, tt.path, "", bearer(f.root)...)
			if st != 404 || problem(t, b).Code != latchkey.ENOTFOUND {
				t.Fatalf("got %d %s, want 404 not_found", st, b)
			}
		})
	}
	t.Run("delete needs keys:write", func(t *testing.T) {
		if st, b, _ := f.call(t, "DELETE", "/v1/keys/5/devices/phone-1", "", bearer(f.readOnly)...); st != 403 {
			t.Fatalf("got %d %s, want 403", st, b)
		}
	})
	checkBadInput(t, f, []badInput{
		{"list bad key id", "GET", "/v1/keys/abc/devices", "", "id"},
		{"delete bad key id", "DELETE", "/v1/keys/-1/devices/phone-1", "", "id"},
		{"device id too long", "DELETE", "/v1/keys/5/devices/" + strings.Repeat("d", 201), "", "device_id"},
	})
}

// GET and POST /v1/users: list, create (hashing the password), conflicts
// and bad input.
func TestUsers(t *testing.T) {
	f := MustFixture(t)
	f.users.FindMembersFn = func(ctx context.Context, accountID int64) ([]*latchkey.Member, error) {
		if accountID != 7 {
			t.Errorf("account: got %d, want 7", accountID)
		}
		return []*latchkey.Member{{User: latchkey.User{ID: 1, Email: "admin@acme.test"}, Role: latchkey.RoleAdmin}}, nil
	}
	var hash string
	var membership latchkey.Membership
	f.users.CreateMemberFn = func(ctx context.Context, accountID int64, u *latchkey.User, passwordHash string, role latchkey.Role) error {
		if u.Email == "taken@acme.test" {
			return latchkey.Errorf(latchkey.ECONFLICT, "email taken")
		}
		u.ID, hash = 12, passwordHash
		membership = latchkey.Membership{AccountID: accountID, UserID: u.ID, Role: role}
		return nil
	}

	t.Run("list", func(t *testing.T) {
		st, b, _ := f.call(t, "GET", "/v1/users", "", bearer(f.root)...)
		if st != 200 || !strings.Contains(b, `"email":"admin@acme.test"`) || !strings.Contains(b, `"role":"admin"`) {
			t.Fatalf("got %d %s, want 200 with the admin", st, b)
		}
		if st, b, _ := f.call(t, "GET", "/v1/users", "", bearer(f.readOnly)...); st != 403 {
			t.Fatalf("without account:admin: got %d %s, want 403", st, b)
		}
	})
	t.Run("create", func(t *testing.T) {
		st, b, _ := f.call(t, "POST", "/v1/users", `{"email":" New@Acme.test ","name":"New","password":"long enough password"}`, bearer(f.root)...)
		if st != 201 {
			t.Fatalf("got %d %s, want 201", st, b)
		}
		var m latchkey.Member
		if err := json.Unmarshal([]byte(b), &m); err != nil {
			t.Fatal(err)
		}
		if m.ID != 12 || m.Email != "new@acme.test" || m.Role != latchkey.RoleMember {
			t.Fatalf("member: got %+v, want id 12 new@acme.test member", m)
		}
		if strings.Contains(b, "long enough password") || strings.Contains(b, hash) {
			t.Fatalf("the answer carries the password or its hash: %s", b)
		}
		if hash != "h:long enough password" {
			t.Fatalf("hash: got %q, want the hasher's", hash)
		}
		if want := (latchkey.Membership{AccountID: 7, UserID: 12, Role: latchkey.RoleMember}); membership != want {
			t.Fatalf("membership: got %+v, want %+v", membership, want)
		}
	})
	t.Run("create admin", func(t *testing.T) {
		st, b, _ := f.call(t, "POST", "/v1/users", `{"email":"boss@acme.test","password":"long enough password","role":"admin"}`, bearer(f.root)...)
		if st != 201 || membership.Role != latchkey.RoleAdmin {
			t.Fatalf("got %d %s role %q, want 201 admin", st, b, membership.Role)
		}
	})
	t.Run("email taken", func(t *testing.T) {
		st, b, _ := f.call(t, "POST", "/v1/users", `{"email":"taken@acme.test","password":"long enough password"}`, bearer(f.root)...)
		if st != 409 {
			t.Fatalf("got %d %s, want 409", st, b)
		}
	})
	checkBadInput(t, f, []badInput{
		{"unknown role", "POST", "/v1/users", `{"email":"a@acme.test","password":"long enough password","role":"owner"}`, "role"},
		{"role not a string", "POST", "/v1/users", `{"email":"a@acme.test","password":"long enough password","role":1}`, "role"},
		{"bad email", "POST", "/v1/users", `{"email":"not-an-email","password":"long enough password"}`, "email"},
		{"no email", "POST", "/v1/users", `{"password":"long enough password"}`, "email"},
		{"short password", "POST", "/v1/users", `{"email":"a@acme.test","password":"short"}`, "password"},
		{"long password", "POST", "/v1/users", `{"email":"a@acme.test","password":"` + strings.Repeat("p", 257) + `"}`, "password"},
		{"unknown field", "POST", "/v1/users", `{"email":"a@acme.test","password":"long enough password","admin":true}`, "admin"},
	})
}

// PUT /v1/accounts/{id}/members/{user_id}: who may set whose role, in
// which account.
func TestSetMember(t *testing.T) {
	f := MustFixture(t)
	var got latchkey.Membership
	f.users.SetMembershipFn = func(ctx context.Context, accountID, userID int64, role latchkey.Role) error {
		if userID == 99 {
			return latchkey.Errorf(latchkey.ENOTFOUND, "user %d not found", userID)
		}
		got = latchkey.Membership{AccountID: accountID, UserID: userID, Role: role}
		return nil
	}
	f.users.FindUserByIDFn = func(ctx context.Context, id int64) (*latchkey.User, error) {
		return &latchkey.User{ID: id, Email: "member@acme.test"}, nil
	}
	// user 2 is in account 7, user 5 only in account 8, user 99 nowhere
	f.users.FindMembershipsFn = func(ctx context.Context, userID int64) ([]*latchkey.Membership, error) {
		switch userID {
		case 2:
			return []*latchkey.Membership{{AccountID: 7, UserID: 2, Role: latchkey.RoleMember}}, nil
		case 5:
			return []*latchkey.Membership{{AccountID: 8, UserID: 5, Role: latchkey.RoleAdmin}}, nil
		}
		return []*latchkey.Membership{}, nil
	}

	for _, tt := range []struct {
		name    string
		path    string
		body    string
		headers []string
		want    int
		member  latchkey.Membership
	}{
		{"root key promotes", "/v1/accounts/7/members/2", `{"role":"admin"}`, bearer(f.root), 200, latchkey.Membership{AccountID: 7, UserID: 2, Role: latchkey.RoleAdmin}},
		{"root key demotes", "/v1/accounts/7/members/2", `{"role":"member"}`, bearer(f.root), 200, latchkey.Membership{AccountID: 7, UserID: 2, Role: latchkey.RoleMember}},
		{"operator in another account", "/v1/accounts/8/members/3", `{"role":"member"}`, []string{"X-Admin-Secret", adminSecret}, 200, latchkey.Membership{AccountID: 8, UserID: 3, Role: latchkey.RoleMember}},
		{"root key in another account", "/v1/accounts/8/members/2", `{"role":"admin"}`, bearer(f.root), 403, latchkey.Membership{}},
		{"without account:admin", "/v1/accounts/7/members/2", `{"role":"admin"}`, bearer(f.readOnly), 403, latchkey.Membership{}},
		{"unknown user", "/v1/accounts/7/members/99", `{"role":"admin"}`, bearer(f.root), 404, latchkey.Membership{}},
		{"another account's user is not found", "/v1/accounts/7/members/5", `{"role":"member"}`, bearer(f.root), 404, latchkey.Membership{}},
		{"the operator brings in another account's user", "/v1/accounts/7/members/5", `{"role":"member"}`, []string{"X-Admin-Secret", adminSecret}, 200,
			latchkey.Membership{AccountID: 7, UserID: 5, Role: latchkey.RoleMember}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got = latchkey.Membership{}
			st, b, _ := f.call(t, "PUT", tt.path, tt.body, tt.headers...)
			if st != tt.want {
				t.Fatalf("status: got %d (%s), want %d", st, b, tt.want)
			}
			if got != tt.member {
				t.Fatalf("membership: got %+v, want %+v", got, tt.member)
			}
			if st == 200 {
				var m latchkey.Member
				if err := json.Unmarshal([]byte(b), &m); err != nil {
					t.Fatal(err)
				}
				if m.ID != tt.member.UserID || m.Role != tt.member.Role || m.Email != "member@acme.test" {
					t.Fatalf("answer: got %+v, want user %d as %s", m, tt.member.UserID, tt.member.Role)
				}
			}
		})
	}

	got = latchkey.Membership{}
	checkBadInput(t, f, []badInput{
		{"unknown role", "PUT", "/v1/accounts/7/members/2", `{"role":"owner"}`, "role"},
		{"role absent", "PUT", "/v1/accounts/7/members/2", `{}`, "role"},
		{"role empty", "PUT", "/v1/accounts/7/members/2", `{"role":""}`, "role"},
		{"role not a string", "PUT", "/v1/accounts/7/members/2", `{"role":true}`, "role"},
		{"unknown field", "PUT", "/v1/accounts/7/members/2", `{"role":"admin","rol":"x"}`, "rol"},
		{"bad account id", "PUT", "/v1/accounts/acme/members/2", `{"role":"admin"}`, "id"},
		{"bad user id", "PUT", "/v1/accounts/7/members/0", `{"role":"admin"}`, "user_id"},
	})
	if got != (latchkey.Membership{}) {
		t.Fatalf("a refused request reached the store: got %+v", got)
	}
}
