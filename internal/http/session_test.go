package http_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	lkhttp "github.com/latchkey/latchkey/internal/http"
	"github.com/latchkey/latchkey/internal/http/auth"
	"github.com/latchkey/latchkey/internal/inmem"
	"github.com/latchkey/latchkey/internal/mock"
	"github.com/latchkey/latchkey/internal/testenv"
)

// fakeSessions is an in-memory SessionService with the store's rotation,
// replay window and reuse semantics, on the fixture's clock.
type fakeSessions struct {
	mu       sync.Mutex
	now      func() time.Time
	n        int
	families map[string]*latchkey.SessionFamily
	tokens   map[string]string    // token → family id
	rotated  map[string]time.Time // token → when it was rotated
	next     map[string]string    // rotated token → its successor

	loginIPs      []string // ip of each CreateSession
	loginActorIPs []string // the context actor's IP of each CreateSession
}

func newFakeSessions(now func() time.Time) *fakeSessions {
	return &fakeSessions{now: now, families: map[string]*latchkey.SessionFamily{}, tokens: map[string]string{},
		rotated: map[string]time.Time{}, next: map[string]string{}}
}

func (f *fakeSessions) token() string {
	f.n++
	return "rt-" + time.Now().Format("150405.000000") + "-" + string(rune('a'+f.n%26)) + strings.Repeat("x", f.n)
}

// mock is the SessionService backed by f.
func (f *fakeSessions) mock() *mock.SessionService {
	return &mock.SessionService{
		CreateSessionFn: func(ctx context.Context, userID int64, ttl time.Duration, ip, ua string) (*latchkey.SessionFamily, string, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.loginIPs = append(f.loginIPs, ip)
			f.loginActorIPs = append(f.loginActorIPs, latchkey.ActorFromContext(ctx).IP)
			fam := &latchkey.SessionFamily{ID: "fam" + string(rune('A'+len(f.families))), UserID: userID, ExpiresAt: f.now().Add(ttl)}
			f.families[fam.ID] = fam
			t := f.token()
			f.tokens[t] = fam.ID
			return fam, t, nil
		},
		RefreshSessionFn: func(ctx context.Context, tok string) (*latchkey.SessionFamily, string, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			id, ok := f.tokens[tok]
			fam := f.families[id]
			if !ok || fam.RevokedAt != nil {
				return nil, "", latchkey.Errorf(latchkey.EUNAUTHORIZED, "invalid refresh token")
			}
			if at, ok := f.rotated[tok]; ok {
				if f.now().Sub(at) < latchkey.RefreshReplayWindow {
					return fam, f.next[tok], nil
				}
				now := f.now()
				fam.RevokedAt = &now
				return nil, "", latchkey.Errorf(latchkey.EUNAUTHORIZED, "refresh token reuse detected; session revoked")
			}
			f.rotated[tok] = f.now()
			t := f.token()
			f.tokens[t] = id
			f.next[tok] = t
			return fam, t, nil
		},
		FindSessionFamilyFn: func(ctx context.Context, id string) (*latchkey.SessionFamily, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			fam, ok := f.families[id]
			if !ok {
				return nil, latchkey.Errorf(latchkey.ENOTFOUND, "no session")
			}
			c := *fam
			return &c, nil
		},
		RevokeSessionFamilyFn: func(ctx context.Context, id string) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			now := f.now()
			f.families[id].RevokedAt = &now
			return nil
		},
	}
}

// sessionFixture is a Server with two users: admin@acme.test (admin of
// account 7) and member@acme.test (member of account 7).
type sessionFixture struct {
	srv      *httptest.Server
	http     testenv.HTTP // to srv
	clock    *time.Time
	keys     *mock.KeyService
	sessions *fakeSessions

	mu          sync.Mutex
	keyActorIPs []string       // the actor's IP of each CreateKey
	disabled    map[int64]bool // users deactivated (3, gone@acme.test, from the start)
}

// user returns a copy of u, deactivated when f says so.
func (f *sessionFixture) user(u *latchkey.User) *latchkey.User {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := *u
	c.Disabled = f.disabled[u.ID]
	return &c
}

const goodPassword = "correct horse battery"

