package auth_test

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/http/auth"
	"github.com/latchkey/latchkey/internal/inmem"
	"github.com/latchkey/latchkey/internal/mock"
)

// TestOperatorGuessesThrottled: wrong operator secrets from one network
// are counted; past the bound even the right one waits out the window, and
// another network is not affected. The right secret alone is never counted.
func TestOperatorGuessesThrottled(t *testing.T) {
	a := &auth.Authenticator{AdminSecret: "the operator's long secret", LoginLimiter: inmem.NewRateLimiter(),
		Accounts: &mock.AccountService{
			FindAccountByIDFn: func(ctx context.Context, id int64) (*latchkey.Account, error) { return &latchkey.Account{ID: id}, nil },
			FindAccountByNameFn: func(ctx context.Context, name string) (*latchkey.Account, error) {
				return &latchkey.Account{ID: 1, Name: name}, nil
			},
		}}
	try := func(secret, from string) error {
		r := httptest.NewRequest("GET", "/v1/keys", nil)
		r.RemoteAddr = from + ":1234"
		r.Header.Set("X-Admin-Secret", secret)
		r.Header.Set("X-Account-ID", "1")
		_, err := a.Operator(r)
		return err
	}
	for range 30 {
		if err := try("the operator's long secret", "192.0.2.7"); latchkey.ErrorCode(err) == latchkey.ERATELIMITED {
			t.Fatalf("the right secret was throttled: %v", err)
		}
	}
	var err error
	for i := 0; i < 25 && latchkey.ErrorCode(err) != latchkey.ERATELIMITED; i++ {
		err = try("a guess", "198.51.100.9")
	}
	if latchkey.ErrorCode(err) != latchkey.ERATELIMITED {
		t.Fatalf("25 wrong guesses: last %v, want rate_limited", err)
	}
	if err := try("the operator's long secret", "198.51.100.9"); latchkey.ErrorCode(err) != latchkey.ERATELIMITED {
		t.Errorf("the right secret from a guessing network: %v, want rate_limited", err)
	}
	if err := try("the operator's long secret", "203.0.113.5"); latchkey.ErrorCode(err) == latchkey.ERATELIMITED {
		t.Errorf("another network was throttled: %v", err)
	}
}
