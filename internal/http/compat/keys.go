package compat

import (
	"context"
	"net/http"

	"github.com/latchkey/latchkey"
)

// This file holds what the surfaces' key resources share beyond one
// product: reading every key a filter matches, and the dispatch of the
// paths the mail-forwarding and Unleash surfaces share.

// maxListedKeys bounds how many keys a seed surface's list reads: the
// products page by offset or not at all, where the store pages by cursor.
const maxListedKeys = 10000

// allKeys returns the keys f matches, in the store's order, at most
// maxListedKeys of them.
func (s *Surfaces) allKeys(ctx context.Context, f latchkey.KeyFilter) ([]*latchkey.Key, error) {
	f.Limit = 1000
	var out []*latchkey.Key
	for {
		page, next, err := s.Keys.FindKeys(ctx, f)
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		if next == "" || len(out) >= maxListedKeys {
			return out[:min(len(out), maxListedKeys)], nil
		}
		f.Cursor = next
	}
}

// byCredential serves a method and path that the mail-forwarding and the
// Unleash surfaces share (/api/admin/api-tokens[/…]): a request carrying
// an Authorization header is the Unleash client's, any other the
// mail-forwarding client's (its __Host-access session cookie, or nothing).
type byCredential struct {
	mailForward, unleash *surfaceHandler
}

// pick returns the surface the request is for.
func (d *byCredential) pick(r *http.Request) *surfaceHandler {
	if _, ok := r.Header["Authorization"]; ok {
		return d.unleash
	}
	return d.mailForward
}

// ServeHTTP serves the request on the surface it is for.
func (d *byCredential) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d.pick(r).ServeHTTP(w, r)
}

// RenderBadInput answers a refused request string in the envelope of the
// surface the request is for.
func (d *byCredential) RenderBadInput(w http.ResponseWriter, r *http.Request, err error) {
	d.pick(r).RenderBadInput(w, r, err)
}

// shared returns the handler of a path both surfaces serve.
func (s *Surfaces) shared(mailForwardH, unleashH handler) http.Handler {
	return &byCredential{
		mailForward: &surfaceHandler{s: s, sf: mailForward, h: mailForwardH},
		unleash:     &surfaceHandler{s: s, sf: unleash, h: unleashH},
	}
}
