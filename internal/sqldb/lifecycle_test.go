package sqldb_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/sqldb"
)

// The user lifecycle (UpdateUser, RemoveMember, the last admin) and the
// one-time setup link.

const setupInvalid = "the setup link is invalid, expired or already used"

// MustUpdateUser applies an update to a user.
func MustUpdateUser(tb testing.TB, s *sqldb.Store, id int64, u *latchkey.UserUpdate) *latchkey.User {
	tb.Helper()
	got, err := s.UpdateUser(ctx, id, u)
	if err != nil {
		tb.Fatalf("UpdateUser(%d): %v", id, err)
	}
	return got
}

// lastEventChanges is the JSON of the changes of the account's newest event
// of action, and how many such events there are.
func lastEventChanges(tb testing.TB, s *sqldb.Store, accountID int64, action string) (string, int) {
	tb.Helper()
	events := MustAuditEvents(tb, s, latchkey.AuditFilter{AccountID: accountID, Action: &action})
	if len(events) == 0 {
		return "", 0
	}
	return dump(events[0].Changes), len(events)
}

// testUpdateUser checks renaming, disabling, enabling and a new password, their audit, and which of them end sessions.
func testUpdateUser(t *testing.T, b backend) {
	e := MustSessionEnv(t, b)
	s, id := e.store, e.user.ID
	f1, t1 := MustCreateSession(t, s, id)

	// A new name is audited and ends no session.
	got := MustUpdateUser(t, s, id, &latchkey.UserUpdate{Name: ptr("Ada L.")})
	if got.Name != "Ada L." || got.Disabled || got.DisabledAt != nil {
		t.Errorf("renamed: got %s", dump(got))
	}
	if ch, n := lastEventChanges(t, s, e.account.ID, latchkey.ActionUserUpdate); n != 1 || ch != `{"name":{"before":"Ada","after":"Ada L."}}` {
		t.Errorf("user.update after a rename: got %d events, newest %s", n, ch)
	}
	_, t1 = MustRefresh(t, s, t1)

	// The same values again, or nothing at all, write nothing.
	MustUpdateUser(t, s, id, &latchkey.UserUpdate{Name: ptr("Ada L."), Disabled: ptr(false)})
	MustUpdateUser(t, s, id, &latchkey.UserUpdate{})
	if _, n := lastEventChanges(t, s, e.account.ID, latchkey.ActionUserUpdate); n != 1 {
		t.Errorf("user.update events after no-op updates: got %d, want 1", n)
	}

	// Disabling ends every live session at once; the user is still found
	// by email (sign-in refuses them), but no session refreshes or opens.
	f2, t2 := MustCreateSession(t, s, id)
	e.clock.Add(time.Minute)
	disabledAt := e.clock.Now()
	got = MustUpdateUser(t, s, id, &latchkey.UserUpdate{Disabled: ptr(true)})
	if !got.Disabled || got.DisabledAt == nil || !got.DisabledAt.Equal(disabledAt) {
		t.Errorf("disabled: got %s, want disabled at %v", dump(got), disabledAt)
	}
	if byEmail, _, err := s.FindUserByEmail(ctx, "ada@example.com"); err != nil || !byEmail.Disabled {
		t.Errorf("FindUserByEmail of a disabled user: got %s, %v", dump(byEmail), err)
	}
	for _, f := range []string{f1.ID, f2.ID} {
		if fam := MustFindFamily(t, s, f); fam.RevokedAt == nil || !fam.RevokedAt.Equal(disabledAt) {
			t.Errorf("family %s after disabling: revoked_at %v, want %v", f, fam.RevokedAt, disabledAt)
		}
	}
	wantRefreshFails(t, s, t1, "invalid or expired refresh token")
	wantRefreshFails(t, s, t2, "invalid or expired refresh token")
	_, _, err := s.CreateSession(ctx, id, sessionTTL, "", "")
	wantCode(t, err, latchkey.EUNAUTHORIZED)
	if ch, _ := lastEventChanges(t, s, e.account.ID, latchkey.ActionUserUpdate); ch != `{"disabled":{"before":false,"after":true},"sessions_revoked":{"before":null,"after":2}}` {
		t.Errorf("user.update of a deactivation: got %s", ch)
	}

	// Enabled again, they sign in afresh; the ended sessions stay ended.
	got = MustUpdateUser(t, s, id, &latchkey.UserUpdate{Disabled: ptr(false)})
	if got.Disabled || got.DisabledAt != nil {
		t.Errorf("enabled: got %s", dump(got))
	}
	wantRefreshFails(t, s, t2, "")
	_, t3 := MustCreateSession(t, s, id)
	MustRefresh(t, s, t3)

	// A new password is stored and ends the sessions too; the event says
	// only that it changed.
	const newHash = "$argon2id$v=19$m=64,t=1,p=1$bmV3c2FsdA$bmV3aGFzaG5ld2hhc2g"
	f4, t4 := MustCreateSession(t, s, id)
	MustUpdateUser(t, s, id, &latchkey.UserUpdate{PasswordHash: ptr(newHash)})
	if _, hash, err := s.FindUserByEmail(ctx, "ada@example.com"); err != nil || hash != newHash {
		t.Errorf("hash after a password change: got %q, %v", hash, err)
	}
	if MustFindFamily(t, s, f4.ID).RevokedAt == nil {
		t.Error("a password change left a session alive")
	}
	wantRefreshFails(t, s, t4, "")
	if ch, _ := lastEventChanges(t, s, e.account.ID, latchkey.ActionUserUpdate); ch != `{"password":{"before":null,"after":"changed"},"sessions_revoked":{"before":null,"after":2}}` {
		t.Errorf("user.update of a password change: got %s", ch)
	}
	for _, ev := range MustAuditEvents(t, s, latchkey.AuditFilter{AccountID: e.account.ID}) {
		if strings.Contains(dump(ev), "argon2") {
			t.Errorf("event %s contains a password hash: %s", ev.Action, dump(ev))
		}
	}
}

