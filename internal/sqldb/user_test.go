package sqldb_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/sqldb"
)

// testPasswordHash stands for a PHC string; the store does not read it.
const testPasswordHash = "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"

// MustCreateUser creates a user with testPasswordHash.
func MustCreateUser(tb testing.TB, s *sqldb.Store, email, name string) *latchkey.User {
	tb.Helper()
	u := &latchkey.User{Email: email, Name: name}
	if err := s.CreateUser(ctx, u, testPasswordHash); err != nil {
		tb.Fatalf("CreateUser(%q): %v", email, err)
	}
	return u
}

// MustSetMembership gives the user the role in the account.
func MustSetMembership(tb testing.TB, s *sqldb.Store, accountID, userID int64, role latchkey.Role) {
	tb.Helper()
	if err := s.SetMembership(ctx, accountID, userID, role); err != nil {
		tb.Fatalf("SetMembership(%d, %d, %s): %v", accountID, userID, role, err)
	}
}

// MustCountUsers returns the number of users.
func MustCountUsers(tb testing.TB, s *sqldb.Store) int64 {
	tb.Helper()
	n, err := s.CountUsers(ctx)
	if err != nil {
		tb.Fatalf("CountUsers: %v", err)
	}
	return n
}

// testUsers checks creating and finding users, emails case-insensitively, and the audit without the hash.
func testUsers(t *testing.T, b backend) {
	e := MustEnv(t, b)
	s := e.store

	// With no account there is nowhere to audit the creation: it fails
	// and writes nothing.
	if err := s.CreateUser(ctx, &latchkey.User{Email: "early@acme.test"}, testPasswordHash); err == nil {
		t.Fatal("CreateUser with no account: got nil, want an error")
	}
	if n := MustCountUsers(t, s); n != 0 {
		t.Fatalf("CountUsers: got %d, want 0", n)
	}

	acme := MustCreateAccount(t, s, "acme")
	e.clock.Add(time.Second)
	u := &latchkey.User{Email: "  Ada.Lovelace@Example.COM ", Name: "Ada"}
	actx := latchkey.NewContextWithActor(ctx, testActor)
	if err := s.CreateUser(actx, u, testPasswordHash); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	if u.ID <= 0 || u.Email != "ada.lovelace@example.com" || !u.CreatedAt.Equal(e.clock.Now()) {
		t.Errorf("created: got %s, want an id, the lowercased email and the clock's time", dump(u))
	}

	got, err := s.FindUserByID(ctx, u.ID)
	if err != nil || !reflect.DeepEqual(got, u) {
		t.Errorf("FindUserByID: got %s, %v, want %s", dump(got), err, dump(u))
	}
	for _, email := range []string{"ada.lovelace@example.com", "ADA.LOVELACE@EXAMPLE.COM", " Ada.Lovelace@example.com\t"} {
		got, hash, err := s.FindUserByEmail(ctx, email)
		if err != nil || !reflect.DeepEqual(got, u) || hash != testPasswordHash {
			t.Errorf("FindUserByEmail(%q): got %s, %q, %v, want %s and its hash", email, dump(got), hash, err, dump(u))
		}
	}

	for _, email := range []string{"ada.lovelace@example.com", "ADA.LOVELACE@example.com", " ada.lovelace@EXAMPLE.com "} {
		err := s.CreateUser(ctx, &latchkey.User{Email: email}, testPasswordHash)
		wantCode(t, err, latchkey.ECONFLICT)
	}
	if n := MustCountUsers(t, s); n != 1 {
		t.Errorf("CountUsers after conflicts: got %d, want 1", n)
	}
	MustCreateUser(t, s, "grace@example.com", "")
	if n := MustCountUsers(t, s); n != 2 {
		t.Errorf("CountUsers: got %d, want 2", n)
	}

	// The event records who and what, never the hash.
	events := MustAuditEvents(t, s, latchkey.AuditFilter{AccountID: acme.ID, Action: ptr(latchkey.ActionUserCreate)})
	if len(events) != 2 {
		t.Fatalf("user.create events: got %d, want 2", len(events))
	}
	ev := events[1]
	want := map[string]latchkey.Change{
		"email": {Before: json.RawMessage(`null`), After: json.RawMessage(`"ada.lovelace@example.com"`)},
		"name":  {Before: json.RawMessage(`null`), After: json.RawMessage(`"Ada"`)},
	}
	if ev.TargetType != "user" || ev.TargetID != dump(u.ID) || !reflect.DeepEqual(ev.Changes, want) {
		t.Errorf("event: got %s, want user %d with changes %s", dump(ev), u.ID, dump(want))
	}
	if ev.ActorKind != testActor.Kind || ev.ActorID != testActor.ID || ev.IP != testActor.IP {
		t.Errorf("event actor: got %s/%d %q, want the context's", ev.ActorKind, ev.ActorID, ev.IP)
	}
	for _, ev := range MustAuditEvents(t, s, latchkey.AuditFilter{AccountID: acme.ID}) {
		if strings.Contains(dump(ev), "argon2") || strings.Contains(dump(ev), "aGFzaGhh") {
			t.Errorf("event %s contains the password hash: %s", ev.Action, dump(ev))
		}
	}
}

