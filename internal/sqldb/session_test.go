package sqldb_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/sqldb"
)

const (
	sessionTTL   = 30 * 24 * time.Hour
	reuseMessage = "refresh token reuse detected; session revoked"
)

// sessionKey is the server's secret key the tests refresh under.
var sessionKey = []byte("0123456789abcdef0123456789abcdef")

// urlSafe matches unpadded base64url.
var urlSafe = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// sessionEnv is a store with an account and a signed-up user.
type sessionEnv struct {
	*env
	account *latchkey.Account
	user    *latchkey.User
}

// MustSessionEnv returns a fresh store with the default account and one
// user, ada@example.com.
func MustSessionEnv(tb testing.TB, b backend) *sessionEnv {
	tb.Helper()
	e := MustEnv(tb, b)
	a := MustCreateAccount(tb, e.store, latchkey.DefaultAccountName)
	u := MustCreateUser(tb, e.store, "ada@example.com", "Ada")
	return &sessionEnv{env: e, account: a, user: u}
}

// MustCreateSession opens a session of the user for sessionTTL.
func MustCreateSession(tb testing.TB, s *sqldb.Store, userID int64) (*latchkey.SessionFamily, string) {
	tb.Helper()
	return MustCreateSessionFor(tb, s, userID, sessionTTL)
}

// MustCreateSessionFor opens a session of the user for ttl.
func MustCreateSessionFor(tb testing.TB, s *sqldb.Store, userID int64, ttl time.Duration) (*latchkey.SessionFamily, string) {
	tb.Helper()
	f, token, err := s.CreateSession(ctx, userID, ttl, "203.0.113.9", "Firefox/140")
	if err != nil {
		tb.Fatalf("CreateSession(%d): %v", userID, err)
	}
	return f, token
}

// MustRotatedSession returns a fresh session env, its store, and a session
// of its user whose first token t1 has been rotated to t2.
func MustRotatedSession(tb testing.TB, b backend) (e *sessionEnv, s *sqldb.Store, f *latchkey.SessionFamily, t1, t2 string) {
	tb.Helper()
	e = MustSessionEnv(tb, b)
	f, t1 = MustCreateSession(tb, e.store, e.user.ID)
	_, t2 = MustRefresh(tb, e.store, t1)
	return e, e.store, f, t1, t2
}

// MustRefresh exchanges a refresh token for the next.
func MustRefresh(tb testing.TB, s *sqldb.Store, token string) (*latchkey.SessionFamily, string) {
	tb.Helper()
	f, next, err := s.RefreshSession(ctx, token, sessionKey)
	if err != nil {
		tb.Fatalf("RefreshSession: %v", err)
	}
	return f, next
}

// MustFindFamily returns a session family.
func MustFindFamily(tb testing.TB, s *sqldb.Store, id string) *latchkey.SessionFamily {
	tb.Helper()
	f, err := s.FindSessionFamily(ctx, id)
	if err != nil {
		tb.Fatalf("FindSessionFamily: %v", err)
	}
	return f
}

// wantRefreshFails fails unless refreshing with token is refused as
// unauthorized with the message.
func wantRefreshFails(tb testing.TB, s *sqldb.Store, token, message string) {
	tb.Helper()
	f, next, err := s.RefreshSession(ctx, token, sessionKey)
	if latchkey.ErrorCode(err) != latchkey.EUNAUTHORIZED || f != nil || next != "" {
		tb.Fatalf("RefreshSession: got %v, %q, %v, want unauthorized", f, next, err)
	}
	if message != "" && latchkey.ErrorMessage(err) != message {
		tb.Errorf("message: got %q, want %q", latchkey.ErrorMessage(err), message)
	}
}

