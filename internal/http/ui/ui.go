// Package ui serves the admin web UI: server-rendered pages (html/template,
// templates and assets embedded, no build step) for setup, sign-in, keys,
// a key's page with its usage chart, permissions, users and roles, root
// keys, accounts and the audit log. It works without JavaScript; a small
// script of its own only adds the copy button.
//
// Who is calling is decided by internal/http/auth, which the JSON API
// shares: the UI signs in through Authenticator.SignIn, reads the session
// from the __Host-access cookie (refreshing it from __Host-refresh when it
// has expired) and checks every form's CSRF token with CheckCSRF. It
// changes keys only through the root package's services, so a change made
// here is audited and announced exactly as one made through the API. It
// imports the root package, auth and httpx, never internal/http.
//
// One file per page: setup.go, login.go, keys.go (list and create),
// key.go (a key's page and its actions), chart.go (the usage chart),
// permissions.go, users.go, rootkeys.go, accounts.go, audit.go,
// profile.go (your own password).
package ui

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/http/auth"
	"github.com/latchkey/latchkey/internal/http/httpx"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// UI serves the admin pages. Set the fields, then add it to the native
// server's Surfaces (internal/http.Server.Surfaces).
type UI struct {
	// Auth signs users in and resolves their sessions; its SecretKey also
	// seals the one-time secret shown after a create or a rotation, and its
	// Setup spends the setup link (nil: /setup says setup is done elsewhere).
	Auth        *auth.Authenticator
	Keys        latchkey.KeyService
	Permissions latchkey.PermissionService
	Audit       latchkey.AuditService
	Accounts    latchkey.AccountService
	Users       latchkey.UserService
	// Logger receives internal errors; nil discards them.
	Logger *slog.Logger
	// Clock is "now" for statuses and the usage chart; nil is the wall clock.
	Clock latchkey.Clock

	pages map[string]*template.Template
}

// Routes lists the UI's routes; the native server serves them beside the
// API, behind its checks of path and query strings.
func (u *UI) Routes() []httpx.Route {
	u.init()
	static, _ := fs.Sub(staticFS, "static")
	assets := http.StripPrefix("/assets/", http.FileServerFS(static))
	routes := []struct {
		method, pattern string
		h               http.Handler
	}{
		{"GET", "/assets/", cacheAssets(assets)},
		{"GET", "/setup", u.public(u.setupPage)},
		{"POST", "/setup", u.public(u.setupSubmit)},
		{"GET", "/login", u.public(u.loginPage)},
		{"POST", "/login", u.public(u.loginSubmit)},
		{"POST", "/logout", u.signedIn(u.logout)},
		{"GET", "/admin", http.RedirectHandler("/admin/keys", http.StatusSeeOther)},
		{"GET", "/admin/{$}", http.RedirectHandler("/admin/keys", http.StatusSeeOther)},
		{"GET", "/admin/keys", u.signedIn(u.keysPage)},
		{"GET", "/admin/keys/new", u.signedIn(u.newKeyPage)},
		{"POST", "/admin/keys", u.signedIn(u.createKey)},
		{"GET", "/admin/keys/{id}", u.signedIn(u.keyPage)},
		{"POST", "/admin/keys/{id}", u.signedIn(u.updateKey)},
		{"POST", "/admin/keys/{id}/revoke", u.signedIn(u.revokeKey)},
		{"POST", "/admin/keys/{id}/enable", u.signedIn(u.setEnabled(true, "enabled"))},
		{"POST", "/admin/keys/{id}/disable", u.signedIn(u.setEnabled(false, "disabled"))},
		{"POST", "/admin/keys/{id}/rotate", u.signedIn(u.rotateKey)},
		{"POST", "/admin/keys/{id}/delete", u.signedIn(u.deleteKey)},
		{"POST", "/admin/keys/{id}/devices/remove", u.signedIn(u.removeDevice)},
		{"GET", "/admin/root-keys", u.signedIn(u.rootKeysPage)},
		{"GET", "/admin/permissions", u.signedIn(u.permissionsPage)},
		{"POST", "/admin/permissions", u.signedIn(u.createPermission)},
		{"POST", "/admin/permissions/delete", u.signedIn(u.deletePermission)},
		{"GET", "/admin/users", u.signedIn(u.usersPage)},
		{"POST", "/admin/users", u.signedIn(u.createUser)},
		{"POST", "/admin/users/{id}/role", u.signedIn(u.setRole)},
		{"POST", "/admin/users/{id}/remove", u.signedIn(u.removeUser)},
		{"POST", "/admin/users/{id}/disable", u.signedIn(u.setDisabled(true, "deactivated"))},
		{"POST", "/admin/users/{id}/enable", u.signedIn(u.setDisabled(false, "activated"))},
		{"POST", "/admin/users/{id}/password", u.signedIn(u.resetPassword)},
		{"GET", "/admin/accounts", u.signedIn(u.accountsPage)},
		{"POST", "/admin/accounts", u.signedIn(u.createAccount)},
		{"POST", "/admin/accounts/switch", u.signedIn(u.switchAccount)},
		{"GET", "/admin/audit", u.signedIn(u.auditPage)},
		{"GET", "/admin/profile", u.signedIn(u.profilePage)},
		{"GET", "/admin/", u.signedIn(u.notFoundPage)},
		{"POST", "/admin/profile/password", u.signedIn(u.changePassword)},
	}
	out := make([]httpx.Route, len(routes))
	for i, rt := range routes {
		out[i] = httpx.Route{Method: rt.method, Pattern: rt.pattern, Handler: pageHandler{u, rt.h}}
	}
	return out
}

