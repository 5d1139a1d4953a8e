package client

import (
	"context"

	"github.com/latchkey/latchkey"
)

// Verify checks a key (POST /v1/keys/verify) with a root key holding
// keys:verify. The answer's Valid and Code say the outcome, whatever it
// is; an error means the call itself failed.
func (c *Client) Verify(ctx context.Context, req *latchkey.VerifyRequest) (*latchkey.VerifyResult, error) {
	res, _, err := c.verify(ctx, req)
	return res, err
}

// rateLimitWire is the verify answer's rate_limit, with the window length
// when the server sends one.
type rateLimitWire struct {
	latchkey.RateLimitState
	WindowSeconds int64 `json:"window_seconds"`
}

// verifyWire decodes a verify answer, keeping what the root type drops.
type verifyWire struct {
	latchkey.VerifyResult
	RateLimit *rateLimitWire `json:"rate_limit,omitempty"`
}

// verify is Verify that also returns the rate limit's window in seconds
// (0 when the server does not say).
func (c *Client) verify(ctx context.Context, req *latchkey.VerifyRequest) (*latchkey.VerifyResult, int64, error) {
	var w verifyWire
	if err := c.do(ctx, request{method: "POST", path: "/v1/keys/verify", body: req}, &w); err != nil {
		return nil, 0, err
	}
	res := w.VerifyResult
	var window int64
	if w.RateLimit != nil {
		res.RateLimit = &w.RateLimit.RateLimitState
		window = w.RateLimit.WindowSeconds
	}
	return &res, window, nil
}