// testSessionCreate checks a new family, its first token, and the login event.
func testSessionCreate(t *testing.T, b backend) {
	e := MustSessionEnv(t, b)
	s := e.store
	f, token := MustCreateSession(t, s, e.user.ID)
	now := e.clock.Now()
	want := &latchkey.SessionFamily{ID: f.ID, UserID: e.user.ID, CreatedAt: now, ExpiresAt: now.Add(sessionTTL),
		IP: "203.0.113.9", UserAgent: "Firefox/140"}
	if dump(f) != dump(want) {
		t.Errorf("family: got %s, want %s", dump(f), dump(want))
	}
	if got := MustFindFamily(t, s, f.ID); dump(got) != dump(want) {
		t.Errorf("FindSessionFamily: got %s, want %s", dump(got), dump(want))
	}
	if !urlSafe.MatchString(f.ID) || len(f.ID) < 22 {
		t.Errorf("family id %q: want at least 22 base64url characters (128 bits)", f.ID)
	}
	if raw, err := base64.RawURLEncoding.DecodeString(token); err != nil || len(raw) != 32 {
		t.Errorf("token %q: want 32 bytes of base64url (%v)", token, err)
	}
	f2, token2 := MustCreateSession(t, s, e.user.ID)
	if f2.ID == f.ID || token2 == token {
		t.Error("two sessions share an id or a token")
	}

	// The login is audited in the home account with the user as actor
	// when the context names none, and with the context's actor otherwise.
	actx := latchkey.NewContextWithActor(ctx, latchkey.Actor{Kind: latchkey.ActorUser, ID: e.user.ID, IP: "198.51.100.1", UserAgent: "curl/8"})
	f3, _, err := s.CreateSession(actx, e.user.ID, time.Hour, "198.51.100.1", "curl/8")
	if err != nil {
		t.Fatal(err)
	}
	events := MustAuditEvents(t, s, latchkey.AuditFilter{AccountID: e.account.ID, Action: ptr(latchkey.ActionSessionLogin)})
	if len(events) != 3 {
		t.Fatalf("login events: got %d, want 3", len(events))
	}
	for i, tt := range []struct{ family, ip, agent string }{{f3.ID, "198.51.100.1", "curl/8"}, {f2.ID, "203.0.113.9", "Firefox/140"}, {f.ID, "203.0.113.9", "Firefox/140"}} {
		ev := events[i]
		if ev.TargetType != "session" || ev.TargetID != tt.family || ev.ActorKind != latchkey.ActorUser || ev.ActorID != e.user.ID ||
			ev.IP != tt.ip || ev.UserAgent != tt.agent {
			t.Errorf("login event %d: got %s, want session %s by user %d from %s", i, dump(ev), tt.family, e.user.ID, tt.ip)
		}
		if strings.Contains(dump(ev), token) || strings.Contains(dump(ev), token2) {
			t.Errorf("login event %d contains a refresh token", i)
		}
	}
	if got := string(events[2].Changes["user_id"].After); got != dump(e.user.ID) {
		t.Errorf("login changes: got %s, want user_id %d", dump(events[2].Changes), e.user.ID)
	}
}

// testSessionCreateErrors checks a bad ttl or an unknown user is refused.
func testSessionCreateErrors(t *testing.T, b backend) {
	e := MustSessionEnv(t, b)
	tests := []struct {
		name   string
		userID int64
		ttl    time.Duration
		code   string
	}{
		{"unknown user", 999, time.Hour, latchkey.ENOTFOUND},
		{"zero ttl", e.user.ID, 0, latchkey.EINVALID},
		{"negative ttl", e.user.ID, -time.Hour, latchkey.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, token, err := e.store.CreateSession(ctx, tt.userID, tt.ttl, "", "")
			wantCode(t, err, tt.code)
			if f != nil || token != "" {
				t.Errorf("got %v, %q, want nothing", f, token)
			}
		})
	}
	_, err := e.store.FindSessionFamily(ctx, "no-such-family")
	wantCode(t, err, latchkey.ENOTFOUND)
}

