package http

import (
	"net/http"
	"strconv"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/http/auth"
)

// This file holds the accounts, members and users routes.

// handleListAccounts is GET /v1/accounts: every account for the operator,
// a user's own accounts, a root key's one.
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
	return reply(w, http.StatusOK, newPage(out, ""), nil)
}

// accountRequest is the body of POST /v1/accounts.
type accountRequest struct {
	Name      string `json:"name"`
	KeyPrefix string `json:"key_prefix"`
}

// handleCreateAccount is POST /v1/accounts {name, key_prefix}, the
// operator's: 201.
func (s *Server) handleCreateAccount(w http.ResponseWriter, r *http.Request) error {
	return serve(w, r, http.StatusCreated, jsonBody[accountRequest](false), func(body accountRequest) (any, error) {
		a := &latchkey.Account{Name: body.Name, KeyPrefix: body.KeyPrefix}
		if err := a.Validate(); err != nil {
			return nil, err
		}
		if _, err := strconv.ParseInt(a.Name, 10, 64); err == nil {
			return nil, latchkey.FieldError("name", "must not be a number (X-Account-ID reads numbers as ids)")
		}
		return a, s.Accounts.CreateAccount(r.Context(), a)
	})
}

// handleListUsers is GET /v1/users: the account's members and their roles.
func (s *Server) handleListUsers(w http.ResponseWriter, r *http.Request) error {
	members, err := s.Users.FindMembers(r.Context(), accountOf(r))
	return reply(w, http.StatusOK, newPage(members, ""), err)
}

// userRequest is the body of POST /v1/users.
type userRequest struct {
	Email    string        `json:"email"`
	Name     string        `json:"name"`
	Password string        `json:"password"`
	Role     latchkey.Role `json:"role"`
}

// handleCreateUser is POST /v1/users {email, name, password, role}: a new
// user, member (by default) or admin of the caller's account; 201.
func (s *Server) handleCreateUser(w http.ResponseWriter, r *http.Request) error {
	return serve(w, r, http.StatusCreated, jsonBody[userRequest](false), func(body userRequest) (any, error) {
		if body.Role == "" {
			body.Role = latchkey.RoleMember
		}
		if !body.Role.Valid() {
			return nil, latchkey.FieldError("role", "must be admin or member")
		}
		u := &latchkey.User{Email: latchkey.NormalizeEmail(body.Email), Name: body.Name}
		if err := u.Validate(); err != nil {
			return nil, err
		}
		if err := latchkey.ValidatePassword(body.Password); err != nil {
			return nil, err
		}
		hash, err := s.Auth.HashPassword(r.Context(), body.Password)
		if err != nil {
			return nil, err
		}
		if err := s.Users.CreateMember(r.Context(), accountOf(r), u, hash, body.Role); err != nil {
			return nil, err
		}
		return latchkey.Member{User: *u, Role: body.Role}, nil
	})
}

// memberPath parses /v1/accounts/{id}/members/{user_id}, refusing an
// account other than the caller's own unless the caller is the operator.
func memberPath(r *http.Request) (accountID, userID int64, err error) {
	if accountID, err = pathID(r, "id"); err != nil {
		return 0, 0, err
	}
	if userID, err = pathID(r, "user_id"); err != nil {
		return 0, 0, err
	}
	p := principalFrom(r.Context())
	if p.Actor.Kind != latchkey.ActorOperator && accountID != p.AccountID {
		return 0, 0, latchkey.Errorf(latchkey.EFORBIDDEN, "you may manage members of your own account only (select it with X-Account-ID)")
	}
	return accountID, userID, nil
}

// roleRequest is the body of PUT /v1/accounts/{id}/members/{user_id}.
type roleRequest struct {
	Role latchkey.Role `json:"role"`
}

// handleSetMember is PUT /v1/accounts/{id}/members/{user_id} {role}: the
// user's role in the account; a user cannot demote themself.
func (s *Server) handleSetMember(w http.ResponseWriter, r *http.Request) error {
	accountID, userID, err := memberPath(r)
	if err != nil {
		return err
	}
	return serve(w, r, http.StatusOK, jsonBody[roleRequest](false), func(body roleRequest) (any, error) {
		if !body.Role.Valid() {
			return nil, latchkey.FieldError("role", "must be admin or member")
		}
		if p := principalFrom(r.Context()); p.Actor.Kind == latchkey.ActorUser && userID == p.Actor.ID && body.Role != latchkey.RoleAdmin {
			return nil, latchkey.Errorf(latchkey.ECONFLICT, "you cannot demote yourself; ask another admin")
		}
		if err := s.Auth.CheckMember(r.Context(), principalFrom(r.Context()), accountID, userID); err != nil {
			return nil, err
		}
		if err := s.Users.SetMembership(r.Context(), accountID, userID, body.Role); err != nil {
			return nil, err
		}
		u, err := s.Users.FindUserByID(r.Context(), userID)
		if err != nil {
			return nil, err
		}
		return latchkey.Member{User: *u, Role: body.Role}, nil
	})
}

// handleRemoveMember is DELETE /v1/accounts/{id}/members/{user_id}: 204;
// the account's last admin stays (409).
func (s *Server) handleRemoveMember(w http.ResponseWriter, r *http.Request) error {
	accountID, userID, err := memberPath(r)
	if err != nil {
		return err
	}
	if err := s.Auth.CheckMember(r.Context(), principalFrom(r.Context()), accountID, userID); err != nil {
		return err
	}
	return noContent(w, s.Users.RemoveMember(r.Context(), accountID, userID))
}

// userPatch is the body of PATCH /v1/users/{id}; absent (or null) keeps.
type userPatch struct {
	Name     *string `json:"name"`
	Disabled *bool   `json:"disabled"`
	Password *string `json:"password"`
}

// handleUpdateUser is PATCH /v1/users/{id} {name, disabled, password}: the
// user as changed; who may change what is auth.Authenticator.UpdateUser's
// rule, shared with the admin UI.
func (s *Server) handleUpdateUser(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	return serve(w, r, http.StatusOK, jsonBody[userPatch](false), func(b userPatch) (any, error) {
		return s.Auth.UpdateUser(r.Context(), principalFrom(r.Context()), id, auth.UserChange(b))
	})
}
