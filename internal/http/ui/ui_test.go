package ui_test

import (
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const (
	adminEmail = "ada@example.com"
	adminPW    = "correct horse battery"
)

// verify asks the native API about a secret with the bootstrap root key
// and returns the verification's code.
func (s *site) verify(t *testing.T, secret string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/v1/keys/verify", strings.NewReader(`{"key":"`+secret+`"}`))
	req.Header.Set("Authorization", "Bearer "+s.RootKey)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct{ Code string }
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		t.Fatalf("verify: %d %v", res.StatusCode, err)
	}
	return out.Code
}

// secretOf finds a shown secret in a key's page.
var secretOf = regexp.MustCompile(`id="secret" class="mono" readonly value="([^"]+)"`)

// createKey posts the create form and returns the new key's page path
// and the secret it showed once.
func createKey(t *testing.T, b *browser, form url.Values) (string, string) {
	t.Helper()
	page := b.get("/admin/keys/new")
	if page.Status != http.StatusOK {
		t.Fatalf("new key page: %d\n%s", page.Status, page.Body)
	}
	form.Set("csrf_token", b.token(page))
	res := b.post("/admin/keys", form)
	if res.Status != http.StatusSeeOther {
		t.Fatalf("create: %d\n%s", res.Status, res.Body)
	}
	path := strings.SplitN(res.Location, "?", 2)[0]
	shown := b.get(res.Location)
	m := secretOf.FindStringSubmatch(shown.Body)
	if m == nil {
		t.Fatalf("the new key's page does not show its secret:\n%s", shown.Body)
	}
	return path, m[1]
}

// TestNewcomerPath walks the five-minute path with a browser that runs no
// script: the setup link, a key created with its secret shown once, the key
// verifying, revoked from its page, verifying REVOKED, and the audit log.
func TestNewcomerPath(t *testing.T) {
	s := newSite(t)
	b := s.setUp(t, adminEmail, adminPW)

	empty := b.get("/admin/keys")
	if !strings.Contains(empty.Body, "No keys yet") {
		t.Errorf("an empty account's keys page has no empty state:\n%s", empty.Body)
	}
	path, secret := createKey(t, b, url.Values{"name": {"Acme production"}, "owner_email": {"ops@acme.test"}, "enabled": {"on"},
		"rate_limit": {"100"}, "rate_window": {"60"}, "max_devices": {"3"}, "credits": {"1000"}, "meta": {`{"plan":"pro"}`}})
	if !strings.HasPrefix(secret, "lk") {
		t.Errorf("secret %q does not look like a key", secret)
	}
	for _, p := range []string{path, "/admin/keys", "/admin/audit"} {
		if again := b.get(p); strings.Contains(again.Body, secret) || again.Status != http.StatusOK {
			t.Errorf("%s after the first view: status %d, secret shown again: %v", p, again.Status, strings.Contains(again.Body, secret))
		}
	}
	if code := s.verify(t, secret); code != "VALID" {
		t.Fatalf("the new key verifies %s, want VALID", code)
	}
	if err := s.Verifier.Flush(context.Background()); err != nil { // write-behind, as serve does each second
		t.Fatal(err)
	}
	page := b.get(path)
	for _, want := range []string{"Acme production", "ops@acme.test", `<svg class="chart"`, "VALID: 1", "Revoke key"} {
		if !strings.Contains(page.Body, want) {
			t.Errorf("the key's page lacks %q", want)
		}
	}
	res := b.post(path+"/revoke", url.Values{"csrf_token": {b.token(page)}, "reason": {"leaked in a demo"}})
	if res.Status != http.StatusSeeOther {
		t.Fatalf("revoke: %d\n%s", res.Status, res.Body)
	}
	if code := s.verify(t, secret); code != "REVOKED" {
		t.Errorf("after revoking, the key verifies %s, want REVOKED", code)
	}
	after := b.get(res.Location)
	if !strings.Contains(after.Body, "Key revoked") || !strings.Contains(after.Body, "leaked in a demo") {
		t.Errorf("the key's page after revoking lacks the notice or the reason:\n%s", after.Body)
	}
	audit := b.get("/admin/audit?action=key.revoke")
	if !strings.Contains(audit.Body, "key.revoke") || !strings.Contains(audit.Body, "user") {
		t.Errorf("the audit log does not show the revoke by the user:\n%s", audit.Body)
	}
}

