// The sign-in page and sign-out: the same SignIn and SignOut as the JSON
// routes (internal/http/auth), with its throttle.

package ui

import (
	"net/http"
	"strings"

	"github.com/latchkey/latchkey"
)

// loginData is the sign-in form's state.
type loginData struct {
	Email string
	Next  string
	Token string
}

// loginPage shows the sign-in form.
func (u *UI) loginPage(w http.ResponseWriter, r *http.Request) {
	p := &page{Title: "Sign in", Notice: noticeOf(r), Data: loginData{Next: safeNext(r.URL.Query().Get("next")), Token: formToken(w, r)}}
	u.render(w, r, http.StatusOK, "login", p)
}

// loginSubmit signs in; a wrong password says so and keeps the email.
func (u *UI) loginSubmit(w http.ResponseWriter, r *http.Request) {
	email, next := r.PostForm.Get("email"), safeNext(r.PostForm.Get("next"))
	p := &page{Title: "Sign in", Data: loginData{Email: email, Next: next, Token: formToken(w, r)}}
	if !checkFormToken(r) {
		p.Error = formTokenProblem(r, "This form has expired. Please sign in again.")
		u.render(w, r, http.StatusForbidden, "login", p)
		return
	}
	if _, err := u.Auth.SignIn(w, r, email, r.PostForm.Get("password")); err != nil {
		status := http.StatusUnauthorized
		switch latchkey.ErrorCode(err) {
		case latchkey.EUNAUTHORIZED:
			p.Error = "Wrong email or password."
		case latchkey.EINVALID:
			status, p.Error = http.StatusBadRequest, latchkey.ErrorMessage(err)
		case latchkey.ERATELIMITED:
			status, p.Error = http.StatusTooManyRequests, "Too many attempts. Wait a minute, then try again."
		default:
			u.errorPage(w, r, nil, err)
			return
		}
		u.render(w, r, status, "login", p)
		return
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// logout ends the session family and returns to the sign-in page.
func (u *UI) logout(w http.ResponseWriter, r *http.Request, p *page) {
	if err := u.Auth.SignOut(w, r, principal(r)); err != nil && latchkey.ErrorCode(err) != latchkey.ENOTFOUND {
		u.errorPage(w, r, p, err)
		return
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// safeNext keeps a post-sign-in redirect on this site's admin pages.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/admin") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/admin/keys"
	}
	return next
}
