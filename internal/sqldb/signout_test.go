package sqldb_test

import (
	"testing"

	"github.com/latchkey/latchkey"
)

// testRevokeUserSessions checks signing out everywhere ends every live
// family of the user and no other user's, audits once with the count, and
// that nothing refreshes afterwards.
func testRevokeUserSessions(t *testing.T, b backend) {
	e := MustSessionEnv(t, b)
	s := e.store
	_, t1 := MustCreateSession(t, s, e.user.ID)
	_, t2 := MustCreateSession(t, s, e.user.ID)
	other := MustCreateUser(t, s, "bob@example.com", "Bob")
	_, t3 := MustCreateSession(t, s, other.ID)

	n, err := s.RevokeUserSessions(ctx, e.user.ID)
	if err != nil || n != 2 {
		t.Fatalf("RevokeUserSessions: got %d, %v, want 2", n, err)
	}
	for _, tok := range []string{t1, t2} {
		_, _, err := s.RefreshSession(ctx, tok, sessionKey)
		wantCode(t, err, latchkey.EUNAUTHORIZED)
	}
	MustRefresh(t, s, t3) // another user's session lives on
	if n, err := s.RevokeUserSessions(ctx, e.user.ID); err != nil || n != 0 {
		t.Errorf("again: got %d, %v, want 0", n, err)
	}
	events := MustAuditEvents(t, s, latchkey.AuditFilter{AccountID: e.account.ID, Action: ptr(latchkey.ActionSessionLogoutAll)})
	if len(events) != 1 || events[0].TargetID != dump(e.user.ID) || string(events[0].Changes["sessions_revoked"].After) != "2" {
		t.Errorf("session.logout_all events: got %s, want one with 2", dump(events))
	}
	_, err = s.RevokeUserSessions(ctx, 999999)
	wantCode(t, err, latchkey.ENOTFOUND)
}