// TestSetupLinkOnce: the link works once; a second use and a made-up token
// are refused, and the setup page then says setup is done.
func TestSetupLinkOnce(t *testing.T) {
	s := newSite(t)
	fresh := s.newBrowser(t)
	page := fresh.get("/setup?token=not-the-token")
	res := fresh.post("/setup", url.Values{"csrf_token": {fresh.token(page)}, "token": {"not-the-token"}, "email": {adminEmail}, "password": {adminPW}, "confirm": {adminPW}})
	if res.Status != http.StatusBadRequest || !strings.Contains(res.Body, "invalid, expired or already used") {
		t.Errorf("a made-up token: %d\n%s", res.Status, res.Body)
	}
	s.setUp(t, adminEmail, adminPW)
	again := s.newBrowser(t)
	done := again.get("/setup?token=" + url.QueryEscape(s.SetupToken))
	if !strings.Contains(done.Body, "Latchkey is set up") {
		t.Errorf("the setup page after setup:\n%s", done.Body)
	}
	res = again.post("/setup", url.Values{"csrf_token": {again.token(again.get("/login"))}, "token": {s.SetupToken}, "email": {"eve@example.com"}, "password": {adminPW}, "confirm": {adminPW}})
	if res.Status == http.StatusSeeOther {
		t.Errorf("the setup link worked twice")
	}
}

// TestWrongPassword says so and keeps the email in the form.
func TestWrongPassword(t *testing.T) {
	s := newSite(t)
	s.setUp(t, adminEmail, adminPW)
	b := s.newBrowser(t)
	page := b.get("/login")
	res := b.post("/login", url.Values{"csrf_token": {b.token(page)}, "email": {adminEmail}, "password": {"not the password"}})
	if res.Status != http.StatusUnauthorized || !strings.Contains(res.Body, "Wrong email or password") || !strings.Contains(res.Body, `value="`+adminEmail+`"`) {
		t.Errorf("wrong password: %d\n%s", res.Status, res.Body)
	}
	if res := b.get("/admin/keys"); res.Status != http.StatusSeeOther || !strings.HasPrefix(res.Location, "/login") {
		t.Errorf("after a failed sign-in the keys page answers %d %q, want a redirect to /login", res.Status, res.Location)
	}
	if res := b.post("/login", url.Values{"email": {adminEmail}, "password": {adminPW}}); res.Status != http.StatusForbidden {
		t.Errorf("a sign-in form without its form token: %d, want 403", res.Status)
	}
}

// TestCSRF: a form posted without the session's token, or with another
// session's, is refused and changes nothing.
func TestCSRF(t *testing.T) {
	s := newSite(t)
	b := s.setUp(t, adminEmail, adminPW)
	path, secret := createKey(t, b, url.Values{"name": {"k"}, "enabled": {"on"}})
	other := s.signIn(t, adminEmail, adminPW)
	otherToken := other.token(other.get("/admin/keys"))
	for name, form := range map[string]url.Values{
		"no token":              {"reason": {"x"}},
		"another session's one": {"reason": {"x"}, "csrf_token": {otherToken}},
	} {
		if res := b.post(path+"/revoke", form); res.Status != http.StatusForbidden || !strings.Contains(res.Body, "CSRF") {
			t.Errorf("%s: %d\n%s", name, res.Status, res.Body)
		}
	}
	if code := s.verify(t, secret); code != "VALID" {
		t.Errorf("a refused form changed the key: it verifies %s", code)
	}
}