// MustSessionFixture starts the server, after each option has changed it.
func MustSessionFixture(tb testing.TB, options ...func(*lkhttp.Server)) *sessionFixture {
	tb.Helper()
	now := time.Now()
	f := &sessionFixture{clock: &now, keys: &mock.KeyService{}, disabled: map[int64]bool{3: true}}
	f.sessions = newFakeSessions(func() time.Time { return *f.clock })
	users := map[string]*latchkey.User{"admin@acme.test": {ID: 1, Email: "admin@acme.test"}, "member@acme.test": {ID: 2, Email: "member@acme.test"},
		"gone@acme.test": {ID: 3, Email: "gone@acme.test"}}
	authn := &auth.Authenticator{
		Verifier: &mock.Verifier{},
		Accounts: &mock.AccountService{FindAccountByIDFn: func(ctx context.Context, id int64) (*latchkey.Account, error) {
			return &latchkey.Account{ID: id, Name: "acme"}, nil
		}},
		Sessions:  f.sessions.mock(),
		SecretKey: []byte("0123456789abcdef0123456789abcdef"),
		Clock:     func() time.Time { return *f.clock },
		Passwords: &mock.PasswordHasher{
			HashFn:   func(pw string) (string, error) { return "h:" + pw, nil },
			VerifyFn: func(enc, pw string) (bool, error) { return enc == "h:"+pw, nil },
		},
		LoginLimiter: inmem.NewRateLimiter(),
		Users: &mock.UserService{
			FindUserByEmailFn: func(ctx context.Context, email string) (*latchkey.User, string, error) {
				if u, ok := users[email]; ok {
					return f.user(u), "h:" + goodPassword, nil
				}
				return nil, "", latchkey.Errorf(latchkey.ENOTFOUND, "no user")
			},
			FindUserByIDFn: func(ctx context.Context, id int64) (*latchkey.User, error) {
				for _, u := range users {
					if u.ID == id {
						return f.user(u), nil
					}
				}
				return nil, latchkey.Errorf(latchkey.ENOTFOUND, "no user")
			},
			FindMembershipsFn: func(ctx context.Context, userID int64) ([]*latchkey.Membership, error) {
				role := latchkey.RoleMember
				if userID == 1 {
					role = latchkey.RoleAdmin
				}
				return []*latchkey.Membership{{AccountID: 7, UserID: userID, Role: role}}, nil
			},
		},
	}
	s := &lkhttp.Server{Keys: f.keys, Verifier: authn.Verifier, Accounts: authn.Accounts, Users: authn.Users,
		Clock: authn.Clock, Auth: authn}
	f.keys.FindKeysFn = func(ctx context.Context, kf latchkey.KeyFilter) ([]*latchkey.Key, string, error) { return nil, "", nil }
	f.keys.CreateKeyFn = func(ctx context.Context, accountID int64, c *latchkey.KeyCreate) (*latchkey.Key, string, error) {
		a := latchkey.ActorFromContext(ctx)
		if a.Kind != latchkey.ActorUser {
			tb.Errorf("actor: got %+v, want a user", a)
		}
		f.mu.Lock()
		f.keyActorIPs = append(f.keyActorIPs, a.IP)
		f.mu.Unlock()
		return &latchkey.Key{ID: 1, CreatedIP: a.IP}, "lk_x", nil
	}
	f.srv, f.http = startServer(tb, s, options)
	return f
}

// login signs in (testenv.HTTP.Login) and checks the access cookie's
// attributes on the way.
func (f *sessionFixture) login(tb testing.TB, email, password string) testenv.Session {
	tb.Helper()
	l := f.http.Login(tb, email, password)
	if c := l.Response.Cookie(auth.AccessCookie); c != nil && (c.Value != l.AccessToken || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/") {
		tb.Errorf("access cookie: got %+v, want Secure HttpOnly SameSite=Strict Path=/ with the token", c)
	}
	return l
}

// loginFrom signs in through the server's handler as a client at
// remoteAddr (the test server itself always sees 127.0.0.1), with extra
// headers.
func (f *sessionFixture) loginFrom(tb testing.TB, remoteAddr, email, password string, headers ...string) testenv.Session {
	tb.Helper()
	return testenv.HTTP{Handler: f.srv.Config.Handler, RemoteAddr: remoteAddr}.Login(tb, email, password, headers...)
}