// testCreateUserInvalid checks each bad field is refused, naming it, and nothing is stored.
func testCreateUserInvalid(t *testing.T, b backend) {
	e := MustEnv(t, b)
	MustCreateAccount(t, e.store, "acme")
	tests := []struct {
		name  string
		u     *latchkey.User
		field string
	}{
		{"empty email", &latchkey.User{}, "email"},
		{"not an email", &latchkey.User{Email: "ada"}, "email"},
		{"display name", &latchkey.User{Email: "Ada <ada@example.com>"}, "email"},
		{"two addresses", &latchkey.User{Email: "a@example.com, b@example.com"}, "email"},
		{"too long email", &latchkey.User{Email: strings.Repeat("a", 250) + "@example.com"}, "email"},
		{"too long name", &latchkey.User{Email: "ada@example.com", Name: strings.Repeat("n", 201)}, "name"},
		{"NUL in name", &latchkey.User{Email: "ada@example.com", Name: "a\x00b"}, "name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := e.store.CreateUser(ctx, tt.u, testPasswordHash)
			wantCode(t, err, latchkey.EINVALID)
			if _, ok := latchkey.ErrorFields(err)[tt.field]; !ok {
				t.Errorf("fields: got %v, want %s", latchkey.ErrorFields(err), tt.field)
			}
		})
	}
	if err := e.store.CreateUser(ctx, nil, testPasswordHash); latchkey.ErrorCode(err) != latchkey.EINVALID {
		t.Errorf("CreateUser(nil): got %v, want invalid", err)
	}
	if err := e.store.CreateUser(ctx, &latchkey.User{Email: "ada@example.com"}, ""); err == nil {
		t.Error("CreateUser without a hash: got nil, want an error")
	}
	if n := MustCountUsers(t, e.store); n != 0 {
		t.Errorf("CountUsers: got %d, want 0", n)
	}
}

// testFindUserNotFound checks unknown ids and emails are not_found, with no hash.
func testFindUserNotFound(t *testing.T, b backend) {
	e := MustEnv(t, b)
	MustCreateAccount(t, e.store, "acme")
	MustCreateUser(t, e.store, "ada@example.com", "Ada")
	_, err := e.store.FindUserByID(ctx, 999)
	wantCode(t, err, latchkey.ENOTFOUND)
	for _, email := range []string{"", "grace@example.com", "ada@example.co", "%@example.com"} {
		_, hash, err := e.store.FindUserByEmail(ctx, email)
		wantCode(t, err, latchkey.ENOTFOUND)
		if hash != "" {
			t.Errorf("FindUserByEmail(%q): got hash %q, want none", email, hash)
		}
	}
}