// init parses every page once: each page template is the layout plus its
// own file, so pages may each define "content" and "title".
func (u *UI) init() {
	if u.pages != nil {
		return
	}
	if u.Logger == nil {
		u.Logger = slog.New(slog.DiscardHandler)
	}
	if u.Clock == nil {
		u.Clock = latchkey.SystemClock
	}
	u.pages = map[string]*template.Template{}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	for _, name := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(name, "templates/"), ".html")
		if base == "layout" || strings.HasPrefix(base, "_") {
			continue
		}
		t := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/_*.html", name))
		u.pages[base] = t
	}
}

// funcs are the helpers templates may call.
var funcs = template.FuncMap{
	"time": func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"ago": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	"localInput": func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.UTC().Format("2006-01-02T15:04")
	},
	"deref": func(s *string) string {
		if s == nil {
			return ""
		}
		return *s
	},
	"has": func(list []string, s string) bool {
		for _, v := range list {
			if v == s {
				return true
			}
		}
		return false
	},
	"join": strings.Join,
	"int":  func(n int64) string { return strconv.FormatInt(n, 10) },
}

// page is what every template gets: the signed-in user's view of the
// account and the page's own data.
type page struct {
	Title   string
	Nav     string // which nav entry is current
	User    *latchkey.User
	Account *latchkey.Account
	Role    latchkey.Role
	CanEdit bool // keys:write
	IsAdmin bool // account:admin
	CSRF    string
	Notice  string
	Error   string
	Fields  map[string]string // a field's error, by form field name
	Data    any
}

// render writes a page with status; a template error is logged and
// answered 500 with a plain message, never a half-written page.
func (u *UI) render(w http.ResponseWriter, r *http.Request, status int, name string, p *page) {
	t := u.pages[name]
	if t == nil {
		u.fail(w, r, fmt.Errorf("ui: no page %q", name))
		return
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, p); err != nil {
		u.fail(w, r, fmt.Errorf("ui: render %s: %w", name, err))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// fail answers an internal error with a plain page and logs it.
func (u *UI) fail(w http.ResponseWriter, r *http.Request, err error) {
	u.Logger.Error("ui: internal error", "method", r.Method, "path", r.URL.Path, "err", err)
	http.Error(w, "Something went wrong on our side; the error is logged.", http.StatusInternalServerError)
}

// pageHandler is a UI route's handler: the headers every page carries, and bad
// request strings (a NUL or invalid UTF-8 in the path or query, which the
// server refuses before any handler) answered as an HTML page.
type pageHandler struct {
	u *UI
	h http.Handler
}

func (ph pageHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	secure(w, r)
	ph.h.ServeHTTP(w, r)
}

// RenderBadInput answers a refused request string with the UI's error page.
func (ph pageHandler) RenderBadInput(w http.ResponseWriter, r *http.Request, err error) {
	secure(w, r)
	ph.u.render(w, r, http.StatusBadRequest, "error", &page{Title: "Bad request", Data: latchkey.ErrorMessage(err)})
}

// secure sets the headers every UI answer carries: a strict
// Content-Security-Policy with no inline script, no framing, no referrer
// (the setup link holds its token), and no caching of pages that may show
// a secret.
func secure(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	if !strings.HasPrefix(r.URL.Path, "/assets/") {
		hd.Set("Cache-Control", "no-store")
	}
}

// cacheAssets lets browsers keep the embedded assets for an hour.
func cacheAssets(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		h.ServeHTTP(w, r)
	})
}

// notFoundPage answers an /admin page that does not exist.
func (u *UI) notFoundPage(w http.ResponseWriter, r *http.Request, p *page) {
	u.errorPage(w, r, p, latchkey.Errorf(latchkey.ENOTFOUND, "there is no page %s", r.URL.Path))
}

// errorStatus is the page status of each error the caller can act on;
// any other error is an internal one.
var errorStatus = map[string]int{
	latchkey.ENOTFOUND:     http.StatusNotFound,
	latchkey.EFORBIDDEN:    http.StatusForbidden,
	latchkey.EINVALID:      http.StatusBadRequest,
	latchkey.ECONFLICT:     http.StatusBadRequest,
	latchkey.EUNAUTHORIZED: http.StatusUnauthorized,
	latchkey.ERATELIMITED:  http.StatusTooManyRequests,
	latchkey.EUNAVAILABLE:  http.StatusServiceUnavailable,
}

