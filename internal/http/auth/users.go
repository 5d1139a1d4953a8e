package auth

import (
	"context"
	"slices"

	"github.com/latchkey/latchkey"
)

// This file holds the changes to users that the JSON API and the admin UI
// both make, each with its one rule of who may: a user changing their own
// password, an admin changing (renaming, deactivating, resetting) a member
// of their account, and the one-time setup link creating the first user.

// UserChange is a change to a user; nil keeps. Password is the new password
// itself: UpdateUser checks and hashes it.
type UserChange struct {
	Name     *string
	Disabled *bool
	Password *string
}

// ChangePassword sets the signed-in user's password after checking the
// current one, with the sign-in throttle (per client network and per
// email), so a stolen session cannot guess it fast. The store ends every
// session of the user, this one too: the caller signs in again. Errors:
// invalid (current: missing or not the current password; new: its
// length), forbidden (not a signed-in user), rate_limited, unavailable.
func (a *Authenticator) ChangePassword(ctx context.Context, p *Principal, current, next string) error {
	if p.Actor.Kind != latchkey.ActorUser {
		return latchkey.Errorf(latchkey.EFORBIDDEN, "only a signed-in user has a password to change")
	}
	if current == "" {
		return latchkey.FieldError("current", "is required")
	}
	if len(current) > latchkey.MaxPasswordLen {
		return latchkey.FieldError("current", "is not your current password")
	}
	if err := latchkey.ValidatePassword(next); err != nil {
		return latchkey.FieldError("new", "%s", latchkey.ErrorFields(err)["password"])
	}
	if a.Users == nil || a.Passwords == nil {
		return latchkey.Errorf(latchkey.EUNAVAILABLE, "sign-in is not configured on this server")
	}
	u, err := a.Users.FindUserByID(ctx, p.Actor.ID)
	if err != nil {
		return err
	}
	if err := a.throttleLogin(ctx, throttleNet(p.Actor.IP), u.Email); err != nil {
		return err
	}
	_, hash, err := a.Users.FindUserByEmail(ctx, u.Email)
	if err != nil {
		return err
	}
	if ok, err := a.verifyPassword(ctx, hash, current); err != nil {
		return err
	} else if !ok {
		return latchkey.FieldError("current", "is not your current password")
	}
	newHash, err := a.HashPassword(ctx, next)
	if err != nil {
		return err
	}
	_, err = a.Users.UpdateUser(ctx, u.ID, &latchkey.UserUpdate{PasswordHash: &newHash})
	return err
}

// verifyPassword checks a password against its hash under the bound on
// concurrent hashing.
func (a *Authenticator) verifyPassword(ctx context.Context, hash, password string) (bool, error) {
	release, err := a.hashSlot(ctx)
	if err != nil {
		return false, err
	}
	defer release()
	return a.Passwords.Verify(hash, password)
}

// UpdateUser applies a change to user id that p asks for. Who may: the
// operator changes anyone; a principal holding account:admin (an admin of
// the account, or a root key) changes a member of its account; a user
// changes their own name, and nothing else of theirs here (their password
// with ChangePassword); anyone else's user is not found, as another
// account's key is. A new password is checked and then hashed; deactivating
// or resetting ends the user's sessions (the store does, in the same
// transaction); deactivating an account's last active admin is refused. An
// empty change answers the user as stored. Errors: invalid (name,
// password), forbidden, not_found, conflict, unavailable.
func (a *Authenticator) UpdateUser(ctx context.Context, p *Principal, id int64, c UserChange) (*latchkey.User, error) {
	upd := &latchkey.UserUpdate{Name: c.Name, Disabled: c.Disabled}
	if err := upd.Validate(); err != nil {
		return nil, err
	}
	if c.Password != nil {
		if err := latchkey.ValidatePassword(*c.Password); err != nil {
			return nil, err
		}
	}
	if err := a.mayChangeUser(ctx, p, id, c); err != nil {
		return nil, err
	}
	if c.Disabled != nil && *c.Disabled {
		if err := a.keepAnAdmin(ctx, id); err != nil {
			return nil, err
		}
	}
	if c.Password != nil {
		hash, err := a.HashPassword(ctx, *c.Password)
		if err != nil {
			return nil, err
		}
		upd.PasswordHash = &hash
	}
	if upd.Name == nil && upd.Disabled == nil && upd.PasswordHash == nil {
		return a.Users.FindUserByID(ctx, id)
	}
	return a.Users.UpdateUser(ctx, id, upd)
}

// ResetPassword is UpdateUser setting only a new password: an admin's
// reset of a member of their account, which ends the member's sessions.
func (a *Authenticator) ResetPassword(ctx context.Context, p *Principal, id int64, password string) (*latchkey.User, error) {
	return a.UpdateUser(ctx, p, id, UserChange{Password: &password})
}

