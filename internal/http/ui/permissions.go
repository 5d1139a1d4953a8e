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
	var err error
	if d.Permissions, err = u.permissionChoices(r, latchkey.KindAPI); err != nil {
		u.errorPage(w, r, p, err)
		return
	}
	p.Title, p.Nav, p.Data = "Permissions", "permissions", d
	u.render(w, r, status, "permissions", p)
}

// permissionChoices are the permissions a key of the kind may hold: the
// account's catalogue for an api key, the fixed root permissions for a
// root key.
func (u *UI) permissionChoices(r *http.Request, kind latchkey.KeyKind) ([]*latchkey.Permission, error) {
	if kind != latchkey.KindRoot {
		return u.Permissions.FindPermissions(r.Context(), principal(r).AccountID)
	}
	var out []*latchkey.Permission
	for _, name := range latchkey.RootPermissions {
		out = append(out, &latchkey.Permission{Name: name})
	}
	return out, nil
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
	u.done(w, r, p, err, func(status int) { u.showPermissions(w, r, p, status, d) }, "/admin/permissions", "permission")
}

// deletePermission removes a name from the catalogue and every key.
func (u *UI) deletePermission(w http.ResponseWriter, r *http.Request, p *page) {
	err := requireAdmin(p)
	if err == nil {
		err = u.Permissions.DeletePermission(r.Context(), principal(r).AccountID, r.PostForm.Get("name"))
	}
	u.done(w, r, p, err, nil, "/admin/permissions", "unpermitted")
}