// testUpdateUserErrors checks bad updates are refused and change nothing.
func testUpdateUserErrors(t *testing.T, b backend) {
	e := MustSessionEnv(t, b)
	s, id := e.store, e.user.ID
	tests := []struct {
		name  string
		id    int64
		u     *latchkey.UserUpdate
		code  string
		field string
	}{
		{"nil update", id, nil, latchkey.EINVALID, ""},
		{"too long name", id, &latchkey.UserUpdate{Name: ptr(strings.Repeat("n", 201))}, latchkey.EINVALID, "name"},
		{"NUL in name", id, &latchkey.UserUpdate{Name: ptr("a\x00b")}, latchkey.EINVALID, "name"},
		{"unknown user", 999, &latchkey.UserUpdate{Disabled: ptr(true)}, latchkey.ENOTFOUND, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.UpdateUser(ctx, tt.id, tt.u)
			wantCode(t, err, tt.code)
			if _, ok := latchkey.ErrorFields(err)[tt.field]; tt.field != "" && !ok {
				t.Errorf("fields: got %v, want %s", latchkey.ErrorFields(err), tt.field)
			}
		})
	}
	if _, err := s.UpdateUser(ctx, id, &latchkey.UserUpdate{PasswordHash: ptr("")}); err == nil {
		t.Error("UpdateUser with an empty hash: got nil, want an error")
	}
	if got, err := s.FindUserByID(ctx, id); err != nil || got.Name != "Ada" || got.Disabled {
		t.Errorf("user after failed updates: got %s, %v", dump(got), err)
	}
	if _, n := lastEventChanges(t, s, e.account.ID, latchkey.ActionUserUpdate); n != 0 {
		t.Errorf("user.update events: got %d, want 0", n)
	}
}