// errorPage answers a refused action or a failed lookup: a not-found or
// forbidden error gets its status and a page saying so; an outage 503
// with Retry-After; anything else that is not the caller's fault is an
// internal error.
func (u *UI) errorPage(w http.ResponseWriter, r *http.Request, p *page, err error) {
	code := latchkey.ErrorCode(err)
	status, ok := errorStatus[code]
	if !ok {
		u.fail(w, r, err)
		return
	}
	if code == latchkey.EUNAVAILABLE {
		retry := 2
		if n := latchkey.RetryAfterSeconds(err); n > 0 {
			retry = n
		}
		w.Header().Set("Retry-After", strconv.Itoa(retry))
	}
	if p == nil {
		p = &page{}
	}
	p.Title = http.StatusText(status)
	p.Data = latchkey.ErrorMessage(err) // under the page's heading, not above it
	p.Error, p.Notice = "", ""
	u.render(w, r, status, "error", p)
}

// refuse puts a refused form's message and field errors on the page and
// reports whether err is the form's fault (invalid or conflict), so the
// form is shown again with them; any other error is errorPage's.
func (p *page) refuse(err error) bool {
	if c := latchkey.ErrorCode(err); c != latchkey.EINVALID && c != latchkey.ECONFLICT {
		return false
	}
	p.Error = latchkey.ErrorMessage(err)
	if p.Fields == nil {
		p.Fields = map[string]string{}
	}
	for f, m := range latchkey.ErrorFields(err) {
		p.Fields[formName(f)] = m
	}
	return true
}

// formName maps a model field named in an error to the form field that
// holds it.
func formName(field string) string {
	switch field {
	case "rate_limit.limit":
		return "rate_limit"
	case "rate_limit.window_seconds":
		return "rate_window"
	case "credits.remaining":
		return "credits"
	case "credits.refill_amount":
		return "refill_amount"
	case "credits.refill_interval":
		return "refill_interval"
	}
	return field
}

// done ends a form post: on success, a redirect to path with the notice;
// a refused form (invalid, conflict) is shown again by show, when there is
// one, with its errors; any other error is an error page.
func (u *UI) done(w http.ResponseWriter, r *http.Request, p *page, err error, show func(status int), path, notice string) {
	switch {
	case err == nil:
		seeOther(w, r, path, notice)
	case show != nil && p.refuse(err):
		show(http.StatusBadRequest)
	default:
		u.errorPage(w, r, p, err)
	}
}

// pathID parses the page's {id}; a bad one is a 404 page naming what.
func (u *UI) pathID(w http.ResponseWriter, r *http.Request, p *page, what string) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		u.errorPage(w, r, p, latchkey.Errorf(latchkey.ENOTFOUND, "no %s %q", what, r.PathValue("id")))
		return 0, false
	}
	return id, true
}

// nextPage is the query of a list's next page: the filters named in keep,
// as the request had them, and the cursor.
func nextPage(q url.Values, cursor string, keep ...string) string {
	if cursor == "" {
		return ""
	}
	next := url.Values{}
	for _, k := range keep {
		if v := q.Get(k); v != "" {
			next.Set(k, v)
		}
	}
	next.Set("cursor", cursor)
	return next.Encode()
}

// seeOther redirects after a successful form post, with a short notice
// (never a secret) for the next page.
func seeOther(w http.ResponseWriter, r *http.Request, path, notice string) {
	if notice != "" {
		path += "?notice=" + url.QueryEscape(notice)
	}
	http.Redirect(w, r, path, http.StatusSeeOther)
}

// notices are the messages a redirect may ask the next page to show.
var notices = map[string]string{
	"created":     "Key created.",
	"updated":     "Saved.",
	"revoked":     "Key revoked. Verifications now answer REVOKED.",
	"enabled":     "Key enabled.",
	"disabled":    "Key disabled. Verifications now answer DISABLED.",
	"deleted":     "Key deleted.",
	"rotated":     "Secret rotated. The old secret keeps working for the grace you chose, then verifies EXPIRED.",
	"device":      "Device removed.",
	"permission":  "Permission added.",
	"unpermitted": "Permission removed.",
	"user":        "User added.",
	"role":        "Role changed.",
	"removed":     "User removed from the account.",
	"deactivated": "User deactivated; their sessions have ended.",
	"activated":   "User reactivated.",
	"reset":       "Password reset; their sessions have ended.",
	"password":    "Your password is changed.",
	"switched":    "Account switched.",
	"account":     "Account created; you are its admin.",
	"welcome":     "Welcome. Create your first key below.",
}

// noticeOf returns the page's notice from its ?notice= query.
func noticeOf(r *http.Request) string { return notices[r.URL.Query().Get("notice")] }