// testHomeAccount checks where installation-wide events go: the default
// account, else the oldest.
func testHomeAccount(t *testing.T, b backend) {
	e := MustEnv(t, b)
	s := e.store
	first := MustCreateAccount(t, s, "first")
	second := MustCreateAccount(t, s, "second")
	MustCreateUser(t, s, "one@example.com", "")
	def := MustCreateAccount(t, s, latchkey.DefaultAccountName)
	MustCreateUser(t, s, "two@example.com", "")

	count := func(accountID int64) int {
		return countEvents(t, s, accountID, latchkey.ActionUserCreate)
	}
	for _, tt := range []struct {
		name    string
		account int64
		want    int
	}{{"first", first.ID, 1}, {"second", second.ID, 0}, {"default", def.ID, 1}} {
		if got := count(tt.account); got != tt.want {
			t.Errorf("user.create events in %s: got %d, want %d", tt.name, got, tt.want)
		}
	}
}

// testMemberships checks roles, their order and age, and their audit in the right account.
func testMemberships(t *testing.T, b backend) {
	e, s, a := MustAcme(t, b)
	other := MustCreateAccount(t, s, "globex")
	zed := MustCreateUser(t, s, "zed@example.com", "Zed")
	amy := MustCreateUser(t, s, "Amy@example.com", "Amy")
	actx := latchkey.NewContextWithActor(ctx, testActor)

	// Zed joins globex first, then acme: memberships list oldest first,
	// not by account id.
	e.clock.Add(time.Second)
	joinedOther := e.clock.Now()
	if err := s.SetMembership(actx, other.ID, zed.ID, latchkey.RoleMember); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(time.Second)
	joinedAcme := e.clock.Now()
	if err := s.SetMembership(actx, a.ID, zed.ID, latchkey.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(time.Second)
	if err := s.SetMembership(actx, a.ID, amy.ID, latchkey.RoleMember); err != nil {
		t.Fatal(err)
	}

	members, err := s.FindMembers(ctx, a.ID)
	if err != nil {
		t.Fatalf("FindMembers: %v", err)
	}
	want := []*latchkey.Member{{User: *amy, Role: latchkey.RoleMember}, {User: *zed, Role: latchkey.RoleAdmin}}
	if !reflect.DeepEqual(members, want) {
		t.Errorf("FindMembers: got %s, want %s", dump(members), dump(want))
	}
	ms, err := s.FindMemberships(ctx, zed.ID)
	if err != nil {
		t.Fatalf("FindMemberships: %v", err)
	}
	wantMs := []*latchkey.Membership{
		{AccountID: other.ID, UserID: zed.ID, Role: latchkey.RoleMember, CreatedAt: joinedOther},
		{AccountID: a.ID, UserID: zed.ID, Role: latchkey.RoleAdmin, CreatedAt: joinedAcme},
	}
	if !reflect.DeepEqual(ms, wantMs) {
		t.Errorf("FindMemberships: got %s, want %s", dump(ms), dump(wantMs))
	}

	// Changing a role keeps the membership's age.
	e.clock.Add(time.Second)
	if err := s.SetMembership(actx, other.ID, zed.ID, latchkey.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	ms, _ = s.FindMemberships(ctx, zed.ID)
	if len(ms) != 2 || ms[0].AccountID != other.ID || ms[0].Role != latchkey.RoleAdmin || !ms[0].CreatedAt.Equal(joinedOther) {
		t.Errorf("after promotion: got %s, want globex first, admin, joined %v", dump(ms), joinedOther)
	}
	// Setting the same role again writes nothing.
	MustSetMembership(t, s, other.ID, zed.ID, latchkey.RoleAdmin)

	empty := MustCreateAccount(t, s, "initech")
	if members, err := s.FindMembers(ctx, empty.ID); err != nil || len(members) != 0 || members == nil {
		t.Errorf("FindMembers of an account without members: got %v, %v, want an empty list", members, err)
	}
	lone := MustCreateUser(t, s, "lone@example.com", "")
	if ms, err := s.FindMemberships(ctx, lone.ID); err != nil || len(ms) != 0 || ms == nil {
		t.Errorf("FindMemberships of a user without any: got %v, %v, want an empty list", ms, err)
	}

	// Each change is audited in the membership's account.
	events := MustAuditEvents(t, s, latchkey.AuditFilter{AccountID: other.ID, Action: ptr(latchkey.ActionMemberSet)})
	wantChanges := []string{`{"role":{"before":"member","after":"admin"}}`, `{"role":{"before":null,"after":"member"}}`}
	if len(events) != len(wantChanges) {
		t.Fatalf("member.set events in globex: got %s, want %d", dump(events), len(wantChanges))
	}
	for i, ev := range events {
		if got := dump(ev.Changes); got != wantChanges[i] {
			t.Errorf("event %d changes: got %s, want %s", i, got, wantChanges[i])
		}
		if ev.TargetType != "member" || ev.TargetID != dump(zed.ID) || ev.ActorKind != testActor.Kind || ev.ActorID != testActor.ID {
			t.Errorf("event %d: got %s, want target member %d by the context's actor", i, dump(ev), zed.ID)
		}
	}
	if got := countEvents(t, s, a.ID, latchkey.ActionMemberSet); got != 2 {
		t.Errorf("member.set events in acme: got %d, want 2", got)
	}
}

// testSetMembershipErrors checks bad roles and unknown users or accounts are refused, writing nothing.
func testSetMembershipErrors(t *testing.T, b backend) {
	_, s, a := MustAcme(t, b)
	u := MustCreateUser(t, s, "ada@example.com", "")
	tests := []struct {
		name      string
		accountID int64
		userID    int64
		role      latchkey.Role
		code      string
	}{
		{"empty role", a.ID, u.ID, "", latchkey.EINVALID},
		{"unknown role", a.ID, u.ID, "owner", latchkey.EINVALID},
		{"role case", a.ID, u.ID, "Admin", latchkey.EINVALID},
		{"unknown user", a.ID, 999, latchkey.RoleAdmin, latchkey.ENOTFOUND},
		{"unknown account", 999, u.ID, latchkey.RoleAdmin, latchkey.ENOTFOUND},
		{"both unknown", 999, 999, latchkey.RoleMember, latchkey.ENOTFOUND},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantCode(t, s.SetMembership(ctx, tt.accountID, tt.userID, tt.role), tt.code)
		})
	}
	_, err := s.FindMembers(ctx, 999)
	wantCode(t, err, latchkey.ENOTFOUND)
	_, err = s.FindMemberships(ctx, 999)
	wantCode(t, err, latchkey.ENOTFOUND)
	if ms, err := s.FindMemberships(ctx, u.ID); err != nil || len(ms) != 0 {
		t.Errorf("memberships after failed calls: got %v, %v, want none", ms, err)
	}
	if got := countEvents(t, s, a.ID, latchkey.ActionMemberSet); got != 0 {
		t.Errorf("member.set events: got %d, want 0", got)
	}
}