// testSessionClipsClientFields stores what a client sends as its address
// and agent even when either engine would refuse it as TEXT.
func testSessionClipsClientFields(t *testing.T, b backend) {
	e := MustSessionEnv(t, b)
	tests := []struct {
		name, ip, agent   string
		wantIP, wantAgent string
	}{
		{"plain", "192.0.2.1", "Firefox", "192.0.2.1", "Firefox"},
		{"NUL", "192.0.2.1\x00", "Fire\x00fox", "192.0.2.1", "Firefox"},
		{"invalid UTF-8", "192.0.2.1", "Fire\xfffox", "192.0.2.1", "Fire\uFFFDfox"},
		{"long", strings.Repeat("1", 100), strings.Repeat("a", 1000), strings.Repeat("1", 64), strings.Repeat("a", 512)},
		{"cut inside a rune", "", strings.Repeat("a", 511) + "é", "", strings.Repeat("a", 511)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, _, err := e.store.CreateSession(ctx, e.user.ID, time.Hour, tt.ip, tt.agent)
			if err != nil {
				t.Fatalf("CreateSession: %v", err)
			}
			got := MustFindFamily(t, e.store, f.ID)
			if got.IP != tt.wantIP || got.UserAgent != tt.wantAgent {
				t.Errorf("got %q, %q, want %q, %q", got.IP, got.UserAgent, tt.wantIP, tt.wantAgent)
			}
		})
	}
}

// testSessionRefresh checks each refresh rotates to a new token of the same family.
func testSessionRefresh(t *testing.T, b backend) {
	e := MustSessionEnv(t, b)
	s := e.store
	f, t1 := MustCreateSession(t, s, e.user.ID)
	seen := map[string]bool{t1: true}
	token := t1
	for i := 0; i < 5; i++ {
		e.clock.Add(10 * time.Minute)
		got, next := MustRefresh(t, s, token)
		if got.ID != f.ID || !got.ExpiresAt.Equal(f.ExpiresAt) || got.UserID != e.user.ID || got.RevokedAt != nil {
			t.Fatalf("refresh %d: got %s, want family %s unchanged", i, dump(got), dump(f))
		}
		if seen[next] || !urlSafe.MatchString(next) {
			t.Fatalf("refresh %d: got token %q, want a fresh base64url one", i, next)
		}
		seen[next] = true
		token = next
	}
	// The newest token keeps working; a refresh is no login.
	MustRefresh(t, s, token)
	if n := countEvents(t, s, e.account.ID, latchkey.ActionSessionLogin); n != 1 {
		t.Errorf("login events: got %d, want 1", n)
	}

	for _, bad := range []string{"", "not-a-token", strings.Repeat("A", 43), strings.Repeat("x", 1<<16)} {
		wantRefreshFails(t, s, bad, "invalid or expired refresh token")
	}
}

// testSessionReuse checks a rotated token presented after the window revokes its family, audited.
func testSessionReuse(t *testing.T, b backend) {
	e := MustSessionEnv(t, b)
	s := e.store
	f, t1 := MustCreateSession(t, s, e.user.ID)
	other, otherToken := MustCreateSession(t, s, e.user.ID)
	e.clock.Add(time.Minute)
	_, t2 := MustRefresh(t, s, t1)
	_, t3 := MustRefresh(t, s, t2)

	// t1 was rotated: presenting it again is reuse, and revokes the family.
	e.clock.Add(time.Minute)
	reusedAt := e.clock.Now()
	wantRefreshFails(t, s, t1, reuseMessage)
	got := MustFindFamily(t, s, f.ID)
	if got.RevokedAt == nil || !got.RevokedAt.Equal(reusedAt) {
		t.Fatalf("family after reuse: got revoked_at %v, want %v", got.RevokedAt, reusedAt)
	}
	// Every token of the family is dead now, the newest too.
	e.clock.Add(time.Minute)
	for name, tok := range map[string]string{"t3 (newest)": t3, "t2": t2, "t1": t1} {
		t.Run(name, func(t *testing.T) { wantRefreshFails(t, s, tok, "invalid or expired refresh token") })
	}
	if got := MustFindFamily(t, s, f.ID); !got.RevokedAt.Equal(reusedAt) {
		t.Errorf("revoked_at moved: got %v, want %v", got.RevokedAt, reusedAt)
	}
	// Other families of the user are untouched.
	if got, _ := MustRefresh(t, s, otherToken); got.ID != other.ID {
		t.Errorf("other family: got %s, want %s", got.ID, other.ID)
	}

	events := MustAuditEvents(t, s, latchkey.AuditFilter{AccountID: e.account.ID, Action: ptr(latchkey.ActionSessionReuse)})
	if len(events) != 1 {
		t.Fatalf("reuse events: got %d, want 1", len(events))
	}
	if ev := events[0]; ev.TargetType != "session" || ev.TargetID != f.ID || ev.ActorKind != latchkey.ActorUser || ev.ActorID != e.user.ID {
		t.Errorf("reuse event: got %s, want session %s, actor user %d", dump(ev), f.ID, e.user.ID)
	}
}

