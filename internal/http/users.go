package http

import (
	"net/http"
	"slices"
	"strconv"

	"github.com/latchkey/latchkey"
)

// This file holds the accounts, members and users routes.

func (s *Server) handleListAccounts(w http.ResponseWriter, r *http.Request) error {
	p := principalFrom(r.Context())
	var out []*latchkey.Account
	switch p.Actor.Kind {
	case latchkey.ActorOperator:
		all, err := s.Accounts.FindAccounts(r.Context())
		if err != nil {
			return err
		}
		out = all
	case latchkey.ActorUser:
		ms, err := s.Users.FindMemberships(r.Context(), p.Actor.ID)
		if err != nil {
			return err
		}
		for _, m := range ms {
			a, err := s.Accounts.FindAccountByID(r.Context(), m.AccountID)
			if err != nil {
				return err
			}
			out = append(out, a)
		}
	default:
		a, err := s.Accounts.FindAccountByID(r.Context(), p.AccountID)
		if err != nil {
			return err
		}
		out = []*latchkey.Account{a}
	}
	writeJSON(w, http.StatusOK, newPage(out, ""))
	return nil
}

func (s *Server) handleCreateAccount(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Name      string `json:"name"`
		KeyPrefix string `json:"key_prefix"`
	}
	if err := decodeJSON(w, r, &body, false); err != nil {
		return err
	}
	a := &latchkey.Account{Name: body.Name, KeyPrefix: body.KeyPrefix}
	if err := a.Validate(); err != nil {
		return err
	}
	if _, err := strconv.ParseInt(a.Name, 10, 64); err == nil {
		return latchkey.FieldError("name", "must not be a number (X-Account-ID reads numbers as ids)")
	}
	if err := s.Accounts.CreateAccount(r.Context(), a); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, a)
	return nil
}

func (s *Server) handleListUsers(w http.ResponseWriter, r *http.Request) error {
	members, err := s.Users.FindMembers(r.Context(), principalFrom(r.Context()).AccountID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newPage(members, ""))
	return nil
}

func (s *Server) handleCreateUser(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Email    string        `json:"email"`
		Name     string        `json:"name"`
		Password string        `json:"password"`
		Role     latchkey.Role `json:"role"`
	}
	if err := decodeJSON(w, r, &body, false); err != nil {
		return err
	}
	if body.Role == "" {
		body.Role = latchkey.RoleMember
	}
	if !body.Role.Valid() {
		return latchkey.FieldError("role", "must be admin or member")
	}
	u := &latchkey.User{Email: latchkey.NormalizeEmail(body.Email), Name: body.Name}
	if err := u.Validate(); err != nil {
		return err
	}
	if err := latchkey.ValidatePassword(body.Password); err != nil {
		return err
	}
	hash, err := s.Auth.HashPassword(r.Context(), body.Password)
	if err != nil {
		return err
	}
	p := principalFrom(r.Context())
	if err := s.Users.CreateMember(r.Context(), p.AccountID, u, hash, body.Role); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, latchkey.Member{User: *u, Role: body.Role})
	return nil
}

func (s *Server) handleSetMember(w http.ResponseWriter, r *http.Request) error {
	accountID, err := pathID(r, "id")
	if err != nil {
		return err
	}
	userID, err := pathID(r, "user_id")
	if err != nil {
		return err
	}
	p := principalFrom(r.Context())
	if p.Actor.Kind != latchkey.ActorOperator && accountID != p.AccountID {
		return latchkey.Errorf(latchkey.EFORBIDDEN, "you may manage members of your own account only (select it with X-Account-ID)")
	}
	var body struct {
		Role latchkey.Role `json:"role"`
	}
	if err := decodeJSON(w, r, &body, false); err != nil {
		return err
	}
	if !body.Role.Valid() {
		return latchkey.FieldError("role", "must be admin or member")
	}
	if p.Actor.Kind == latchkey.ActorUser && userID == p.Actor.ID && body.Role != latchkey.RoleAdmin {
		return latchkey.Errorf(latchkey.ECONFLICT, "you cannot demote yourself; ask another admin")
	}
	// An account's admin changes the roles of the account's own people;
	// only the operator brings in a user of another account. Anyone else's
	// user is not found, as another account's key is.
	if p.Actor.Kind != latchkey.ActorOperator {
		ms, err := s.Users.FindMemberships(r.Context(), userID)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(ms, func(m *latchkey.Membership) bool { return m.AccountID == accountID }) {
			return latchkey.Errorf(latchkey.ENOTFOUND, "user %d is not a member of this account", userID)
		}
	}
	if err := s.Users.SetMembership(r.Context(), accountID, userID, body.Role); err != nil {
		return err
	}
	u, err := s.Users.FindUserByID(r.Context(), userID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, latchkey.Member{User: *u, Role: body.Role})
	return nil
}