// testCreateMember stores a user with their membership, and stores neither
// when the membership cannot be made.
func testCreateMember(t *testing.T, b backend) {
	_, s, a := MustAcme(t, b)
	u := &latchkey.User{Email: " Ada@Acme.test ", Name: "Ada"}
	if err := s.CreateMember(ctx, a.ID, u, testPasswordHash, latchkey.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	ms, err := s.FindMemberships(ctx, u.ID)
	if err != nil || len(ms) != 1 || ms[0].AccountID != a.ID || ms[0].Role != latchkey.RoleAdmin {
		t.Fatalf("memberships: got %s, %v; want admin of account %d", dump(ms), err, a.ID)
	}
	if got, _, err := s.FindUserByEmail(ctx, "ada@acme.test"); err != nil || got.ID != u.ID {
		t.Fatalf("find by email: got %v, %v", got, err)
	}
	err = s.CreateMember(ctx, 9999, &latchkey.User{Email: "orphan@acme.test"}, testPasswordHash, latchkey.RoleMember)
	wantCode(t, err, latchkey.ENOTFOUND)
	if _, _, err := s.FindUserByEmail(ctx, "orphan@acme.test"); latchkey.ErrorCode(err) != latchkey.ENOTFOUND {
		t.Fatalf("a user whose membership failed was stored: %v", err)
	}
	wantCode(t, s.CreateMember(ctx, a.ID, &latchkey.User{Email: "ada@acme.test"}, testPasswordHash, latchkey.RoleMember), latchkey.ECONFLICT)
	wantCode(t, s.CreateMember(ctx, a.ID, &latchkey.User{Email: "bob@acme.test"}, testPasswordHash, "owner"), latchkey.EINVALID)
}