// testSessionExpiry checks a family refreshes until its expiry and not after.
func testSessionExpiry(t *testing.T, b backend) {
	e := MustSessionEnv(t, b)
	s := e.store
	f, t1 := MustCreateSessionFor(t, s, e.user.ID, time.Hour)
	e.clock.Add(59 * time.Minute)
	got, t2 := MustRefresh(t, s, t1)
	if !got.ExpiresAt.Equal(f.ExpiresAt) {
		t.Errorf("refresh extended the family: got %v, want %v", got.ExpiresAt, f.ExpiresAt)
	}
	e.clock.Add(time.Minute) // exactly at expiry
	wantRefreshFails(t, s, t2, "invalid or expired refresh token")
	// An expired family is not revoked, and a rotated token of it is no
	// reuse either: it is just expired.
	wantRefreshFails(t, s, t1, "invalid or expired refresh token")
	if got := MustFindFamily(t, s, f.ID); got.RevokedAt != nil {
		t.Errorf("expired family: got revoked_at %v, want nil", got.RevokedAt)
	}
}

// testSessionRefreshConcurrent races refreshes with one token (two tabs,
// a retried request): every one succeeds with the same new token, and the
// family lives on.
func testSessionRefreshConcurrent(t *testing.T, b backend) {
	e := MustSessionEnv(t, b)
	s := e.store
	const rounds, racers = 4, 8
	for round := 0; round < rounds; round++ {
		f, token := MustCreateSession(t, s, e.user.ID)
		nexts := make([]string, racers)
		errs := race(racers, []*sqldb.Store{s}, func(i int, s *sqldb.Store) error {
			got, next, err := s.RefreshSession(ctx, token, sessionKey)
			if err == nil && (got.ID != f.ID || got.RevokedAt != nil) {
				err = fmt.Errorf("got family %s, want %s alive", dump(got), f.ID)
			}
			nexts[i] = next
			return err
		})
		if err := errors.Join(errs...); err != nil {
			t.Fatalf("round %d: errors: %v", round, err)
		}
		wins := map[string]int{}
		for _, next := range nexts {
			wins[next]++
		}
		if len(wins) != 1 {
			t.Fatalf("round %d: got %d different new tokens, want 1", round, len(wins))
		}
		var next string
		for tok, n := range wins {
			if n != racers || tok == token {
				t.Fatalf("round %d: got %q %d times, want a new token %d times", round, tok, n, racers)
			}
			next = tok
		}
		if got := MustFindFamily(t, s, f.ID); got.RevokedAt != nil {
			t.Fatalf("round %d: family revoked by concurrent refreshes", round)
		}
		// The shared token is the family's live one.
		e.clock.Add(time.Minute)
		MustRefresh(t, s, next)
	}
	if n := countEvents(t, s, e.account.ID, latchkey.ActionSessionReuse); n != 0 {
		t.Errorf("reuse events: got %d, want 0", n)
	}
}

