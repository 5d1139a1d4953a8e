package ui_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/inmem"
	"github.com/latchkey/latchkey/internal/password"
	"github.com/latchkey/latchkey/internal/sqldb"
	"github.com/latchkey/latchkey/internal/testenv/httpstack"
)

// operatorSecret is the test server's LATCHKEY_ADMIN_SECRET.
const operatorSecret = "operator secret for the ui tests"

// site is a whole server (httpstack: the native API, the seed surfaces
// and the UI, wired as serve wires them) on a fresh SQLite store whose
// setup link has not been used.
type site struct {
	URL        string
	Store      *sqldb.Store
	SetupToken string
	RootKey    string
	Verifier   *inmem.Verifier
}

// newSite starts a site for one test.
func newSite(t *testing.T) *site {
	t.Helper()
	st := httpstack.New(t, httpstack.SQLiteDSN(t), httpstack.Options{
		AdminSecret:  operatorSecret,
		LoginLimiter: inmem.NewRateLimiter(),
		Passwords:    &password.Hasher{Time: 1, MemoryKiB: 64, Threads: 1},
	})
	srv := httptest.NewServer(st.Handler)
	t.Cleanup(srv.Close)
	return &site{URL: srv.URL, Store: st.Store, SetupToken: st.Boot.SetupToken, RootKey: st.Boot.Secret, Verifier: st.Verifier}
}

// browser is a cookie-keeping HTTP client that does not follow redirects,
// so a test sees each answer; it plays a browser without JavaScript.
type browser struct {
	t    *testing.T
	base string
	c    *http.Client
}

// newBrowser returns a client with an empty cookie jar. The UI's cookies
// are Secure (__Host-): the jar is told the site is https so it keeps and
// sends them over the test's plain http, as browsers do for localhost.
func (s *site) newBrowser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: s.URL, c: &http.Client{
		Jar:           secureJar{jar},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// secureJar files cookies under the https form of the URL.
type secureJar struct{ http.CookieJar }

func (j secureJar) SetCookies(u *url.URL, cs []*http.Cookie) { j.CookieJar.SetCookies(https(u), cs) }
func (j secureJar) Cookies(u *url.URL) []*http.Cookie        { return j.CookieJar.Cookies(https(u)) }

func https(u *url.URL) *url.URL { c := *u; c.Scheme = "https"; return &c }

// answer is a page: its status, Location and body.
type answer struct {
	Status   int
	Location string
	Body     string
	Header   http.Header
}

// get opens a page.
func (b *browser) get(path string) answer {
	b.t.Helper()
	return b.do(http.MethodGet, path, nil)
}

// post submits a form.
func (b *browser) post(path string, form url.Values) answer {
	b.t.Helper()
	return b.do(http.MethodPost, path, form)
}

// do sends one request.
func (b *browser) do(method, path string, form url.Values) answer {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.base+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return answer{Status: res.StatusCode, Location: res.Header.Get("Location"), Body: string(raw), Header: res.Header}
}

// csrfField finds a form's CSRF token in a page.
var csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// token returns the first CSRF token of a page.
func (b *browser) token(page answer) string {
	b.t.Helper()
	m := csrfField.FindStringSubmatch(page.Body)
	if m == nil {
		b.t.Fatalf("no csrf_token in the page:\n%s", page.Body)
	}
	return m[1]
}

// setUp spends the setup link as the first admin and returns their browser.
func (s *site) setUp(t *testing.T, email, pw string) *browser {
	t.Helper()
	b := s.newBrowser(t)
	page := b.get("/setup?token=" + url.QueryEscape(s.SetupToken))
	if page.Status != http.StatusOK {
		t.Fatalf("setup page: %d\n%s", page.Status, page.Body)
	}
	res := b.post("/setup", url.Values{"csrf_token": {b.token(page)}, "token": {s.SetupToken}, "email": {email}, "password": {pw}, "confirm": {pw}})
	if res.Status != http.StatusSeeOther || !strings.HasPrefix(res.Location, "/admin/keys") {
		t.Fatalf("setup: %d %q\n%s", res.Status, res.Location, res.Body)
	}
	return b
}

// signIn signs a user in through the sign-in form.
func (s *site) signIn(t *testing.T, email, pw string) *browser {
	t.Helper()
	b := s.newBrowser(t)
	page := b.get("/login")
	res := b.post("/login", url.Values{"csrf_token": {b.token(page)}, "email": {email}, "password": {pw}})
	if res.Status != http.StatusSeeOther {
		t.Fatalf("sign in %s: %d\n%s", email, res.Status, res.Body)
	}
	return b
}
