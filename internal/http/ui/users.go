// The users page: the account's people and their roles. An admin adds a
// user, changes a role, deactivates or removes one, and resets another's
// password; deactivating and resetting end that user's sessions.

package ui

import (
	"net/http"
	"strings"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/http/auth"
)

// usersData is the page's state.
type usersData struct {
	Members           []*latchkey.Member
	Email, Name, Role string
	Roles             []latchkey.Role
}

// roles are the choices of the role selects.
var roles = []latchkey.Role{latchkey.RoleAdmin, latchkey.RoleMember}

// usersPage lists the account's members.
func (u *UI) usersPage(w http.ResponseWriter, r *http.Request, p *page) {
	u.showUsers(w, r, p, http.StatusOK, &usersData{Role: string(latchkey.RoleMember)})
}

// showUsers renders the members with the add form as given.
func (u *UI) showUsers(w http.ResponseWriter, r *http.Request, p *page, status int, d *usersData) {
	ms, err := u.Users.FindMembers(r.Context(), principal(r).AccountID)
	if err != nil {
		u.errorPage(w, r, p, err)
		return
	}
	d.Members, d.Roles = ms, roles
	p.Title, p.Nav, p.Data = "Users", "users", d
	u.render(w, r, status, "users", p)
}

// createUser adds a person to the account with a first password.
func (u *UI) createUser(w http.ResponseWriter, r *http.Request, p *page) {
	f := r.PostForm
	d := &usersData{Email: f.Get("email"), Name: f.Get("name"), Role: f.Get("role")}
	usr := &latchkey.User{Email: latchkey.NormalizeEmail(d.Email), Name: strings.TrimSpace(d.Name)}
	role := latchkey.Role(d.Role)
	err := requireAdmin(p)
	if err == nil && !role.Valid() {
		err = latchkey.FieldError("role", "must be admin or member")
	}
	if err == nil {
		err = usr.Validate()
	}
	if err == nil {
		err = latchkey.ValidatePassword(f.Get("password"))
	}
	if err == nil {
		var hash string
		if hash, err = u.Auth.HashPassword(r.Context(), f.Get("password")); err == nil {
			err = u.Users.CreateMember(r.Context(), principal(r).AccountID, usr, hash, role)
		}
	}
	u.done(w, r, p, err, func(status int) { u.showUsers(w, r, p, status, d) }, "/admin/users", "user")
}

// memberAction runs an admin's change to another member of the account,
// after checking the role and that the target is a member here (another
// account's user is a 404, as in the API).
func (u *UI) memberAction(w http.ResponseWriter, r *http.Request, p *page, notice string, do func(target *latchkey.Member) error) {
	id, ok := u.pathID(w, r, p, "user")
	if !ok {
		return
	}
	if err := requireAdmin(p); err != nil {
		u.errorPage(w, r, p, err)
		return
	}
	ms, err := u.Users.FindMembers(r.Context(), principal(r).AccountID)
	if err != nil {
		u.errorPage(w, r, p, err)
		return
	}
	var target *latchkey.Member
	for _, m := range ms {
		if m.ID == id {
			target = m
		}
	}
	if target == nil {
		u.errorPage(w, r, p, latchkey.Errorf(latchkey.ENOTFOUND, "no user %d in this account", id))
		return
	}
	u.done(w, r, p, do(target), func(status int) { u.showUsers(w, r, p, status, &usersData{Role: string(latchkey.RoleMember)}) }, "/admin/users", notice)
}

// notYourself refuses an action an admin may not take on their own user
// (they would lock themselves out); the profile page changes their own
// password.
func notYourself(p *page, m *latchkey.Member, what string) error {
	if m.ID == p.User.ID {
		return latchkey.Errorf(latchkey.ECONFLICT, "you cannot %s yourself; ask another admin", what)
	}
	return nil
}

// setRole changes a member's role.
func (u *UI) setRole(w http.ResponseWriter, r *http.Request, p *page) {
	u.memberAction(w, r, p, "role", func(m *latchkey.Member) error {
		role := latchkey.Role(r.PostForm.Get("role"))
		if !role.Valid() {
			return latchkey.FieldError("role", "must be admin or member")
		}
		return u.Users.SetMembership(r.Context(), principal(r).AccountID, m.ID, role)
	})
}

// removeUser takes a member out of the account.
func (u *UI) removeUser(w http.ResponseWriter, r *http.Request, p *page) {
	u.memberAction(w, r, p, "removed", func(m *latchkey.Member) error {
		if err := notYourself(p, m, "remove"); err != nil {
			return err
		}
		return u.Users.RemoveMember(r.Context(), principal(r).AccountID, m.ID)
	})
}

// setDisabled is the deactivate or the reactivate button: deactivating a
// member ends their sessions.
func (u *UI) setDisabled(off bool, notice string) handler {
	return func(w http.ResponseWriter, r *http.Request, p *page) {
		u.memberAction(w, r, p, notice, func(m *latchkey.Member) error {
			if err := notYourself(p, m, "deactivate"); err != nil {
				return err
			}
			_, err := u.Auth.UpdateUser(r.Context(), principal(r), m.ID, auth.UserChange{Disabled: &off})
			return err
		})
	}
}

// resetPassword sets another member's password, ending their sessions.
func (u *UI) resetPassword(w http.ResponseWriter, r *http.Request, p *page) {
	u.memberAction(w, r, p, "reset", func(m *latchkey.Member) error {
		if err := notYourself(p, m, "reset the password of"); err != nil {
			return err
		}
		_, err := u.Auth.ResetPassword(r.Context(), principal(r), m.ID, r.PostForm.Get("password"))
		return err
	})
}