// TestSessionReplay runs the replay-window cases on every backend.
func TestSessionReplay(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			if b.skip != "" {
				t.Skip(b.skip)
			}
			for _, c := range []struct {
				name string
				fn   func(t *testing.T, b backend)
			}{
				{"InsideWindow", testSessionReplayInsideWindow},
				{"AfterWindow", testSessionReplayAfterWindow},
				{"FollowsLine", testSessionReplayFollowsLine},
				{"OtherKey", testSessionReplayOtherKey},
				{"RevokedFamily", testSessionReplayRevokedFamily},
				{"ShortKey", testSessionRefreshShortKey},
				{"ConcurrentTwoStores", testSessionRefreshConcurrentTwoStores},
			} {
				t.Run(c.name, func(t *testing.T) {
					t.Parallel()
					c.fn(t, b)
				})
			}
		})
	}
}

// testSessionReplayInsideWindow checks a replay within the window gets the same new token and revokes nothing.
func testSessionReplayInsideWindow(t *testing.T, b backend) {
	e := MustSessionEnv(t, b)
	s := e.store
	f, t1 := MustCreateSession(t, s, e.user.ID)
	e.clock.Add(time.Minute)
	_, t2 := MustRefresh(t, s, t1)
	// Again and again, up to the last microsecond of the window: the same
	// family, the same new token, nothing revoked.
	for _, step := range []time.Duration{0, time.Second, latchkey.RefreshReplayWindow - time.Second - time.Microsecond} {
		e.clock.Add(step)
		got, again := MustRefresh(t, s, t1)
		if again != t2 || got.ID != f.ID || got.RevokedAt != nil || !got.ExpiresAt.Equal(f.ExpiresAt) {
			t.Fatalf("replay %v after rotation: got %s, %q, want family %s and %q", step, dump(got), again, f.ID, t2)
		}
	}
	if got := MustFindFamily(t, s, f.ID); got.RevokedAt != nil {
		t.Fatalf("family revoked by a replay in the window: %v", got.RevokedAt)
	}
	// The shared token goes on as the family's live one.
	e.clock.Add(time.Minute)
	_, t3 := MustRefresh(t, s, t2)
	if t3 == t2 || t3 == t1 {
		t.Fatalf("refresh after the replays: got %q, want a new token", t3)
	}
	if n := countEvents(t, s, e.account.ID, latchkey.ActionSessionReuse); n != 0 {
		t.Errorf("reuse events: got %d, want 0", n)
	}
}

// testSessionReplayAfterWindow checks a replay at the window's end is reuse.
func testSessionReplayAfterWindow(t *testing.T, b backend) {
	e, s, f, t1, t2 := MustRotatedSession(t, b)
	MustRefresh(t, s, t1) // inside: harmless
	e.clock.Add(latchkey.RefreshReplayWindow)
	reusedAt := e.clock.Now()
	wantRefreshFails(t, s, t1, reuseMessage)
	if got := MustFindFamily(t, s, f.ID); got.RevokedAt == nil || !got.RevokedAt.Equal(reusedAt) {
		t.Fatalf("family after a replay at the window's end: got revoked_at %v, want %v", got.RevokedAt, reusedAt)
	}
	wantRefreshFails(t, s, t2, "invalid or expired refresh token")
	if n := countEvents(t, s, e.account.ID, latchkey.ActionSessionReuse); n != 1 {
		t.Errorf("reuse events: got %d, want 1", n)
	}
}

// testSessionReplayFollowsLine: when the successor was rotated too within
// the window, a replay answers the newest token, the one that still
// refreshes, so a browser that stores the late answer keeps a live token.
func testSessionReplayFollowsLine(t *testing.T, b backend) {
	e, s, f, t1, t2 := MustRotatedSession(t, b)
	e.clock.Add(time.Second)
	_, t3 := MustRefresh(t, s, t2)
	e.clock.Add(time.Second)
	for name, tok := range map[string]string{"t1": t1, "t2": t2} {
		if got, next := MustRefresh(t, s, tok); next != t3 || got.ID != f.ID {
			t.Errorf("replay of %s: got %q, want the newest token %q", name, next, t3)
		}
	}
	e.clock.Add(time.Minute)
	if _, t4 := MustRefresh(t, s, t3); t4 == t3 {
		t.Fatal("the newest token did not rotate")
	}
	if got := MustFindFamily(t, s, f.ID); got.RevokedAt != nil {
		t.Fatalf("family revoked: %v", got.RevokedAt)
	}
}