// Sign-in, sessions by bearer and cookie, CSRF, refresh, logout and the
// throttle.
func TestSessions(t *testing.T) {
	t.Run("login: bearer and cookie with CSRF", func(t *testing.T) {
		f := MustSessionFixture(t)
		l := f.login(t, "admin@acme.test", goodPassword)
		if l.Status != 200 || !strings.HasPrefix(l.AccessToken, "lka_") || l.CSRFToken == "" || l.RefreshToken == "" {
			t.Fatalf("login: got %+v", l)
		}
		f.http.MustDo(t, 200, "GET", "/v1/keys", "", l.Bearer()...)                                               // bearer
		f.http.MustDo(t, 200, "GET", "/v1/keys", "", l.Cookie()...)                                               // cookie GET (no CSRF on safe methods)
		f.http.MustDo(t, 403, "POST", "/v1/keys", `{"name":"x"}`, l.Cookie()...)                                  // cookie POST without CSRF
		f.http.MustDo(t, 403, "POST", "/v1/keys", `{"name":"x"}`, append(l.Cookie(), "X-CSRF-Token", "wrong")...) // cookie POST with wrong CSRF
		f.http.MustDo(t, 201, "POST", "/v1/keys", `{"name":"x"}`, l.CookieCSRF()...)                              // cookie POST with CSRF
		f.http.MustDo(t, 201, "POST", "/v1/keys", `{"name":"x"}`, l.Bearer()...)                                  // bearer POST needs no CSRF
	})
	t.Run("wrong password and unknown email look alike", func(t *testing.T) {
		f := MustSessionFixture(t)
		if l := f.login(t, "admin@acme.test", "nope nope nope"); l.Status != 401 || l.AccessToken != "" {
			t.Fatalf("wrong password: got %+v", l)
		}
		if l := f.login(t, "ghost@acme.test", goodPassword); l.Status != 401 {
			t.Fatalf("unknown email: got %+v", l)
		}
	})
	t.Run("a deactivated user hears what a wrong password hears, and their session ends", func(t *testing.T) {
		f := MustSessionFixture(t)
		gone, wrong := f.login(t, "gone@acme.test", goodPassword), f.login(t, "admin@acme.test", "nope nope nope")
		if gone.Status != 401 || gone.AccessToken != "" || gone.Response.String() != wrong.Response.String() {
			t.Fatalf("deactivated: got %d %s, want what a wrong password gets: %s", gone.Status, gone.Response, wrong.Response)
		}
		l := f.login(t, "member@acme.test", goodPassword)
		f.http.MustDo(t, 200, "GET", "/v1/keys", "", l.Bearer()...)
		f.mu.Lock()
		f.disabled[2] = true // as if its sessions were missed when it was deactivated
		f.mu.Unlock()
		f.http.MustDo(t, 401, "GET", "/v1/keys", "", l.Bearer()...)
	})
	t.Run("member reads, admin writes", func(t *testing.T) {
		f := MustSessionFixture(t)
		l := f.login(t, "member@acme.test", goodPassword)
		f.http.MustDo(t, 200, "GET", "/v1/keys", "", l.Bearer()...)                               // member read
		f.http.MustDo(t, 403, "POST", "/v1/keys", `{"name":"x"}`, l.Bearer()...)                  // member write
		f.http.MustDo(t, 403, "GET", "/v1/keys", "", append(l.Bearer(), "X-Account-ID", "99")...) // another account
	})
	t.Run("refresh rotates; a replay in the window gets the same token; reuse after it revokes the family", func(t *testing.T) {
		f := MustSessionFixture(t)
		l := f.login(t, "admin@acme.test", goodPassword)
		r2 := f.http.Refresh(t, l.RefreshToken)
		if r2.Status != 200 || r2.RefreshToken == "" || r2.RefreshToken == l.RefreshToken {
			t.Fatalf("refresh: got %d %q, want 200 and a new token", r2.Status, r2.RefreshToken)
		}
		*f.clock = f.clock.Add(latchkey.RefreshReplayWindow - time.Second)
		if again := f.http.Refresh(t, l.RefreshToken); again.Status != 200 || again.RefreshToken != r2.RefreshToken {
			t.Fatalf("replay in the window: got %d %q, want 200 and the same token %q", again.Status, again.RefreshToken, r2.RefreshToken)
		}
		*f.clock = f.clock.Add(time.Second)
		if st := f.http.Refresh(t, l.RefreshToken).Status; st != 401 {
			t.Fatalf("reuse after the window: got %d, want 401", st)
		}
		if st := f.http.Refresh(t, r2.RefreshToken).Status; st != 401 {
			t.Fatalf("newest token after reuse: got %d, want 401 (family revoked)", st)
		}
		f.http.MustDo(t, 401, "GET", "/v1/keys", "", l.Bearer()...) // access token after reuse
	})
	t.Run("logout takes effect on the next request", func(t *testing.T) {
		f := MustSessionFixture(t)
		l := f.login(t, "admin@acme.test", goodPassword)
		f.http.MustDo(t, 403, "POST", "/v1/auth/logout", "", l.Cookie()...)     // logout by cookie without CSRF
		f.http.MustDo(t, 204, "POST", "/v1/auth/logout", "", l.CookieCSRF()...) // logout
		f.http.MustDo(t, 401, "GET", "/v1/keys", "", l.Bearer()...)             // after logout
		if st := f.http.Refresh(t, l.RefreshToken).Status; st != 401 {
			t.Fatalf("refresh after logout: got %d, want 401", st)
		}
	})
	t.Run("expired and forged access tokens", func(t *testing.T) {
		f := MustSessionFixture(t)
		l := f.login(t, "admin@acme.test", goodPassword)
		forged := l.AccessToken[:len(l.AccessToken)-2] + "AA"
		f.http.MustDo(t, 401, "GET", "/v1/keys", "", "Authorization", "Bearer "+forged) // forged
		*f.clock = f.clock.Add(auth.AccessTTL + time.Second)
		f.http.MustDo(t, 401, "GET", "/v1/keys", "", l.Bearer()...) // expired
		if st := f.http.Refresh(t, l.RefreshToken).Status; st != 200 {
			t.Fatalf("refresh after access expiry: got %d, want 200", st)
		}
	})
	t.Run("login is throttled per email", func(t *testing.T) {
		f := MustSessionFixture(t)
		var last int
		for i := 0; i < 11; i++ {
			last = f.login(t, "admin@acme.test", "wrong password!").Status
		}
		if last != 429 {
			t.Fatalf("11th attempt in a minute: got %d, want 429", last)
		}
		if l := f.login(t, "admin@acme.test", goodPassword); l.Status != 429 {
			t.Fatalf("right password while throttled: got %d, want 429", l.Status)
		}
		*f.clock = f.clock.Add(61 * time.Second)
		if l := f.login(t, "admin@acme.test", goodPassword); l.Status != 200 {
			t.Fatalf("after the window: got %d, want 200", l.Status)
		}
	})
	t.Run("login is throttled per IP", func(t *testing.T) {
		f := MustSessionFixture(t)
		// 30 failures a minute from one client, each for another email so
		// that the per-email budget (10) never runs out.
		for i := 0; i < 30; i++ {
			if l := f.login(t, fmt.Sprintf("ghost%d@acme.test", i), "wrong password!"); l.Status != 401 {
				t.Fatalf("attempt %d: got %d, want 401", i+1, l.Status)
			}
		}
		rec := f.loginFrom(t, "127.0.0.1:50000", "ghost30@acme.test", "wrong password!")
		if rec.Status != 429 {
			t.Fatalf("31st attempt from the IP: got %d %s, want 429", rec.Status, rec.Response.Body)
		}
		if ct := rec.Response.Header.Get("Content-Type"); ct != "application/problem+json" {
			t.Fatalf("content type: got %q, want application/problem+json", ct)
		}
		if ra, err := strconv.Atoi(rec.Response.Header.Get("Retry-After")); err != nil || ra < 1 || ra > 60 {
			t.Fatalf("Retry-After: got %q, want seconds until the minute's window ends", rec.Response.Header.Get("Retry-After"))
		}
		p := problem(t, rec.Response.String())
		if p.Code != latchkey.ERATELIMITED || p.Status != 429 || !strings.HasPrefix(p.Detail, "too many sign-in attempts; try again in ") {
			t.Fatalf("problem: got %+v, want rate_limited telling when to try again", p)
		}
		for _, tt := range []struct {
			name, addr, email, password string
			headers                     []string
			want                        int
		}{
			{"right password from the throttled IP", "127.0.0.1:50001", "admin@acme.test", goodPassword, nil, 429},
			{"X-Forwarded-For is not trusted", "127.0.0.1:50002", "admin@acme.test", goodPassword, []string{"X-Forwarded-For", "203.0.113.50"}, 429},
			{"X-Real-IP is not trusted", "127.0.0.1:50003", "admin@acme.test", goodPassword, []string{"X-Real-IP", "203.0.113.51"}, 429},
			{"another IPv4 client signs in", "203.0.113.7:40000", "admin@acme.test", goodPassword, nil, 200},
			{"another IPv6 client is refused only for its password", "[2001:db8::1]:443", "member@acme.test", "wrong password!", nil, 401},
		} {
			t.Run(tt.name, func(t *testing.T) {
				if rec := f.loginFrom(t, tt.addr, tt.email, tt.password, tt.headers...); rec.Status != tt.want {
					t.Fatalf("got %d %s, want %d", rec.Status, rec.Response.Body, tt.want)
				}
			})
		}
		*f.clock = f.clock.Add(61 * time.Second)
		if l := f.login(t, "admin@acme.test", goodPassword); l.Status != 200 {
			t.Fatalf("after the window: got %d, want 200", l.Status)
		}
	})
}

