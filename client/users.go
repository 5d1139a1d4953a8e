package client

import (
	"context"

	"github.com/latchkey/latchkey"
)

// ListUsers returns the account's users with their roles (GET
// /v1/users); needs account:admin.
func (c *Client) ListUsers(ctx context.Context) ([]*latchkey.Member, error) {
	return list[*latchkey.Member](ctx, c, "/v1/users", nil)
}

// UserCreate is a new user of the account.
type UserCreate struct {
	Email    string        `json:"email"`
	Name     string        `json:"name,omitempty"`
	Password string        `json:"password"`
	Role     latchkey.Role `json:"role,omitempty"` // admin or member; "" is member
}

// CreateUser creates a user in the account with a role (POST /v1/users);
// needs account:admin.
func (c *Client) CreateUser(ctx context.Context, in *UserCreate) (*latchkey.Member, error) {
	return call[latchkey.Member](ctx, c, request{method: "POST", path: "/v1/users", body: in})
}

// SetMemberRole gives a user a role in an account (PUT
// /v1/accounts/{id}/members/{user_id}); needs account:admin of that
// account (only the operator brings in a user of another account).
func (c *Client) SetMemberRole(ctx context.Context, accountID, userID int64, role latchkey.Role) (*latchkey.Member, error) {
	path := "/v1/accounts/" + itoa(accountID) + "/members/" + itoa(userID)
	return call[latchkey.Member](ctx, c, request{method: "PUT", path: path, body: map[string]latchkey.Role{"role": role}})
}

// UserUpdate changes a user (UpdateUser); nil fields are kept.
type UserUpdate struct {
	Name     *string `json:"name,omitempty"`
	Disabled *bool   `json:"disabled,omitempty"` // true deactivates and ends the user's sessions
	Password *string `json:"password,omitempty"` // a reset by an admin; ends the user's sessions
}

// UpdateUser renames, deactivates or reactivates a user, or resets their
// password (PATCH /v1/users/{id}); needs account:admin of an account the
// user is in, or the operator. A user may change their own name only.
func (c *Client) UpdateUser(ctx context.Context, id int64, u *UserUpdate) (*latchkey.User, error) {
	return call[latchkey.User](ctx, c, request{method: "PATCH", path: "/v1/users/" + itoa(id), body: u})
}

// RemoveMember takes a user out of an account (DELETE
// /v1/accounts/{id}/members/{user_id}); needs account:admin of it. The
// account's last admin stays (conflict).
func (c *Client) RemoveMember(ctx context.Context, accountID, userID int64) error {
	return c.do(ctx, request{method: "DELETE", path: "/v1/accounts/" + itoa(accountID) + "/members/" + itoa(userID)}, nil)
}