// testSessionReplayOtherKey: a successor derived under another key (the
// secret key changed) cannot be given back; the replay fails and revokes
// nothing.
func testSessionReplayOtherKey(t *testing.T, b backend) {
	_, s, f, t1, t2 := MustRotatedSession(t, b)
	other := bytes.Repeat([]byte{7}, 32)
	if got, next, err := s.RefreshSession(ctx, t1, other); latchkey.ErrorCode(err) != latchkey.EUNAUTHORIZED || got != nil || next != "" {
		t.Fatalf("replay under another key: got %v, %q, %v, want unauthorized", got, next, err)
	}
	if got := MustFindFamily(t, s, f.ID); got.RevokedAt != nil {
		t.Fatalf("family revoked: %v", got.RevokedAt)
	}
	MustRefresh(t, s, t2)
}

// testSessionReplayRevokedFamily checks a replay of a revoked family fails.
func testSessionReplayRevokedFamily(t *testing.T, b backend) {
	e := MustSessionEnv(t, b)
	s := e.store
	f, t1 := MustCreateSession(t, s, e.user.ID)
	MustRefresh(t, s, t1)
	if err := s.RevokeSessionFamily(ctx, f.ID); err != nil {
		t.Fatal(err)
	}
	wantRefreshFails(t, s, t1, "invalid or expired refresh token")
}

// testSessionRefreshShortKey checks a key under 32 bytes is a programming error that rotates nothing.
func testSessionRefreshShortKey(t *testing.T, b backend) {
	e := MustSessionEnv(t, b)
	_, t1 := MustCreateSession(t, e.store, e.user.ID)
	for _, key := range [][]byte{nil, []byte("short")} {
		if _, _, err := e.store.RefreshSession(ctx, t1, key); err == nil || latchkey.ErrorCode(err) != latchkey.EINTERNAL {
			t.Errorf("key of %d bytes: got %v, want an internal error", len(key), err)
		}
	}
	MustRefresh(t, e.store, t1) // nothing was rotated
}

// testSessionRefreshConcurrentTwoStores races one token through two stores
// on one database, as two instances would.
func testSessionRefreshConcurrentTwoStores(t *testing.T, b backend) {
	e := MustSessionEnv(t, b)
	stores := MustTwoStores(t, e.env)
	for round := 0; round < 4; round++ {
		f, token := MustCreateSession(t, e.store, e.user.ID)
		nexts := make([]string, 2*len(stores))
		errs := race(len(nexts), stores, func(i int, s *sqldb.Store) (err error) {
			_, nexts[i], err = s.RefreshSession(ctx, token, sessionKey)
			return err
		})
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d, racer %d: %v", round, i, err)
			}
			if nexts[i] != nexts[0] {
				t.Fatalf("round %d: racers got %q and %q, want one token", round, nexts[0], nexts[i])
			}
		}
		if got := MustFindFamily(t, e.store, f.ID); got.RevokedAt != nil {
			t.Fatalf("round %d: family revoked", round)
		}
	}
}