// mayChangeUser is UpdateUser's rule of who may make change c to user id.
func (a *Authenticator) mayChangeUser(ctx context.Context, p *Principal, id int64, c UserChange) error {
	switch {
	case p.Actor.Kind == latchkey.ActorOperator:
		return nil
	case p.Actor.Kind == latchkey.ActorUser && p.Actor.ID == id:
		if c.Disabled != nil {
			return latchkey.Errorf(latchkey.EFORBIDDEN, "you cannot deactivate or reactivate yourself; ask another admin")
		}
		if c.Password != nil {
			return latchkey.Errorf(latchkey.EFORBIDDEN, "change your own password by giving the current one (POST /v1/auth/password)")
		}
		return nil
	}
	if err := a.CheckMember(ctx, p, p.AccountID, id); err != nil {
		return err
	}
	if !p.Can(latchkey.PermAccountAdmin) {
		if p.Actor.Kind == latchkey.ActorUser {
			return latchkey.Errorf(latchkey.EFORBIDDEN, "your role %s in this account may not change other users", p.Role)
		}
		return latchkey.Errorf(latchkey.EFORBIDDEN, "this credential lacks the %s permission", latchkey.PermAccountAdmin)
	}
	return a.adminOfEveryAccount(ctx, p, id)
}

// adminOfEveryAccount refuses a change to a user who also belongs to an
// account p does not administer: a user is one person across accounts, so
// renaming, deactivating or resetting them reaches every account they are
// in, and an admin of one account must not take over an admin of another.
// A user signed in is checked against their own memberships; a root key
// administers only its own account. Errors: forbidden.
func (a *Authenticator) adminOfEveryAccount(ctx context.Context, p *Principal, id int64) error {
	theirs, err := a.Users.FindMemberships(ctx, id)
	if err != nil {
		return err
	}
	admin := map[int64]bool{p.AccountID: true}
	if p.Actor.Kind == latchkey.ActorUser {
		mine, err := a.Users.FindMemberships(ctx, p.Actor.ID)
		if err != nil {
			return err
		}
		for _, m := range mine {
			if m.Role == latchkey.RoleAdmin {
				admin[m.AccountID] = true
			}
		}
	}
	for _, m := range theirs {
		if !admin[m.AccountID] {
			return latchkey.Errorf(latchkey.EFORBIDDEN, "this user also belongs to an account you do not administer; only the operator or an admin of every account they are in may change them")
		}
	}
	return nil
}

// CheckMember refuses a user who is not a member of the account, unless p
// is the operator (who brings in users of other accounts): an account's
// admins manage the account's own people, and anyone else's user is not
// found, as another account's key is. Errors: not_found.
func (a *Authenticator) CheckMember(ctx context.Context, p *Principal, accountID, userID int64) error {
	if p.Actor.Kind == latchkey.ActorOperator {
		return nil
	}
	ms, err := a.Users.FindMemberships(ctx, userID)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(ms, func(m *latchkey.Membership) bool { return m.AccountID == accountID }) {
		return latchkey.Errorf(latchkey.ENOTFOUND, "user %d is not a member of this account", userID)
	}
	return nil
}

// keepAnAdmin refuses to deactivate user id while they are the only active
// admin of one of their accounts, which would leave it to the operator and
// its root keys alone. (Checked before the update, not in its transaction:
// two admins deactivating each other at once can still both succeed.)
func (a *Authenticator) keepAnAdmin(ctx context.Context, id int64) error {
	ms, err := a.Users.FindMemberships(ctx, id)
	if err != nil {
		return err
	}
	for _, m := range ms {
		if m.Role != latchkey.RoleAdmin {
			continue
		}
		members, err := a.Users.FindMembers(ctx, m.AccountID)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(members, func(o *latchkey.Member) bool {
			return o.ID != id && o.Role == latchkey.RoleAdmin && !o.Disabled
		}) {
			return latchkey.Errorf(latchkey.ECONFLICT, "user %d is the last active admin of account %d; make another admin first", id, m.AccountID)
		}
	}
	return nil
}

// errSetupLink is the one answer to a setup link that cannot be used,
// whatever the reason (the store answers the same).
func errSetupLink() error {
	return latchkey.Errorf(latchkey.EUNAUTHORIZED, "the setup link is invalid, expired or already used")
}

// maxSetupTokenLen bounds a setup token before any work is done on it.
const maxSetupTokenLen = 256

// CompleteSetup spends the one-time setup link's token to create the first
// user, admin of the default account, with the password hashed here; the
// caller then signs them in. A missing or overlong token is refused before
// the password is hashed. Errors: invalid (email, name, password),
// unauthorized (the link), conflict (a user exists already), unavailable.
func (a *Authenticator) CompleteSetup(ctx context.Context, token, email, name, password string) (*latchkey.User, error) {
	if a.Setup == nil || a.Passwords == nil {
		return nil, latchkey.Errorf(latchkey.EUNAVAILABLE, "setup is not configured on this server")
	}
	u := &latchkey.User{Email: latchkey.NormalizeEmail(email), Name: name}
	if err := u.Validate(); err != nil {
		return nil, err
	}
	if err := latchkey.ValidatePassword(password); err != nil {
		return nil, err
	}
	if token == "" || len(token) > maxSetupTokenLen {
		return nil, errSetupLink()
	}
	// Once someone has set up, no setup form is worth a password hash:
	// refusing first keeps made-up tokens from buying argon2 time.
	if n, err := a.Users.CountUsers(ctx); err != nil {
		return nil, err
	} else if n > 0 {
		return nil, ErrSetupDone
	}
	hash, err := a.HashPassword(ctx, password)
	if err != nil {
		return nil, err
	}
	return a.Setup.CompleteSetup(ctx, token, u, hash)
}
