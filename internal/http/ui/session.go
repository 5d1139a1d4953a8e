// The UI's side of sessions: resolving the signed-in user from the
// __Host-access cookie (refreshing it when it has expired), the CSRF check
// of every form, the pre-session token of the sign-in and setup forms, and
// the sealed cookie that carries a new secret to the one page that shows it.

package ui

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/http/auth"
	"github.com/latchkey/latchkey/internal/http/httpx"
)

// Cookies of the UI besides the API's session cookies.
const (
	accountCookie = "__Host-lk-account" // the account the UI acts on (not secret)
	formCookie    = "__Host-lk-form"    // pre-session form token (sign-in, setup)
	revealCookie  = "__Host-lk-reveal"  // a sealed new secret, read once
)

// maxFormBytes bounds a form body.
const maxFormBytes = 64 << 10

// handler is a page handler of a signed-in user.
type handler func(w http.ResponseWriter, r *http.Request, p *page)

// public wraps a page anyone may open (setup, sign-in): it bounds and
// parses the form of a POST.
func (u *UI) public(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && !u.parseForm(w, r) {
			return
		}
		h(w, r)
	})
}

// signedIn wraps a page of a signed-in user: it resolves the session
// (redirecting to /login without one), parses a POST's form and refuses it
// without the session's CSRF token, and passes the page its frame.
func (u *UI) signedIn(h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && !u.parseForm(w, r) {
			return
		}
		pr, err := u.session(w, r)
		if err != nil {
			if latchkey.ErrorCode(err) == latchkey.EUNAUTHORIZED {
				if r.Method == http.MethodGet {
					http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
					return
				}
				u.render(w, r, http.StatusUnauthorized, "error", &page{Title: "Signed out", Data: "Your session has ended. Sign in again, then repeat what you were doing."})
				return
			}
			u.errorPage(w, r, nil, err)
			return
		}
		if r.Method == http.MethodPost {
			if err := u.Auth.CheckCSRF(r, pr); err != nil {
				u.render(w, r, http.StatusForbidden, "error", &page{Title: "Refused", Data: "This form was not sent from your session (its CSRF token is missing or wrong). Reload the page and try again."})
				return
			}
		}
		ctx := auth.NewContext(r.Context(), pr)
		r = r.WithContext(ctx)
		p, err := u.frame(ctx, pr)
		if err != nil {
			u.errorPage(w, r, nil, err)
			return
		}
		p.Notice = noticeOf(r)
		h(w, r, p)
	})
}

// parseForm reads a bounded urlencoded form; a bad or oversized one is
// answered 400 here and reported false.
func (u *UI) parseForm(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		u.render(w, r, http.StatusBadRequest, "error", &page{Title: "Bad request", Data: "The form could not be read: " + err.Error()})
		return false
	}
	// The rule every surface keeps: no NUL byte or invalid UTF-8 reaches
	// the store, from a form either.
	if err := httpx.CheckValues(r.PostForm, "form field", "form"); err != nil {
		u.render(w, r, http.StatusBadRequest, "error", &page{Title: "Bad request", Data: latchkey.ErrorMessage(err)})
		return false
	}
	return true
}