// testSessionRevoke checks a revocation is stamped and audited once, with the caller as its actor.
func testSessionRevoke(t *testing.T, b backend) {
	e, s, f, _, t2 := MustRotatedSession(t, b)

	e.clock.Add(time.Minute)
	revokedAt := e.clock.Now()
	if err := s.RevokeSessionFamily(ctx, f.ID); err != nil {
		t.Fatalf("RevokeSessionFamily: %v", err)
	}
	if got := MustFindFamily(t, s, f.ID); got.RevokedAt == nil || !got.RevokedAt.Equal(revokedAt) {
		t.Fatalf("revoked_at: got %v, want %v", got.RevokedAt, revokedAt)
	}
	wantRefreshFails(t, s, t2, "invalid or expired refresh token")

	// Revoking again keeps the first stamp and audits nothing.
	e.clock.Add(time.Minute)
	if err := s.RevokeSessionFamily(latchkey.NewContextWithActor(ctx, latchkey.Actor{Kind: latchkey.ActorOperator}), f.ID); err != nil {
		t.Fatalf("RevokeSessionFamily again: %v", err)
	}
	if got := MustFindFamily(t, s, f.ID); !got.RevokedAt.Equal(revokedAt) {
		t.Errorf("revoked_at after a second revoke: got %v, want %v", got.RevokedAt, revokedAt)
	}
	wantCode(t, s.RevokeSessionFamily(ctx, "no-such-family"), latchkey.ENOTFOUND)

	// An operator ending someone's session is the actor of that logout.
	g, _ := MustCreateSession(t, s, e.user.ID)
	if err := s.RevokeSessionFamily(latchkey.NewContextWithActor(ctx, latchkey.Actor{Kind: latchkey.ActorOperator, IP: "192.0.2.7"}), g.ID); err != nil {
		t.Fatal(err)
	}
	events := MustAuditEvents(t, s, latchkey.AuditFilter{AccountID: e.account.ID, Action: ptr(latchkey.ActionSessionLogout)})
	if len(events) != 2 {
		t.Fatalf("logout events: got %d, want 2", len(events))
	}
	if ev := events[0]; ev.TargetID != g.ID || ev.ActorKind != latchkey.ActorOperator || ev.IP != "192.0.2.7" {
		t.Errorf("operator's logout event: got %s", dump(ev))
	}
	if ev := events[1]; ev.TargetID != f.ID || ev.ActorKind != latchkey.ActorUser || ev.ActorID != e.user.ID {
		t.Errorf("user's logout event: got %s, want actor user %d", dump(ev), e.user.ID)
	}
}

// testPruneSessions checks only families expired longer than keep are deleted.
func testPruneSessions(t *testing.T, b backend) {
	e := MustSessionEnv(t, b)
	s := e.store
	short, st := MustCreateSessionFor(t, s, e.user.ID, time.Hour)
	MustRefresh(t, s, st)
	long, lt := MustCreateSession(t, s, e.user.ID)

	if _, err := s.PruneSessions(ctx, -time.Second); latchkey.ErrorCode(err) != latchkey.EINVALID {
		t.Errorf("PruneSessions(negative): got %v, want invalid", err)
	}
	e.clock.Add(2 * time.Hour)
	for _, tt := range []struct {
		keep time.Duration
		want int64
	}{{2 * time.Hour, 0}, {0, 1}, {0, 0}} {
		n, err := s.PruneSessions(ctx, tt.keep)
		if err != nil || n != tt.want {
			t.Errorf("PruneSessions(%v): got %d, %v, want %d", tt.keep, n, err, tt.want)
		}
	}
	_, err := s.FindSessionFamily(ctx, short.ID)
	wantCode(t, err, latchkey.ENOTFOUND)
	if got, _ := MustRefresh(t, s, lt); got.ID != long.ID {
		t.Errorf("live family after prune: got %s, want %s", got.ID, long.ID)
	}
}

// TestSQLiteStoresNoRefreshToken checks that the database files hold a
// refresh token's SHA-256, never the token.
func TestSQLiteStoresNoRefreshToken(t *testing.T) {
	dir := t.TempDir()
	s := MustOpen(t, filepath.Join(dir, "lk.db"), nil)
	MustCreateAccount(t, s, "default")
	u := MustCreateUser(t, s, "ada@example.com", "")
	_, t1 := MustCreateSession(t, s, u.ID)
	_, t2 := MustRefresh(t, s, t1)
	all := MustCloseAndRead(t, s, dir)
	for _, tok := range []string{t1, t2} {
		if bytes.Contains(all, []byte(tok)) {
			t.Error("the database files contain a refresh token")
		}
		if h := sha256.Sum256([]byte(tok)); !bytes.Contains(all, h[:]) {
			t.Error("the database files do not contain the refresh token's hash")
		}
	}
}
