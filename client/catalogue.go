package client

import (
	"context"
	"net/url"
	"time"

	"github.com/latchkey/latchkey"
)

// ListPermissions returns the account's permission catalogue (GET
// /v1/permissions).
func (c *Client) ListPermissions(ctx context.Context) ([]*latchkey.Permission, error) {
	return list[*latchkey.Permission](ctx, c, "/v1/permissions", nil)
}

// CreatePermission adds a name to the account's catalogue (POST
// /v1/permissions), so keys may be given it; needs account:admin. A name
// already there is a conflict.
func (c *Client) CreatePermission(ctx context.Context, name, description string) (*latchkey.Permission, error) {
	body := map[string]string{"name": name, "description": description}
	return call[latchkey.Permission](ctx, c, request{method: "POST", path: "/v1/permissions", body: body})
}

// DeletePermission removes a name from the catalogue (DELETE
// /v1/permissions/{name}); needs account:admin.
func (c *Client) DeletePermission(ctx context.Context, name string) error {
	return c.do(ctx, request{method: "DELETE", path: "/v1/permissions/" + url.PathEscape(name)}, nil)
}

// AuditOptions filter ListAudit; zero values match all.
type AuditOptions struct {
	KeyID     int64              // events about this key
	ActorKind latchkey.ActorKind // operator, root_key, user or system
	ActorID   *int64             // with ActorKind: which one (0 is the operator)
	Action    string             // like key.create
	Since     time.Time          // events at or after
	Until     time.Time          // events before
	Cursor    string             // a previous page's NextCursor
	Limit     int                // 1 to 1000; 0 is the server's default
}

// ListAudit returns a page of the account's audit events, newest first
// (GET /v1/audit); needs audit:read.
func (c *Client) ListAudit(ctx context.Context, o AuditOptions) (*Page[*latchkey.AuditEvent], error) {
	q := url.Values{}
	setQuery(q, map[string]any{"key_id": o.KeyID, "actor_kind": string(o.ActorKind), "action": o.Action, "cursor": o.Cursor, "limit": o.Limit})
	if o.ActorID != nil {
		q.Set("actor_id", itoa(*o.ActorID))
	}
	setTime(q, "since", o.Since)
	setTime(q, "until", o.Until)
	return call[Page[*latchkey.AuditEvent]](ctx, c, request{method: "GET", path: "/v1/audit", query: q})
}

// ListAccounts returns the accounts the caller can reach (GET
// /v1/accounts): every one for the operator, a user's own, a root key's
// one.
func (c *Client) ListAccounts(ctx context.Context) ([]*latchkey.Account, error) {
	return list[*latchkey.Account](ctx, c, "/v1/accounts", nil)
}

// CreateAccount creates an account (POST /v1/accounts); operator only.
// keyPrefix is the prefix of its keys' secrets, "" for lk.
func (c *Client) CreateAccount(ctx context.Context, name, keyPrefix string) (*latchkey.Account, error) {
	body := map[string]string{"name": name}
	if keyPrefix != "" {
		body["key_prefix"] = keyPrefix
	}
	return call[latchkey.Account](ctx, c, request{method: "POST", path: "/v1/accounts", body: body})
}
