package ui_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromium finds the browser the browser tests drive: LATCHKEY_TEST_CHROMIUM,
// else chromium or google-chrome on the PATH. Without one the tests skip;
// under CI=true that is a failure (.ci/run installs Debian's chromium).
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("LATCHKEY_TEST_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("CI=true but no chromium is installed: .ci/run installs it")
	}
	t.Skip("no chromium on the PATH (set LATCHKEY_TEST_CHROMIUM): browser tests skipped")
	return ""
}

// newChrome starts a headless chromium with a fresh profile for one test.
func newChrome(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// do runs browser steps, failing the test with what was being done and
// the page it was on.
func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		body, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("main")))
		t.Fatalf("%s: %v\nat %s:\n%s", what, err, loc, body)
	}
}

// get runs one browser action that returns a value.
func get[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// text returns the text of the page's main element.
func text(t *testing.T, ctx context.Context) string {
	t.Helper()
	return get(t, ctx, "read the page", chromedp.Text(chromedp.CSS("main")))
}

// shot saves a screenshot of the page as NAME.png in the folder that
// LATCHKEY_SCREENSHOTS names (docs/screenshots holds the committed ones).
func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("LATCHKEY_SCREENSHOTS")
	if dir == "" {
		return
	}
	img := get(t, ctx, "screenshot "+name, chromedp.FullScreenshot(100))
	if err := os.WriteFile(filepath.Join(dir, name+".png"), img, 0o644); err != nil {
		t.Fatal(err)
	}
}

// visible waits for a CSS selector to be shown.
func visible(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.WaitVisible(chromedp.CSS(sel))
}

// typeIn types into the field with the id.
func typeIn(id, v string) chromedp.Action[chromedp.Void] {
	return chromedp.SendKeys(chromedp.CSS("#"+id), v)
}

// click clicks the element the CSS selector finds.
func click(sel string) chromedp.Action[chromedp.Void] { return chromedp.Click(chromedp.CSS(sel)) }