// testFindUsers checks the operator listing: every user by id, disabled ones too.
func testFindUsers(t *testing.T, b backend) {
	e := MustEnv(t, b)
	s := e.store
	if users, err := s.FindUsers(ctx); err != nil || users == nil || len(users) != 0 {
		t.Fatalf("FindUsers of an empty store: got %v, %v, want an empty list", users, err)
	}
	MustCreateAccount(t, s, latchkey.DefaultAccountName)
	zed := MustCreateUser(t, s, "zed@example.com", "Zed")
	amy := MustCreateUser(t, s, "amy@example.com", "Amy")
	amy = MustUpdateUser(t, s, amy.ID, &latchkey.UserUpdate{Disabled: ptr(true)})
	users, err := s.FindUsers(ctx)
	if err != nil || dump(users) != dump([]*latchkey.User{zed, amy}) {
		t.Errorf("FindUsers: got %s, %v, want zed then the disabled amy", dump(users), err)
	}
}

// testRemoveMember covers RemoveMember and the last admin rule it shares
// with SetMembership.
func testRemoveMember(t *testing.T, b backend) {
	_, s, a := MustAcme(t, b)
	zed := MustCreateUser(t, s, "zed@example.com", "")
	amy := MustCreateUser(t, s, "amy@example.com", "")
	MustSetMembership(t, s, a.ID, zed.ID, latchkey.RoleAdmin)
	MustSetMembership(t, s, a.ID, amy.ID, latchkey.RoleMember)

	actx := latchkey.NewContextWithActor(ctx, testActor)
	if err := s.RemoveMember(actx, a.ID, amy.ID); err != nil {
		t.Fatalf("RemoveMember(member): %v", err)
	}
	if ch, n := lastEventChanges(t, s, a.ID, latchkey.ActionMemberRemove); n != 1 || ch != `{"role":{"before":"member","after":null}}` {
		t.Errorf("member.remove: got %d events, newest %s", n, ch)
	}
	for _, tt := range []struct {
		name              string
		accountID, userID int64
		code              string
	}{
		{"not a member any more", a.ID, amy.ID, latchkey.ENOTFOUND},
		{"unknown user", a.ID, 999, latchkey.ENOTFOUND},
		{"unknown account", 999, zed.ID, latchkey.ENOTFOUND},
		{"last admin", a.ID, zed.ID, latchkey.ECONFLICT},
	} {
		wantCode(t, s.RemoveMember(ctx, tt.accountID, tt.userID), tt.code)
	}
	wantCode(t, s.SetMembership(ctx, a.ID, zed.ID, latchkey.RoleMember), latchkey.ECONFLICT)

	// With a second admin, the first may go, and then the second is last.
	MustSetMembership(t, s, a.ID, amy.ID, latchkey.RoleAdmin)
	MustSetMembership(t, s, a.ID, zed.ID, latchkey.RoleMember)
	if err := s.RemoveMember(ctx, a.ID, zed.ID); err != nil {
		t.Fatalf("RemoveMember(demoted admin): %v", err)
	}
	wantCode(t, s.SetMembership(ctx, a.ID, amy.ID, latchkey.RoleMember), latchkey.ECONFLICT)
	members, err := s.FindMembers(ctx, a.ID)
	if err != nil || len(members) != 1 || members[0].ID != amy.ID || members[0].Role != latchkey.RoleAdmin {
		t.Errorf("members: got %s, %v, want amy alone, admin", dump(members), err)
	}
	if _, n := lastEventChanges(t, s, a.ID, latchkey.ActionMemberRemove); n != 2 {
		t.Errorf("member.remove events: got %d, want 2", n)
	}
}