// TestConcurrentRefresh: two tabs refreshing with one cookie at once both
// get the same new refresh token and an access token of the same, live
// family.
func TestConcurrentRefresh(t *testing.T) {
	f := MustSessionFixture(t)
	l := f.login(t, "admin@acme.test", goodPassword)
	var wg sync.WaitGroup
	answers := make([]testenv.Session, 2)
	for i := range answers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i] = f.http.Refresh(t, l.RefreshToken)
		}()
	}
	wg.Wait()
	for i, a := range answers {
		if a.Status != 200 || a.RefreshToken == "" || a.RefreshToken == l.RefreshToken {
			t.Fatalf("tab %d: got %+v, want 200 and a new refresh token", i, a)
		}
		if st := f.http.Do(t, "GET", "/v1/keys", "", a.Bearer()...).Status; st != 200 {
			t.Errorf("tab %d's access token: got %d, want 200", i, st)
		}
	}
	if answers[0].RefreshToken != answers[1].RefreshToken {
		t.Fatalf("tabs got different refresh tokens %q and %q, want one", answers[0].RefreshToken, answers[1].RefreshToken)
	}
	*f.clock = f.clock.Add(time.Minute)
	if a := f.http.Refresh(t, answers[0].RefreshToken); a.Status != 200 {
		t.Fatalf("the shared new token later: got %d, want 200", a.Status)
	}
}