// TestBrowserNewcomerPath drives a real browser through the five-minute
// path: the setup link, sign-in (a wrong password first), creating a key,
// its secret shown once and gone after a reload, the key verifying over
// HTTP, the usage chart, revoking it from its page, the key then verifying
// REVOKED, and the audit log showing the revoke; then the main pages at a
// phone's width, with nothing wider than the screen.
func TestBrowserNewcomerPath(t *testing.T) {
	ctx := newChrome(t)
	s := newSite(t)

	do(t, ctx, "open the setup link", chromedp.Navigate(s.URL+"/setup?token="+s.SetupToken), visible("#email"))
	shot(t, ctx, "setup")
	do(t, ctx, "fill the setup form",
		typeIn("email", adminEmail), typeIn("password", adminPW), typeIn("confirm", adminPW),
		click("button[type=submit]"), visible(".notice"))
	if got := text(t, ctx); !strings.Contains(got, "Welcome") || !strings.Contains(got, "No keys yet") {
		t.Errorf("after setup: %s", got)
	}

	do(t, ctx, "sign out", click("button.link"), visible("#password"))
	do(t, ctx, "sign in with a wrong password",
		typeIn("email", adminEmail), typeIn("password", "not my password"),
		click("button[type=submit]"), visible(".error"))
	email := get(t, ctx, "read the kept email", chromedp.Value(chromedp.CSS("#email")))
	if got := text(t, ctx); !strings.Contains(got, "Wrong email or password") || email != adminEmail {
		t.Errorf("wrong password: page %q, email field %q", got, email)
	}
	shot(t, ctx, "sign-in-error")
	do(t, ctx, "sign in", typeIn("password", adminPW), click("button[type=submit]"), visible(`a[href="/admin/keys/new"]`))

	do(t, ctx, "fill the create form",
		click(`a[href="/admin/keys/new"]`), visible("#name"),
		typeIn("name", "Acme production"), typeIn("owner_email", "ops@acme.test"),
		typeIn("rate_limit", "100"), typeIn("credits", "1000"))
	shot(t, ctx, "create-key")
	do(t, ctx, "create the key", click("button.primary[type=submit]"), visible("#secret"))
	secret := get(t, ctx, "read the secret", chromedp.Value(chromedp.CSS("#secret")))
	keyURL, _, _ := strings.Cut(get(t, ctx, "the key's address", chromedp.Location()), "?")
	if !strings.HasPrefix(secret, "lk") {
		t.Fatalf("the secret shown is %q", secret)
	}
	if hidden := get(t, ctx, "the copy button", chromedp.Evaluate[bool](`document.querySelector("button[data-copy]").hidden`)); hidden {
		t.Errorf("the copy button stays hidden with the script running")
	}
	shot(t, ctx, "secret-once")

	do(t, ctx, "reload the key's page", chromedp.Reload(), visible("#usage-h"))
	if html := get(t, ctx, "the page", chromedp.OuterHTML(chromedp.CSS("html"))); strings.Contains(html, secret) {
		t.Errorf("the secret is shown again after a reload")
	}
	do(t, ctx, "open the list", chromedp.Navigate(s.URL+"/admin/keys"), visible("table"))
	if html := get(t, ctx, "the list", chromedp.OuterHTML(chromedp.CSS("html"))); strings.Contains(html, secret) || !strings.Contains(html, "Acme production") {
		t.Errorf("the list shows the secret (%v) or lacks the key", strings.Contains(html, secret))
	}
	shot(t, ctx, "keys")

	for i := 0; i < 3; i++ {
		if code := s.verify(t, secret); code != "VALID" {
			t.Fatalf("the new key verifies %s, want VALID", code)
		}
	}
	if err := s.Verifier.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	do(t, ctx, "open the key's page", chromedp.Navigate(keyURL), visible("svg.chart"))
	if bars := get(t, ctx, "count the bars", chromedp.Evaluate[int](`document.querySelectorAll("svg.chart rect.c-valid").length`)); bars == 0 {
		t.Errorf("the usage chart draws no bar for 3 valid verifications")
	}
	shot(t, ctx, "key")

	do(t, ctx, "revoke from the key's page",
		typeIn("reason", "leaked in a demo"), click(`form[action$="/revoke"] button`), visible("h1 .s-revoked"))
	if got := text(t, ctx); !strings.Contains(got, "Key revoked") || !strings.Contains(got, "leaked in a demo") {
		t.Errorf("after revoking: %s", got)
	}
	if code := s.verify(t, secret); code != "REVOKED" {
		t.Errorf("after revoking from the page, the key verifies %s, want REVOKED", code)
	}
	do(t, ctx, "open the audit log", click(`a[href="/admin/audit"]`), visible("table.audit"))
	if got := text(t, ctx); !strings.Contains(got, "key.revoke") || !strings.Contains(got, "key.create") {
		t.Errorf("the audit log lacks the revoke or the create: %s", got)
	}
	shot(t, ctx, "audit")

	// A phone: 390 CSS pixels wide. No page may scroll sideways.
	do(t, ctx, "phone width", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
	for _, path := range []string{"/admin/keys", strings.TrimPrefix(keyURL, s.URL), "/admin/keys/new", "/admin/users", "/admin/audit", "/admin/permissions", "/admin/root-keys", "/admin/accounts", "/admin/profile"} {
		do(t, ctx, "open "+path+" at 390 px", chromedp.Navigate(s.URL+path), visible("main"))
		if over := get(t, ctx, "measure "+path, chromedp.Evaluate[int](`document.documentElement.scrollWidth - window.innerWidth`)); over > 0 {
			t.Errorf("%s at 390 px is %d px wider than the screen", path, over)
		}
		if path == "/admin/keys" {
			shot(t, ctx, "keys-phone")
		}
	}
}