// testLastAdminConcurrent has the only two admins of an account step down
// (removed, or demoted) at once, from two stores: exactly one succeeds.
func testLastAdminConcurrent(t *testing.T, b backend) {
	e := MustEnv(t, b)
	s := e.store
	stores := MustTwoStores(t, e)
	MustCreateAccount(t, s, latchkey.DefaultAccountName)
	for round := range 6 {
		a := MustCreateAccount(t, s, fmt.Sprintf("acct%d", round))
		var ids [2]int64
		for i := range ids {
			u := MustCreateUser(t, s, fmt.Sprintf("admin%d-%d@example.com", round, i), "")
			MustSetMembership(t, s, a.ID, u.ID, latchkey.RoleAdmin)
			ids[i] = u.ID
		}
		errs := race(2, stores, func(i int, s *sqldb.Store) error {
			if round%2 == 0 {
				return s.RemoveMember(ctx, a.ID, ids[i])
			}
			return s.SetMembership(ctx, a.ID, ids[i], latchkey.RoleMember)
		})
		wantOneWinner(t, fmt.Sprintf("round %d", round), errs, func(err error) bool {
			return latchkey.ErrorCode(err) == latchkey.ECONFLICT
		})
		members, err := s.FindMembers(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		admins := 0
		for _, m := range members {
			if m.Role == latchkey.RoleAdmin {
				admins++
			}
		}
		if admins != 1 {
			t.Fatalf("round %d: admins left: got %d, want 1", round, admins)
		}
	}
}

// MustBootstrap bootstraps an empty store.
func MustBootstrap(tb testing.TB, s *sqldb.Store) *sqldb.Bootstrap {
	tb.Helper()
	boot, err := s.Bootstrap(ctx)
	if err != nil || boot == nil {
		tb.Fatalf("Bootstrap: got %v, %v", boot, err)
	}
	return boot
}

// wantSetupRefused fails unless CompleteSetup with token is refused as an
// invalid setup link.
func wantSetupRefused(tb testing.TB, s *sqldb.Store, token string) {
	tb.Helper()
	u, err := s.CompleteSetup(ctx, token, &latchkey.User{Email: "someone@example.com"}, testPasswordHash)
	if latchkey.ErrorCode(err) != latchkey.EUNAUTHORIZED || latchkey.ErrorMessage(err) != setupInvalid || u != nil {
		tb.Fatalf("CompleteSetup(%.8q…): got %v, %v, want unauthorized: %s", token, u, err, setupInvalid)
	}
}

// testCompleteSetup checks the bootstrap's setup link makes the first admin once, audited, and then nothing more.
func testCompleteSetup(t *testing.T, b backend) {
	e := MustEnv(t, b)
	s := e.store
	boot := MustBootstrap(t, s)
	if len(boot.SetupToken) < 22 || !urlSafe.MatchString(boot.SetupToken) {
		t.Fatalf("setup token: got %q, want ≥128 random bits, url-safe", boot.SetupToken)
	}
	for _, tok := range []string{"", "nope", boot.SetupToken + "x", strings.Repeat("a", 10000)} {
		wantSetupRefused(t, s, tok)
	}
	// Bad input fails and leaves the token usable.
	_, err := s.CompleteSetup(ctx, boot.SetupToken, &latchkey.User{Email: "not an email"}, testPasswordHash)
	wantCode(t, err, latchkey.EINVALID)

	u, err := s.CompleteSetup(ctx, boot.SetupToken, &latchkey.User{Email: " Ada@Example.com", Name: "Ada"}, testPasswordHash)
	if err != nil {
		t.Fatalf("CompleteSetup: %v", err)
	}
	if u.ID <= 0 || u.Email != "ada@example.com" {
		t.Errorf("first user: got %s", dump(u))
	}
	ms, err := s.FindMemberships(ctx, u.ID)
	if err != nil || len(ms) != 1 || ms[0].AccountID != boot.Account.ID || ms[0].Role != latchkey.RoleAdmin {
		t.Errorf("first user's memberships: got %s, %v, want admin of default", dump(ms), err)
	}
	events := MustAuditEvents(t, s, latchkey.AuditFilter{AccountID: boot.Account.ID, Action: ptr(latchkey.ActionSetupComplete)})
	if len(events) != 1 || events[0].TargetID != dump(u.ID) || events[0].ActorKind != latchkey.ActorUser || events[0].ActorID != u.ID {
		t.Errorf("setup.complete events: got %s", dump(events))
	}
	wantSetupRefused(t, s, boot.SetupToken)
	_, err = s.IssueSetupToken(ctx, time.Hour)
	wantCode(t, err, latchkey.ECONFLICT)
	if n := MustCountUsers(t, s); n != 1 {
		t.Errorf("users: got %d, want 1", n)
	}
}

// testSetupTokenExpiry checks an expired link fails and a new one ends the older ones.
func testSetupTokenExpiry(t *testing.T, b backend) {
	e := MustEnv(t, b)
	s := e.store
	boot := MustBootstrap(t, s)
	e.clock.Add(sqldb.SetupTokenTTL)
	wantSetupRefused(t, s, boot.SetupToken)

	_, err := s.IssueSetupToken(ctx, 0)
	wantCode(t, err, latchkey.EINVALID)
	first, err := s.IssueSetupToken(ctx, time.Hour)
	if err != nil {
		t.Fatalf("IssueSetupToken: %v", err)
	}
	second, err := s.IssueSetupToken(ctx, time.Hour)
	if err != nil || second == first {
		t.Fatalf("IssueSetupToken again: got %v, want a new token", err)
	}
	// A new token ends the older ones.
	wantSetupRefused(t, s, first)
	wantSetupRefused(t, s, boot.SetupToken)
	if _, err := s.CompleteSetup(ctx, second, &latchkey.User{Email: "ada@example.com"}, testPasswordHash); err != nil {
		t.Fatalf("CompleteSetup with the newest token: %v", err)
	}
}

// testSetupTokenNoUsers: a store that has a user (made some other way)
// takes no setup link, even a live one.
func testSetupTokenNoUsers(t *testing.T, b backend) {
	e := MustEnv(t, b)
	s := e.store
	boot := MustBootstrap(t, s)
	MustCreateUser(t, s, "cli@example.com", "")
	_, err := s.CompleteSetup(ctx, boot.SetupToken, &latchkey.User{Email: "ada@example.com"}, testPasswordHash)
	wantCode(t, err, latchkey.ECONFLICT)
	_, err = s.IssueSetupToken(ctx, time.Hour)
	wantCode(t, err, latchkey.ECONFLICT)
}

// testSetupConcurrent completes the setup with one token many times at
// once, from two stores: exactly one call creates a user.
func testSetupConcurrent(t *testing.T, b backend) {
	e := MustEnv(t, b)
	boot := MustBootstrap(t, e.store)
	errs := race(8, MustTwoStores(t, e), func(i int, s *sqldb.Store) error {
		_, err := s.CompleteSetup(ctx, boot.SetupToken, &latchkey.User{Email: fmt.Sprintf("admin%d@example.com", i)}, testPasswordHash)
		return err
	})
	wantOneWinner(t, "CompleteSetup", errs, func(err error) bool { return latchkey.ErrorMessage(err) == setupInvalid })
	if n := MustCountUsers(t, e.store); n != 1 {
		t.Errorf("users: got %d, want 1", n)
	}
}

// TestSQLiteStoresNoSetupToken checks that the database files hold the
// setup token's SHA-256, never the token.
func TestSQLiteStoresNoSetupToken(t *testing.T) {
	dir := t.TempDir()
	s := MustOpen(t, filepath.Join(dir, "lk.db"), nil)
	boot := MustBootstrap(t, s)
	all := MustCloseAndRead(t, s, dir)
	if bytes.Contains(all, []byte(boot.SetupToken)) {
		t.Error("the database files contain the setup token")
	}
	if h := sha256.Sum256([]byte(boot.SetupToken)); !bytes.Contains(all, h[:]) {
		t.Error("the database files do not contain the setup token's hash")
	}
}
