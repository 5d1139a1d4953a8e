// The profile page: who you are, your accounts, and changing your own
// password (the current one first), which ends your other sessions.

package ui

import (
	"net/http"

	"github.com/latchkey/latchkey"
)

// profilePage shows the signed-in user.
func (u *UI) profilePage(w http.ResponseWriter, r *http.Request, p *page) {
	p.Title, p.Nav = "Your profile", "profile"
	u.render(w, r, http.StatusOK, "profile", p)
}

// changePassword checks the current password, then sets the new one.
func (u *UI) changePassword(w http.ResponseWriter, r *http.Request, p *page) {
	f := r.PostForm
	p.Title, p.Nav = "Your profile", "profile"
	current, next := f.Get("current"), f.Get("new")
	err := latchkey.ValidatePassword(next)
	if err == nil && next != f.Get("confirm") {
		err = latchkey.FieldError("confirm", "the two new passwords differ")
	}
	if err == nil {
		err = u.Auth.ChangePassword(r.Context(), principal(r), current, next)
	}
	if err != nil {
		if p.refuse(err) {
			if m, ok := p.Fields["password"]; ok {
				p.Fields["new"] = m
			}
			u.render(w, r, http.StatusBadRequest, "profile", p)
			return
		}
		u.errorPage(w, r, p, err)
		return
	}
	// Changing the password ended every session of the user, this one
	// too: sign in again here with the new password.
	if _, err := u.Auth.SignIn(w, r, p.User.Email, next); err != nil {
		seeOther(w, r, "/login", "")
		return
	}
	seeOther(w, r, "/admin/profile", "password")
}
