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
	return call[Health](ctx, c, request{method: "GET", path: "/healthz"})
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
	return call[Readiness](ctx, c, request{method: "GET", path: "/readyz"})
}