// TestTrustedProxies drives the real server over TCP, so the socket's peer
// is 127.0.0.1: trusted in one server, not in the other.
func TestTrustedProxies(t *testing.T) {
	trust := func(cidrs ...string) func(*lkhttp.Server) {
		return func(s *lkhttp.Server) {
			for _, c := range cidrs {
				s.Auth.TrustedProxies = append(s.Auth.TrustedProxies, netip.MustParsePrefix(c))
			}
		}
	}
	// loginXFF signs in over TCP with one X-Forwarded-For line per xff.
	loginXFF := func(tb testing.TB, f *sessionFixture, email, password string, xff ...string) int {
		tb.Helper()
		var headers []string
		for _, v := range xff {
			headers = append(headers, "X-Forwarded-For", v)
		}
		return f.http.Login(tb, email, password, headers...).Status
	}
	// exhaust spends the per-IP budget (30 a minute) of the client the
	// header names, each try for another email so that no email's budget
	// (10) runs out.
	exhaust := func(tb testing.TB, f *sessionFixture, xff string) {
		tb.Helper()
		for i := 0; i < 30; i++ {
			if st := loginXFF(tb, f, fmt.Sprintf("ghost%d@acme.test", i), "wrong password!", xff); st != 401 {
				tb.Fatalf("attempt %d: got %d, want 401", i+1, st)
			}
		}
	}

	t.Run("trusted peer: buckets, sessions and audit use the forwarded address", func(t *testing.T) {
		f := MustSessionFixture(t, trust("127.0.0.0/8", "10.0.0.0/8"))
		exhaust(t, f, "203.0.113.10")
		for _, tt := range []struct {
			name string
			xff  []string
			want int
		}{
			{"the throttled client", []string{"203.0.113.10"}, 429},
			{"the throttled client behind two of our proxies", []string{"203.0.113.10, 10.0.0.7"}, 429},
			{"the throttled client in a second header", []string{"198.51.100.1", "203.0.113.10"}, 429},
			{"the throttled client spoofing another address", []string{"192.0.2.99, 203.0.113.10"}, 429},
			{"the throttled client hiding behind garbage it wrote", []string{"unknown, 203.0.113.10"}, 429},
			{"another client has its own bucket", []string{"203.0.113.11"}, 200},
			{"the proxy itself has its own bucket", nil, 200},
		} {
			t.Run(tt.name, func(t *testing.T) {
				if st := loginXFF(t, f, "admin@acme.test", goodPassword, tt.xff...); st != tt.want {
					t.Fatalf("got %d, want %d", st, tt.want)
				}
			})
		}
		f.sessions.mu.Lock()
		ips, actorIPs := f.sessions.loginIPs, f.sessions.loginActorIPs
		f.sessions.mu.Unlock()
		if want := []string{"203.0.113.11", "127.0.0.1"}; fmt.Sprint(ips) != fmt.Sprint(want) || fmt.Sprint(actorIPs) != fmt.Sprint(want) {
			t.Errorf("sessions' IPs: got %v, audited as %v, want %v", ips, actorIPs, want)
		}

		// A key created through the proxy is audited, and its created_ip
		// stamped, with the client's address.
		l := f.login(t, "member@acme.test", goodPassword)
		a := f.login(t, "admin@acme.test", goodPassword)
		if l.Status != 200 || a.Status != 200 {
			t.Fatalf("login: got %d, %d", l.Status, a.Status)
		}
		if st := f.http.Do(t, "POST", "/v1/keys", `{"name":"x"}`, append(a.Bearer(),
			"X-Forwarded-For", "192.0.2.99, 2001:db8::5")...).Status; st != 201 {
			t.Fatalf("create key: got %d, want 201", st)
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		if want := []string{"2001:db8::5"}; fmt.Sprint(f.keyActorIPs) != fmt.Sprint(want) {
			t.Errorf("CreateKey actor IPs: got %v, want %v", f.keyActorIPs, want)
		}
	})

	t.Run("untrusted peer: the header is ignored", func(t *testing.T) {
		f := MustSessionFixture(t, trust("10.0.0.0/8"))
		exhaust(t, f, "203.0.113.10")
		// Every try counted against 127.0.0.1, whatever the header said.
		for _, xff := range [][]string{{"203.0.113.10"}, {"203.0.113.11"}, {"10.0.0.1"}, nil} {
			if st := loginXFF(t, f, "admin@acme.test", goodPassword, xff...); st != 429 {
				t.Fatalf("X-Forwarded-For %q: got %d, want 429 (the peer's bucket)", xff, st)
			}
		}
		*f.clock = f.clock.Add(61 * time.Second)
		if st := loginXFF(t, f, "admin@acme.test", goodPassword, "203.0.113.12"); st != 200 {
			t.Fatalf("after the window: got %d, want 200", st)
		}
		a := f.login(t, "admin@acme.test", goodPassword)
		if st := f.http.Do(t, "POST", "/v1/keys", `{"name":"x"}`, append(a.Bearer(),
			"X-Forwarded-For", "192.0.2.99")...).Status; st != 201 {
			t.Fatalf("create key: got %d, want 201", st)
		}
		f.sessions.mu.Lock()
		ips := f.sessions.loginIPs
		f.sessions.mu.Unlock()
		f.mu.Lock()
		defer f.mu.Unlock()
		if want := "[127.0.0.1 127.0.0.1]"; fmt.Sprint(ips) != want || fmt.Sprint(f.keyActorIPs) != "[127.0.0.1]" {
			t.Errorf("IPs: sessions %v, CreateKey actor %v, want the peer 127.0.0.1 only", ips, f.keyActorIPs)
		}
	})

	t.Run("IPv6 and IPv4-mapped peers", func(t *testing.T) {
		f := MustSessionFixture(t, trust("fd00::/8", "10.0.0.0/8"))
		for _, tt := range []struct {
			name, peer, xff, want string
		}{
			{"IPv6 proxy", "[fd00::1]:443", "2001:db8:1::9", "2001:db8:1::9"},
			{"IPv4-mapped proxy", "[::ffff:10.1.1.1]:443", "198.51.100.20", "198.51.100.20"},
			{"untrusted IPv6 peer", "[2001:db8:2::1]:443", "198.51.100.21", "2001:db8:2::1"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				rec := f.loginFrom(t, tt.peer, "admin@acme.test", goodPassword, "X-Forwarded-For", tt.xff)
				if rec.Status != 200 {
					t.Fatalf("login: got %d %s", rec.Status, rec.Response.Body)
				}
				f.sessions.mu.Lock()
				defer f.sessions.mu.Unlock()
				if got := f.sessions.loginIPs[len(f.sessions.loginIPs)-1]; got != tt.want {
					t.Errorf("session IP: got %q, want %q", got, tt.want)
				}
			})
		}
	})
}
