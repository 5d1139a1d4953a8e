// Package client is the Go SDK for a Latchkey server: key management and
// verification over the native API, and net/http middleware that lets
// only requests with a valid API key through. It imports the standard
// library and the root package only.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
)

// Client calls a Latchkey server with a root key (or the operator's admin
// secret).
type Client struct {
	// BaseURL is the server's address, like http://127.0.0.1:8080.
	BaseURL string
	// RootKey authenticates as Authorization: Bearer.
	RootKey string
	// AdminSecret, when set instead, authenticates as the operator.
	AdminSecret string
	// AccountID picks the operator's account (X-Account-ID); optional.
	AccountID string
	// HTTPClient defaults to a client with a 10 s timeout.
	HTTPClient *http.Client
}

// New returns a client for the server at baseURL using a root key.
func New(baseURL, rootKey string) *Client {
	return &Client{BaseURL: strings.TrimRight(baseURL, "/"), RootKey: rootKey}
}

var defaultHTTPClient = &http.Client{Timeout: 10 * time.Second}

// Error is a problem+json answer of the server.
type Error struct {
	Status int               `json:"status"`
	Code   string            `json:"code"`
	Detail string            `json:"detail"`
	Errors map[string]string `json:"errors,omitempty"`
}

// Error implements error.
func (e *Error) Error() string {
	return fmt.Sprintf("latchkey: %d %s: %s", e.Status, e.Code, e.Detail)
}

// KeyWithSecret is a key with the secret returned once at create or rotate.
type KeyWithSecret struct {
	latchkey.Key
	Secret string `json:"secret"`
}

// KeyPage is a page of keys.
type KeyPage struct {
	Data       []*latchkey.Key `json:"data"`
	NextCursor *string         `json:"next_cursor"`
}

// do sends a request and decodes a 2xx JSON answer into out.
func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.BaseURL, "/")+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "latchkey-go/"+latchkey.Version)
	if c.AdminSecret != "" {
		req.Header.Set("X-Admin-Secret", c.AdminSecret)
		if c.AccountID != "" {
			req.Header.Set("X-Account-ID", c.AccountID)
		}
	} else if c.RootKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.RootKey)
	}
	hc := c.HTTPClient
	if hc == nil {
		hc = defaultHTTPClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode >= 300 {
		e := &Error{Status: resp.StatusCode}
		if json.Unmarshal(b, e) != nil || e.Code == "" {
			e.Code, e.Detail = "http_error", strings.TrimSpace(string(b))
		}
		e.Status = resp.StatusCode
		return e
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("decode answer: %w", err)
		}
	}
	return nil
}

// CreateKey creates a key; the answer carries its secret, this once.
func (c *Client) CreateKey(ctx context.Context, in *latchkey.KeyCreate) (*KeyWithSecret, error) {
	var k KeyWithSecret
	return &k, c.do(ctx, "POST", "/v1/keys", in, &k)
}

// GetKey reads a key.
func (c *Client) GetKey(ctx context.Context, id int64) (*latchkey.Key, error) {
	var k latchkey.Key
	return &k, c.do(ctx, "GET", "/v1/keys/"+strconv.FormatInt(id, 10), nil, &k)
}

// ListOptions filters ListKeys; zero values match all.
type ListOptions struct {
	OwnerEmail, Status, Kind, Query, Cursor string
	Limit                                   int
}

// ListKeys returns a page of keys, newest first.
func (c *Client) ListKeys(ctx context.Context, o ListOptions) (*KeyPage, error) {
	q := url.Values{}
	for k, v := range map[string]string{"owner_email": o.OwnerEmail, "status": o.Status, "kind": o.Kind, "q": o.Query, "cursor": o.Cursor} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	path := "/v1/keys"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var p KeyPage
	return &p, c.do(ctx, "GET", path, nil, &p)
}

// UpdateKey sends a JSON merge patch: fields absent from patch are kept,
// fields set to nil are cleared.
func (c *Client) UpdateKey(ctx context.Context, id int64, patch map[string]any) (*latchkey.Key, error) {
	var k latchkey.Key
	return &k, c.do(ctx, "PATCH", "/v1/keys/"+strconv.FormatInt(id, 10), patch, &k)
}

// DeleteKey deletes a key.
func (c *Client) DeleteKey(ctx context.Context, id int64) error {
	return c.do(ctx, "DELETE", "/v1/keys/"+strconv.FormatInt(id, 10), nil, nil)
}

// RevokeKey revokes a key with a reason.
func (c *Client) RevokeKey(ctx context.Context, id int64, reason string) (*latchkey.Key, error) {
	var k latchkey.Key
	return &k, c.do(ctx, "POST", "/v1/keys/"+strconv.FormatInt(id, 10)+"/revoke", map[string]string{"reason": reason}, &k)
}

// RotateKey issues a new secret; the old one lives out grace.
func (c *Client) RotateKey(ctx context.Context, id int64, grace time.Duration) (*KeyWithSecret, error) {
	var k KeyWithSecret
	return &k, c.do(ctx, "POST", "/v1/keys/"+strconv.FormatInt(id, 10)+"/rotate", map[string]int64{"grace_seconds": int64(grace / time.Second)}, &k)
}

// Verify checks a key. The answer's Valid and Code say the outcome; an
// error means the call itself failed.
func (c *Client) Verify(ctx context.Context, req *latchkey.VerifyRequest) (*latchkey.VerifyResult, error) {
	var res latchkey.VerifyResult
	return &res, c.do(ctx, "POST", "/v1/keys/verify", req, &res)
}
