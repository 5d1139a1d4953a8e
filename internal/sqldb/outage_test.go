package sqldb_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/faults"
	"github.com/latchkey/latchkey/internal/sqldb"
	"github.com/latchkey/latchkey/internal/testenv"
)

// A PostgreSQL store reached through a proxy the test breaks: refused or
// partitioned, every call fails as unavailable with a Retry-After, within
// the store's timeout, and works again once the link heals.
func TestPostgresOutageIsUnavailable(t *testing.T) {
	p, proxied, err := faults.ProxyURL(newPostgresSchema(t, testenv.PostgresURL(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	const timeout = 700 * time.Millisecond
	s, err := sqldb.Open(ctx, proxied, nil, sqldb.WithTimeout(timeout))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	a := MustCreateAccount(t, s, "acme")
	k, _ := MustCreateKey(t, s, a.ID, nil)

	calls := map[string]func(context.Context) error{
		"read": func(ctx context.Context) error { _, err := s.FindKeyByID(ctx, a.ID, k.ID); return err },
		"write": func(ctx context.Context) error {
			_, err := s.UpdateKey(ctx, a.ID, k.ID, &latchkey.KeyUpdate{Name: ptr("x")})
			return err
		},
		"ping": s.Ping,
	}
	for _, mode := range []faults.Mode{faults.Refuse, faults.Partition} {
		if err := p.SetMode(mode); err != nil {
			t.Fatal(err)
		}
		for name, call := range calls {
			start := time.Now()
			err := call(ctx)
			took := time.Since(start)
			var le *latchkey.Error
			if latchkey.ErrorCode(err) != latchkey.EUNAVAILABLE || !asError(err, &le) || le.RetryAfter <= 0 {
				t.Fatalf("%s, %s: got %v, want unavailable with a Retry-After", mode, name, err)
			}
			if took > 3*timeout+time.Second { // a bound, not a measurement: it must not hang
				t.Fatalf("%s, %s: answered after %v, want about the timeout %v", mode, name, took, timeout)
			}
		}
		if err := p.Heal(); err != nil {
			t.Fatal(err)
		}
		var last error
		for i := 0; i < 100; i++ {
			if last = calls["write"](ctx); last == nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if last != nil {
			t.Fatalf("after %s healed: writes still fail: %v", mode, last)
		}
	}
	if st := s.FeedStatus(); !st.Shared {
		t.Fatalf("feed status: got %+v, want shared", st)
	}
}

func asError(err error, le **latchkey.Error) bool { return errors.As(err, le) }
