// The permissions page: the account's catalogue, the names a key may hold.

package ui

import (
	"net/http"
	"strings"

	"github.com/latchkey/latchkey"
)

// permissionsData is the page's state.
type permissionsData struct {
	Permissions       []*latchkey.Permission
	Name, Description string
}

// permissionsPage lists the catalogue.
func (u *UI) permissionsPage(w http.ResponseWriter, r *http.Request, p *page) {
	u.showPermissions(w, r, p, http.StatusOK, &permissionsData{})
}

// showPermissions renders the catalogue with the add form as given.
func (u *UI) showPermissions(w http.ResponseWriter, r *http.Request, p *page, status int, d *permissionsData) {
	perms, err := u.Permissions.FindPermissions(r.Context(), principal(r).AccountID)
	if err != nil {
		u.errorPage(w, r, p, err)
		return
	}
	d.Permissions = perms
	p.Title, p.Nav, p.Data = "Permissions", "permissions", d
	u.render(w, r, status, "permissions", p)
}

// requireAdmin refuses a change that needs account:admin.
func requireAdmin(p *page) error {
	if !p.IsAdmin {
		return latchkey.Errorf(latchkey.EFORBIDDEN, "your role in this account (%s) may not change this; an admin can", p.Role)
	}
	return nil
}

// createPermission adds a name to the catalogue.
func (u *UI) createPermission(w http.ResponseWriter, r *http.Request, p *page) {
	d := &permissionsData{Name: strings.TrimSpace(r.PostForm.Get("name")), Description: r.PostForm.Get("description")}
	err := requireAdmin(p)
	if err == nil {
		err = u.Permissions.CreatePermission(r.Context(), &latchkey.Permission{AccountID: principal(r).AccountID, Name: d.Name, Description: d.Description})
	}
	if err != nil {
		if p.refuse(err) {
			u.showPermissions(w, r, p, http.StatusBadRequest, d)
			return
		}
		u.errorPage(w, r, p, err)
		return
	}
	seeOther(w, r, "/admin/permissions", "permission")
}

// deletePermission removes a name from the catalogue and every key.
func (u *UI) deletePermission(w http.ResponseWriter, r *http.Request, p *page) {
	err := requireAdmin(p)
	if err == nil {
		err = u.Permissions.DeletePermission(r.Context(), principal(r).AccountID, r.PostForm.Get("name"))
	}
	if err != nil {
		u.errorPage(w, r, p, err)
		return
	}
	seeOther(w, r, "/admin/permissions", "unpermitted")
}
