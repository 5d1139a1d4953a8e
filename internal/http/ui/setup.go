// The one-time setup page: the link serve prints on a store's first start,
// where the first admin chooses an email and a password.

package ui

import (
	"errors"
	"net/http"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/http/auth"
)

// setupData is the setup form's state.
type setupData struct {
	Token, Email, Name string
	Form               string // the pre-session form token
	Done               bool   // setup is no longer possible
}

// setupPage shows the form for a setup link, or says setup is done.
func (u *UI) setupPage(w http.ResponseWriter, r *http.Request) {
	d := setupData{Token: r.URL.Query().Get("token"), Form: formToken(w, r)}
	p := &page{Title: "Set up Latchkey", Data: &d}
	if n, err := u.Users.CountUsers(r.Context()); err != nil {
		u.errorPage(w, r, nil, err)
		return
	} else if n > 0 || u.Auth.Setup == nil {
		d.Done = true
		u.render(w, r, http.StatusOK, "setup", p)
		return
	}
	if d.Token == "" {
		p.Error = "This page needs the setup link that `latchkey serve` printed (…/setup?token=…). Run `latchkey setup-link` for a new one."
		u.render(w, r, http.StatusBadRequest, "setup", p)
		return
	}
	u.render(w, r, http.StatusOK, "setup", p)
}

// setupSubmit spends the setup token: it creates the first admin, signs
// them in and opens the keys page.
func (u *UI) setupSubmit(w http.ResponseWriter, r *http.Request) {
	f := r.PostForm
	d := setupData{Token: f.Get("token"), Email: f.Get("email"), Name: f.Get("name"), Form: formToken(w, r)}
	p := &page{Title: "Set up Latchkey", Data: &d, Fields: map[string]string{}}
	if !checkFormToken(r) {
		p.Error = formTokenProblem(r, "This form has expired. Open the setup link again.")
		u.render(w, r, http.StatusForbidden, "setup", p)
		return
	}
	if u.Auth.Setup == nil {
		d.Done = true
		u.render(w, r, http.StatusConflict, "setup", p)
		return
	}
	password := f.Get("password")
	if password != f.Get("confirm") {
		p.Fields["confirm"] = "The two passwords differ."
		u.render(w, r, http.StatusBadRequest, "setup", p)
		return
	}
	usr, err := u.Auth.CompleteSetup(r.Context(), d.Token, d.Email, d.Name, password)
	if errors.Is(err, auth.ErrSetupDone) {
		d.Done = true
		u.render(w, r, http.StatusConflict, "setup", p)
		return
	}
	if latchkey.ErrorCode(err) == latchkey.EUNAUTHORIZED { // the token: the form's fault too
		p.Error = latchkey.ErrorMessage(err)
		u.render(w, r, http.StatusBadRequest, "setup", p)
		return
	}
	if err != nil {
		if p.refuse(err) {
			u.render(w, r, http.StatusBadRequest, "setup", p)
			return
		}
		u.errorPage(w, r, p, err)
		return
	}
	if _, err := u.Auth.SignIn(w, r, usr.Email, password); err != nil {
		seeOther(w, r, "/login", "")
		return
	}
	seeOther(w, r, "/admin/keys", "welcome")
}
