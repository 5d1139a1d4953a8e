// The accounts page: the accounts the user belongs to, with their role in
// each, and the switch between them. Creating an account is the
// operator's (X-Admin-Secret, `latchkey accounts create`).

package ui

import (
	"net/http"
	"strconv"

	"github.com/latchkey/latchkey"
)

// accountRow is one account of the user.
type accountRow struct {
	Account *latchkey.Account
	Role    latchkey.Role
	Current bool
}

// accountsPage lists the user's accounts.
func (u *UI) accountsPage(w http.ResponseWriter, r *http.Request, p *page) {
	ms, err := u.Users.FindMemberships(r.Context(), p.User.ID)
	if err != nil {
		u.errorPage(w, r, p, err)
		return
	}
	var rows []accountRow
	for _, m := range ms {
		a, err := u.Accounts.FindAccountByID(r.Context(), m.AccountID)
		if err != nil {
			u.errorPage(w, r, p, err)
			return
		}
		rows = append(rows, accountRow{Account: a, Role: m.Role, Current: a.ID == p.Account.ID})
	}
	p.Title, p.Nav, p.Data = "Accounts", "accounts", rows
	u.render(w, r, http.StatusOK, "accounts", p)
}

// switchAccount makes another of the user's accounts the one the UI acts on.
func (u *UI) switchAccount(w http.ResponseWriter, r *http.Request, p *page) {
	id, err := strconv.ParseInt(r.PostForm.Get("account_id"), 10, 64)
	if err != nil {
		u.errorPage(w, r, p, latchkey.FieldError("account_id", "must be an account id"))
		return
	}
	ms, err := u.Users.FindMemberships(r.Context(), p.User.ID)
	if err != nil {
		u.errorPage(w, r, p, err)
		return
	}
	for _, m := range ms {
		if m.AccountID == id {
			http.SetCookie(w, &http.Cookie{Name: accountCookie, Value: strconv.FormatInt(id, 10), Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
			seeOther(w, r, "/admin/keys", "switched")
			return
		}
	}
	u.errorPage(w, r, p, latchkey.Errorf(latchkey.ENOTFOUND, "you are not a member of account %d", id))
}
