package compat_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
)

// TestUnavailable checks that a store (or Redis) that cannot be reached,
// whichever call of a surface finds it out (authenticating the caller,
// looking the key up, updating it), answers 503 with Retry-After in the
// surface's own envelope, never 500, and logs no error.
func TestUnavailable(t *testing.T) {
	down := func(after time.Duration) error {
		return &latchkey.Error{Code: latchkey.EUNAVAILABLE, Message: "the store cannot be reached", RetryAfter: after}
	}
	type outage struct {
		name  string
		err   error
		retry string
		// cut makes the fixture's services fail where this case wants.
		cut func(f *fixture, err error)
	}
	failLookups := func(f *fixture, err error) {
		f.keys.FindKeyByIDFn = func(ctx context.Context, accountID, id int64) (*latchkey.Key, error) { return nil, err }
		f.keys.FindKeyBySecretFn = func(ctx context.Context, accountID int64, h latchkey.SecretHash) (*latchkey.Key, error) {
			return nil, err
		}
		f.keys.UpdateKeyFn = func(ctx context.Context, accountID, id int64, u *latchkey.KeyUpdate) (*latchkey.Key, error) {
			return nil, err
		}
	}
	failUpdates := func(f *fixture, err error) {
		f.keys.UpdateKeyFn = func(ctx context.Context, accountID, id int64, u *latchkey.KeyUpdate) (*latchkey.Key, error) {
			return nil, err
		}
	}
	failAuth := func(f *fixture, err error) {
		f.users.FindMembershipsFn = func(ctx context.Context, userID int64) ([]*latchkey.Membership, error) { return nil, err }
		f.accounts.FindAccountByNameFn = func(ctx context.Context, name string) (*latchkey.Account, error) { return nil, err }
		f.verifier.AuthenticateFn = func(ctx context.Context, secret string) (*latchkey.VerifyKey, error) { return nil, err }
	}
	outages := []outage{
		{"lookup, retry in 2.5 s", down(2500 * time.Millisecond), "3", failLookups},
		{"lookup, no retry hint", down(0), "1", failLookups},
		{"lookup, wrapped", fmt.Errorf("find key: %w", down(time.Second)), "1", failLookups},
		{"update", down(7 * time.Second), "7", failUpdates},
		{"authentication", down(2 * time.Second), "2", failAuth},
	}
	for _, o := range outages {
		t.Run(o.name, func(t *testing.T) {
			f := MustFixture(t)
			secret := f.keySecret
			o.cut(f, o.err)
			f.runSurfaceRequests(t, http.StatusServiceUnavailable, updateRequests(f, secret,
				`{"error":"service_unavailable"}`,
				`{"status":false,"code":503,"message":"Service temporarily unavailable; retry after the number of seconds in Retry-After",`+
					`"error":"Service temporarily unavailable; retry after the number of seconds in Retry-After"}`,
				`{"error":"Service Unavailable","message":"the service is temporarily unavailable; retry after the number of seconds in Retry-After"}`,
				`{"id":"<id>","name":"ServiceUnavailableError",
					"message":"Latchkey cannot complete the request right now. Try again in `+o.retry+` seconds.",
					"details":[{"message":"Latchkey cannot complete the request right now. Try again in `+o.retry+` seconds."}]}`),
				func(t *testing.T, h http.Header) {
					if got := h.Get("Retry-After"); got != o.retry {
						t.Fatalf("Retry-After: got %q, want %q", got, o.retry)
					}
				})
			if logs := f.logs.String(); strings.Contains(logs, "level=ERROR") {
				t.Errorf("an outage was logged as an error:\n%s", logs)
			}
			// Four surfaces answered 503: the outage is logged at warn,
			// once (the rest within the throttle are counted, not logged).
			if n := strings.Count(f.logs.String(), "seed surface answered 503"); n != 1 || !strings.Contains(f.logs.String(), "level=WARN") {
				t.Errorf("the outage: got %d warn lines, want 1:\n%s", n, f.logs.String())
			}
		})
	}
}

// TestClientGone: a service call that failed because the client went away
// (its request's context canceled) is logged at debug, not as an error,
// on every surface.
func TestClientGone(t *testing.T) {
	f := MustFixture(t)
	gone := fmt.Errorf("update key: %w", context.Canceled)
	f.keys.UpdateKeyFn = func(ctx context.Context, accountID, id int64, u *latchkey.KeyUpdate) (*latchkey.Key, error) {
		return nil, gone
	}
	for _, req := range updateRequests(f, f.keySecret, "", "", "", "") {
		f.do(t, req.method, req.path, req.body, req.headers...)
	}
	logs := f.logs.String()
	if strings.Contains(logs, "level=ERROR") || !strings.Contains(logs, "abandoned by its client") {
		t.Errorf("logs: got %q, want the abandoned requests at debug and no error", logs)
	}
}