// TestMemberReadOnly: a member sees no write buttons and is refused when
// posting anyway.
func TestMemberReadOnly(t *testing.T) {
	s := newSite(t)
	admin := s.setUp(t, adminEmail, adminPW)
	path, secret := createKey(t, admin, url.Values{"name": {"k"}, "enabled": {"on"}})
	users := admin.get("/admin/users")
	res := admin.post("/admin/users", url.Values{"csrf_token": {admin.token(users)}, "email": {"bob@example.com"}, "password": {adminPW}, "role": {"member"}})
	if res.Status != http.StatusSeeOther {
		t.Fatalf("add member: %d\n%s", res.Status, res.Body)
	}
	bob := s.signIn(t, "bob@example.com", adminPW)
	page := bob.get(path)
	if page.Status != http.StatusOK {
		t.Fatalf("member opens the key: %d", page.Status)
	}
	for _, button := range []string{"Revoke key", "Save changes", "Rotate secret", "Delete key"} {
		if strings.Contains(page.Body, button) {
			t.Errorf("a member sees %q", button)
		}
	}
	if keys := bob.get("/admin/keys"); strings.Contains(keys.Body, "New key") {
		t.Errorf("a member sees the New key button")
	}
	if res := bob.post(path+"/revoke", url.Values{"csrf_token": {bob.token(page)}}); res.Status != http.StatusForbidden {
		t.Errorf("a member's revoke: %d, want 403", res.Status)
	}
	if code := s.verify(t, secret); code != "VALID" {
		t.Errorf("the member's refused revoke changed the key: %s", code)
	}
}

// TestSecurityHeaders: every page has the strict policy, and no template
// holds an inline script or an event-handler attribute it would forbid.
func TestSecurityHeaders(t *testing.T) {
	s := newSite(t)
	res := s.newBrowser(t).get("/login")
	csp := res.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'", "form-action 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP allows inline code: %q", csp)
	}
	if res.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("pages may be cached: %q", res.Header.Get("Cache-Control"))
	}
	inline := regexp.MustCompile(`(?i)<script(?:\s[^>]*)?>\s*[^<\s]|\son[a-z]+\s*=|style\s*=`)
	err := filepath.WalkDir("templates", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if m := inline.Find(b); m != nil {
			t.Errorf("%s holds inline code the CSP would block: %q", p, m)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestRootSendsBrowsersToTheUI: the printed address opened in a browser
// lands on the UI (the sign-in page, without a session); curl still gets
// the plain index.
func TestRootSendsBrowsersToTheUI(t *testing.T) {
	s := newSite(t)
	b := s.newBrowser(t)
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/", nil)
	req.Header.Set("Accept", "text/html,application/xhtml+xml")
	res, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin" {
		t.Errorf("a browser at /: %d %q, want 303 to /admin", res.StatusCode, res.Header.Get("Location"))
	}
	if next := b.get("/admin"); next.Status != http.StatusSeeOther {
		t.Errorf("/admin: %d", next.Status)
	} else if keys := b.get(next.Location); keys.Status != http.StatusSeeOther || !strings.HasPrefix(keys.Location, "/login") {
		t.Errorf("%s without a session: %d %q, want the sign-in page", next.Location, keys.Status, keys.Location)
	}
	if plain := b.get("/"); plain.Status != http.StatusOK || !strings.Contains(plain.Body, "Web UI: /admin") {
		t.Errorf("curl at /: %d %q", plain.Status, plain.Body)
	}
}

// TestPlainHTTPElsewhereSaysWhy: a browser on plain HTTP to an address that
// is not this machine drops the UI's Secure cookies; the sign-in form then
// says the UI needs HTTPS or localhost, not that the form expired.
func TestPlainHTTPElsewhereSaysWhy(t *testing.T) {
	s := newSite(t)
	form := url.Values{"email": {adminEmail}, "password": {adminPW}, "csrf_token": {"whatever"}}
	for host, want := range map[string]string{"keys.example.com": "needs HTTPS", "127.0.0.1:8080": "expired", "localhost:8080": "expired"} {
		req, _ := http.NewRequest(http.MethodPost, s.URL+"/login", strings.NewReader(form.Encode()))
		req.Host = host
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusForbidden || !strings.Contains(string(body), want) {
			t.Errorf("Host %s without the form cookie: %d, want 403 saying %q", host, res.StatusCode, want)
		}
	}
}

// TestBadQueryIsAPage: a NUL in a query, refused before any handler, is
// answered as the UI's HTML error page, not the API's problem+json.
func TestBadQueryIsAPage(t *testing.T) {
	s := newSite(t)
	b := s.setUp(t, adminEmail, adminPW)
	res := b.get("/admin/keys?cursor=%00")
	if res.Status != http.StatusBadRequest || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") || res.Header.Get("Content-Security-Policy") == "" {
		t.Errorf("a NUL in the query: %d %q", res.Status, res.Header.Get("Content-Type"))
	}
}