// session resolves the signed-in user's principal from the access cookie,
// acting on the account the account cookie names (default: their first).
// An expired or missing access cookie is refreshed from the refresh cookie
// once, setting both cookies anew.
func (u *UI) session(w http.ResponseWriter, r *http.Request) (*auth.Principal, error) {
	rr := r.Clone(r.Context())
	rr.Header.Del("X-Account-ID")
	if c, err := r.Cookie(accountCookie); err == nil && c.Value != "" {
		rr.Header.Set("X-Account-ID", c.Value)
	}
	token, ok := auth.AccessCookieValue(r)
	var p *auth.Principal
	var err error
	if ok {
		p, err = u.Auth.UserSession(rr, token)
	}
	if !ok || latchkey.ErrorCode(err) == latchkey.EUNAUTHORIZED {
		if _, cerr := r.Cookie(auth.RefreshCookie); cerr != nil {
			return nil, latchkey.Errorf(latchkey.EUNAUTHORIZED, "not signed in")
		}
		s, rerr := u.Auth.Refresh(w, r, "")
		if rerr != nil {
			return nil, rerr
		}
		token = s.AccessToken
		p, err = u.Auth.UserSession(rr, token)
	}
	if latchkey.ErrorCode(err) == latchkey.EFORBIDDEN && rr.Header.Get("X-Account-ID") != "" {
		// The account cookie names an account they left: fall back to their first.
		http.SetCookie(w, &http.Cookie{Name: accountCookie, Path: "/", MaxAge: -1, Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
		rr.Header.Del("X-Account-ID")
		p, err = u.Auth.UserSession(rr, token)
	}
	if err != nil {
		return nil, err
	}
	p.Cookie = true
	return p, nil
}

// frame loads what every signed-in page shows: the user, the account and
// what their role lets them do.
func (u *UI) frame(ctx context.Context, pr *auth.Principal) (*page, error) {
	usr := pr.User // loaded by the session check
	acc, err := u.Accounts.FindAccountByID(ctx, pr.AccountID)
	if err != nil {
		return nil, err
	}
	return &page{
		User: usr, Account: acc, Role: pr.Role,
		CanEdit: pr.Can(latchkey.PermKeysWrite),
		IsAdmin: pr.Can(latchkey.PermAccountAdmin),
		CSRF:    u.Auth.CSRFToken(pr.FamilyID),
		Fields:  map[string]string{},
	}, nil
}

// principal returns the request's principal (set by signedIn).
func principal(r *http.Request) *auth.Principal { return auth.FromContext(r.Context()) }

// formToken returns the pre-session form token of a sign-in or setup form,
// setting its cookie when the browser has none: a cross-site page cannot
// read it, so it cannot post the form in the user's name (login CSRF).
func formToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(formCookie); err == nil && len(c.Value) == 43 {
		return c.Value
	}
	b := make([]byte, 32)
	rand.Read(b)
	v := base64.RawURLEncoding.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{Name: formCookie, Value: v, Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	return v
}

// formTokenProblem says why a sign-in or setup form's token did not match:
// most often a browser that dropped the UI's Secure cookies because the page
// came over plain HTTP from an address that is not localhost, which no
// retry fixes; else an expired or tampered form.
func formTokenProblem(r *http.Request, expired string) string {
	if _, err := r.Cookie(formCookie); err != nil && r.TLS == nil && r.Header.Get("X-Forwarded-Proto") != "https" && !httpx.IsLoopback(r.Host) {
		return "Your browser did not keep this page's cookie: the web UI needs HTTPS, or an address on this machine (localhost, 127.0.0.1). Put TLS in front of Latchkey (README, Deploying) or open it through an SSH tunnel to localhost."
	}
	return expired
}

// checkFormToken reports whether a posted sign-in or setup form carries
// the browser's form token.
func checkFormToken(r *http.Request) bool {
	c, err := r.Cookie(formCookie)
	got := r.PostForm.Get(auth.CSRFFormField)
	return err == nil && got != "" && subtle.ConstantTimeCompare([]byte(c.Value), []byte(got)) == 1
}

// revealTTL is how long a new secret waits in its sealed cookie for the
// page that shows it.
const revealTTL = 2 * time.Minute

// sealSecret hands a new secret to the key's page without writing it into
// a URL or keeping it on the server: it is sealed (AES-GCM under a key
// derived from the server's secret key, bound to the key id) into a
// short-lived cookie (bound to the key: only that key's page opens it),
// which shows it and clears the cookie. Any instance of the same store can open it.
func (u *UI) sealSecret(w http.ResponseWriter, r *http.Request, keyID int64, secret string) error {
	aead, err := u.revealAEAD()
	if err != nil {
		return err
	}
	nonce := make([]byte, aead.NonceSize())
	rand.Read(nonce)
	exp := strconv.FormatInt(time.Now().Add(revealTTL).Unix(), 10)
	sealed := aead.Seal(nonce, nonce, []byte(exp+"|"+secret), revealBinding(r, keyID))
	http.SetCookie(w, &http.Cookie{
		Name: revealCookie, Value: base64.RawURLEncoding.EncodeToString(sealed),
		Path: "/", MaxAge: int(revealTTL / time.Second), Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode,
	})
	return nil
}

// openSecret returns the secret sealed for keyID, if the request carries
// one, and clears the cookie so a reload shows it no more.
func (u *UI) openSecret(w http.ResponseWriter, r *http.Request, keyID int64) string {
	c, err := r.Cookie(revealCookie)
	if err != nil {
		return ""
	}
	sealed, err := base64.RawURLEncoding.DecodeString(c.Value)
	aead, aerr := u.revealAEAD()
	if err != nil || aerr != nil || len(sealed) < aead.NonceSize() {
		return ""
	}
	plain, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], revealBinding(r, keyID))
	if err != nil {
		return "" // another key's secret waits for its own page
	}
	http.SetCookie(w, &http.Cookie{Name: revealCookie, Path: "/", MaxAge: -1, Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	exp, secret, ok := strings.Cut(string(plain), "|")
	if n, err := strconv.ParseInt(exp, 10, 64); !ok || err != nil || time.Now().Unix() > n {
		return ""
	}
	return secret
}

// revealBinding is what a sealed secret is bound to: the key it belongs to
// and the session that created it, so another key's page, or another user
// signing in on the same browser, cannot open it.
func revealBinding(r *http.Request, keyID int64) []byte {
	family := ""
	if p := principal(r); p != nil {
		family = p.FamilyID
	}
	return []byte(strconv.FormatInt(keyID, 10) + "|" + family)
}

// revealAEAD derives the sealing cipher from the server's secret key.
func (u *UI) revealAEAD() (cipher.AEAD, error) {
	if len(u.Auth.SecretKey) == 0 {
		return nil, errors.New("ui: no secret key to seal secrets with")
	}
	m := hmac.New(sha256.New, u.Auth.SecretKey)
	m.Write([]byte("latchkey ui reveal v1"))
	block, err := aes.NewCipher(m.Sum(nil))
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
