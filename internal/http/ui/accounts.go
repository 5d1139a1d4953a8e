// The accounts page: the accounts the user belongs to, with their role in
// each, and the switch between them; and, for the operator, creating an
// account: the form takes the operator's secret (LATCHKEY_ADMIN_SECRET)
// each time, checked as the API checks X-Admin-Secret and never kept.

package ui

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/http/auth"
)

// accountRow is one account of the user.
type accountRow struct {
	Account *latchkey.Account
	Role    latchkey.Role
	Current bool
}

// accountsData is the page's state.
type accountsData struct {
	Rows     []accountRow
	Name     string
	Operator bool // the server accepts the operator's secret
}

// accountsPage lists the user's accounts.
func (u *UI) accountsPage(w http.ResponseWriter, r *http.Request, p *page) {
	u.showAccounts(w, r, p, http.StatusOK, &accountsData{})
}

// showAccounts renders the user's accounts with the create form as given.
func (u *UI) showAccounts(w http.ResponseWriter, r *http.Request, p *page, status int, d *accountsData) {
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
	d.Rows, d.Operator = rows, u.Auth.OperatorEnabled()
	p.Title, p.Nav, p.Data = "Accounts", "accounts", d
	u.render(w, r, status, "accounts", p)
}

// createAccount creates an account with the operator's secret and makes
// the signed-in user its admin, then switches to it. The audit log records
// the operator as the actor.
func (u *UI) createAccount(w http.ResponseWriter, r *http.Request, p *page) {
	d := &accountsData{Name: strings.TrimSpace(r.PostForm.Get("name"))}
	if err := requireAdmin(p); err != nil { // the form is an admin's; the secret is checked too
		u.errorPage(w, r, p, err)
		return
	}
	op := r.Clone(r.Context())
	op.Header.Set("X-Admin-Secret", r.PostForm.Get("admin_secret"))
	op.Header.Del("X-Account-ID")
	opp, err := u.Auth.Operator(op)
	if err != nil {
		p.Fields = map[string]string{"admin_secret": "is not the operator's secret"}
		p.Error = "Creating an account needs the operator's secret (LATCHKEY_ADMIN_SECRET)."
		if !u.Auth.OperatorEnabled() {
			p.Error = "This server has no operator secret: set LATCHKEY_ADMIN_SECRET to create accounts."
		} else if latchkey.ErrorCode(err) == latchkey.ERATELIMITED {
			p.Error = latchkey.ErrorMessage(err)
		}
		u.showAccounts(w, r, p, http.StatusForbidden, d)
		return
	}
	ctx := auth.NewContext(r.Context(), opp)
	a := &latchkey.Account{Name: d.Name}
	if err = u.Accounts.CreateAccount(ctx, a); err == nil {
		err = u.Users.SetMembership(ctx, a.ID, p.User.ID, latchkey.RoleAdmin)
	}
	if err == nil {
		setAccount(w, a.ID)
	}
	u.done(w, r, p, err, func(status int) { u.showAccounts(w, r, p, status, d) }, "/admin/keys", "account")
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
			setAccount(w, id)
			seeOther(w, r, "/admin/keys", "switched")
			return
		}
	}
	u.errorPage(w, r, p, latchkey.Errorf(latchkey.ENOTFOUND, "you are not a member of account %d", id))
}

// setAccount makes the account the one the UI acts on from now on.
func setAccount(w http.ResponseWriter, id int64) {
	http.SetCookie(w, &http.Cookie{Name: accountCookie, Value: strconv.FormatInt(id, 10), Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
}
