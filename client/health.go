package client

import "context"

// Health is the answer of /healthz: the process is up.
type Health struct {
	Status  string `json:"status"` // ok
	Version string `json:"version"`
}

// Health asks whether the server is up (GET /healthz); it needs no
// credential.
func (c *Client) Health(ctx context.Context) (*Health, error) {
	var h Health
	if err := c.do(ctx, request{method: "GET", path: "/healthz"}, &h); err != nil {
		return nil, err
	}
	return &h, nil
}

// Readiness is the answer of /readyz when the server can serve.
type Readiness struct {
	Status string            `json:"status"` // ready, or degraded when only an optional check fails
	Checks map[string]string `json:"checks"` // check name → "ok" or what is wrong
}

// Ready asks whether the server can serve (GET /readyz): its store, Redis
// and change feed, each reported. A server that cannot is a
// *latchkey.Error with code unavailable whose Fields name each failing
// check.
func (c *Client) Ready(ctx context.Context) (*Readiness, error) {
	var r Readiness
	if err := c.do(ctx, request{method: "GET", path: "/readyz"}, &r); err != nil {
		return nil, err
	}
	return &r, nil
}
