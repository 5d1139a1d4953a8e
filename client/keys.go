package client

import (
	"context"
	"net/url"
	"time"

	"github.com/latchkey/latchkey"
)

// KeyWithSecret is a key with the secret returned once, at create or
// rotate.
type KeyWithSecret struct {
	latchkey.Key
	Secret string `json:"secret"`
}

// KeyPage is a page of keys.
type KeyPage = Page[*latchkey.Key]

// CreateKey creates a key (POST /v1/keys); the answer carries its secret,
// this once. Creating a root key needs account:admin.
func (c *Client) CreateKey(ctx context.Context, in *latchkey.KeyCreate) (*KeyWithSecret, error) {
	return call[KeyWithSecret](ctx, c, request{method: "POST", path: "/v1/keys", body: in})
}

// GetKey reads a key (GET /v1/keys/{id}).
func (c *Client) GetKey(ctx context.Context, id int64) (*latchkey.Key, error) {
	return call[latchkey.Key](ctx, c, request{method: "GET", path: "/v1/keys/" + itoa(id)})
}

// ListOptions filters ListKeys; zero values match all.
type ListOptions struct {
	OwnerEmail string // exact owner email
	Status     string // active, disabled, expired or revoked
	Kind       string // api or root
	Query      string // text in the name, description or owner
	Cursor     string // a previous page's NextCursor
	Limit      int    // 1 to 1000; 0 is the server's default
}

// ListKeys returns a page of keys, newest first (GET /v1/keys).
func (c *Client) ListKeys(ctx context.Context, o ListOptions) (*KeyPage, error) {
	q := url.Values{}
	setQuery(q, map[string]any{"owner_email": o.OwnerEmail, "status": o.Status, "kind": o.Kind, "q": o.Query, "cursor": o.Cursor, "limit": o.Limit})
	return call[KeyPage](ctx, c, request{method: "GET", path: "/v1/keys", query: q})
}

// UpdateKey sends a JSON merge patch (PATCH /v1/keys/{id}, RFC 7396):
// fields absent from patch are kept, fields set to nil are cleared, so
// map[string]any{"name": "prod", "expires_at": nil} renames the key and
// makes it never expire. It answers the key as it now is.
func (c *Client) UpdateKey(ctx context.Context, id int64, patch map[string]any) (*latchkey.Key, error) {
	if patch == nil {
		patch = map[string]any{}
	}
	return call[latchkey.Key](ctx, c, request{method: "PATCH", path: "/v1/keys/" + itoa(id), body: patch, contentType: "application/merge-patch+json"})
}

// DeleteKey deletes a key (DELETE /v1/keys/{id}).
func (c *Client) DeleteKey(ctx context.Context, id int64) error {
	return c.do(ctx, request{method: "DELETE", path: "/v1/keys/" + itoa(id)}, nil)
}

// RevokeKey revokes a key with a reason (POST /v1/keys/{id}/revoke); a
// revoked key never verifies again.
func (c *Client) RevokeKey(ctx context.Context, id int64, reason string) (*latchkey.Key, error) {
	body := map[string]string{"reason": reason}
	return call[latchkey.Key](ctx, c, request{method: "POST", path: "/v1/keys/" + itoa(id) + "/revoke", body: body})
}

// RotateKey issues a new secret for the same key (POST
// /v1/keys/{id}/rotate); the old secret keeps working for grace (whole
// seconds, at most 30 days).
func (c *Client) RotateKey(ctx context.Context, id int64, grace time.Duration) (*KeyWithSecret, error) {
	body := map[string]int64{"grace_seconds": int64(grace / time.Second)}
	return call[KeyWithSecret](ctx, c, request{method: "POST", path: "/v1/keys/" + itoa(id) + "/rotate", body: body})
}

// ListDevices lists the device ids a key has been verified with (GET
// /v1/keys/{id}/devices).
func (c *Client) ListDevices(ctx context.Context, id int64) ([]*latchkey.Device, error) {
	return list[*latchkey.Device](ctx, c, "/v1/keys/"+itoa(id)+"/devices", nil)
}

// DeleteDevice forgets one of a key's devices (DELETE
// /v1/keys/{id}/devices/{device_id}), freeing its place under max_devices.
func (c *Client) DeleteDevice(ctx context.Context, id int64, deviceID string) error {
	return c.do(ctx, request{method: "DELETE", path: "/v1/keys/" + itoa(id) + "/devices/" + url.PathEscape(deviceID)}, nil)
}

// UsageOptions choose the buckets of KeyUsage; zero values are the
// server's defaults (hourly buckets over the last 24 hours).
type UsageOptions struct {
	Bucket string // minute, hour or day
	Since  time.Time
	Until  time.Time
}

// KeyUsage returns a key's verification counts by outcome over time
// buckets (GET /v1/keys/{id}/usage).
func (c *Client) KeyUsage(ctx context.Context, id int64, o UsageOptions) ([]*latchkey.UsageBucket, error) {
	q := url.Values{}
	setQuery(q, map[string]any{"bucket": o.Bucket})
	setTime(q, "since", o.Since)
	setTime(q, "until", o.Until)
	return list[*latchkey.UsageBucket](ctx, c, "/v1/keys/"+itoa(id)+"/usage", q)
}
