package sqldb_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/sqldb"

	"github.com/latchkey/latchkey/internal/testenv"
)

// backend is a database the conformance suite runs on. newDSN returns the
// DSN of a fresh, empty database that lives until the test ends.
type backend struct {
	name   string
	newDSN func(tb testing.TB) string
	skip   string // why this backend is skipped, if it is
}

// backends returns SQLite always and PostgreSQL, skipped with a reason
// unless LATCHKEY_TEST_POSTGRES_URL is set. Under CI=true a missing URL
// fails the run instead.
func backends(t *testing.T) []backend {
	t.Helper()
	list := []backend{{name: "sqlite", newDSN: func(tb testing.TB) string {
		return filepath.Join(tb.TempDir(), "latchkey.db")
	}}}
	pgURL := os.Getenv("LATCHKEY_TEST_POSTGRES_URL")
	if pgURL == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true but LATCHKEY_TEST_POSTGRES_URL is not set: the PostgreSQL conformance suite must run in CI")
		}
		return append(list, backend{name: "postgres",
			skip: "LATCHKEY_TEST_POSTGRES_URL is not set; set it (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to run the suite on PostgreSQL"})
	}
	return append(list, backend{name: "postgres", newDSN: func(tb testing.TB) string {
		return newPostgresSchema(tb, pgURL)
	}})
}

// newPostgresSchema is testenv.PostgresSchema: a schema of its own for one
// test, dropped at its end.
func newPostgresSchema(tb testing.TB, base string) string {
	tb.Helper()
	return testenv.PostgresSchema(tb, base)
}

// newTestClock is a test clock (testenv.Clock) at a fixed time.
func newTestClock() *testenv.Clock {
	return testenv.NewClock(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
}

// env is one test's store on a fresh database.
type env struct {
	store *sqldb.Store
	clock *testenv.Clock
	dsn   string
}

// testTimeout is the store timeout of the conformance suite: longer than a
// server's, because a shared 2-core machine under load can take seconds to
// give two stores on one SQLite file their turn, and the suite checks
// behaviour, not speed (outage tests set their own).
const testTimeout = 30 * time.Second

// MustOpen opens and migrates the store at dsn, closed when the test ends.
func MustOpen(tb testing.TB, dsn string, clock latchkey.Clock) *sqldb.Store {
	tb.Helper()
	s, err := sqldb.Open(context.Background(), dsn, clock, sqldb.WithTimeout(testTimeout))
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	if err := s.Migrate(context.Background()); err != nil {
		tb.Fatalf("Migrate: %v", err)
	}
	return s
}

// MustEnv returns a store on a fresh database of the backend, with a test
// clock.
func MustEnv(tb testing.TB, b backend) *env {
	tb.Helper()
	clock := newTestClock()
	dsn := b.newDSN(tb)
	return &env{store: MustOpen(tb, dsn, clock.Now), clock: clock, dsn: dsn}
}

// MustAcme returns a fresh env, its store, and an account named acme in it.
func MustAcme(tb testing.TB, b backend) (*env, *sqldb.Store, *latchkey.Account) {
	tb.Helper()
	e := MustEnv(tb, b)
	return e, e.store, MustCreateAccount(tb, e.store, "acme")
}

// MustCreateAccount creates an account named name.
func MustCreateAccount(tb testing.TB, s *sqldb.Store, name string) *latchkey.Account {
	tb.Helper()
	a := &latchkey.Account{Name: name}
	if err := s.CreateAccount(context.Background(), a); err != nil {
		tb.Fatalf("CreateAccount(%q): %v", name, err)
	}
	return a
}

// MustCreatePermission adds names to the account's catalogue.
func MustCreatePermission(tb testing.TB, s *sqldb.Store, accountID int64, names ...string) {
	tb.Helper()
	for _, n := range names {
		if err := s.CreatePermission(context.Background(), &latchkey.Permission{AccountID: accountID, Name: n}); err != nil {
			tb.Fatalf("CreatePermission(%q): %v", n, err)
		}
	}
}

// MustCreateKey creates a key and returns it with its secret.
func MustCreateKey(tb testing.TB, s *sqldb.Store, accountID int64, c *latchkey.KeyCreate) (*latchkey.Key, string) {
	tb.Helper()
	if c == nil {
		c = &latchkey.KeyCreate{}
	}
	k, secret, err := s.CreateKey(context.Background(), accountID, c)
	if err != nil {
		tb.Fatalf("CreateKey: %v", err)
	}
	return k, secret
}

// MustFindKey returns a key of the account.
func MustFindKey(tb testing.TB, s *sqldb.Store, accountID, id int64) *latchkey.Key {
	tb.Helper()
	k, err := s.FindKeyByID(context.Background(), accountID, id)
	if err != nil {
		tb.Fatalf("FindKeyByID(%d, %d): %v", accountID, id, err)
	}
	return k
}

// MustUpdateKey applies a patch.
func MustUpdateKey(tb testing.TB, s *sqldb.Store, accountID, id int64, u *latchkey.KeyUpdate) *latchkey.Key {
	tb.Helper()
	k, err := s.UpdateKey(context.Background(), accountID, id, u)
	if err != nil {
		tb.Fatalf("UpdateKey(%d, %d): %v", accountID, id, err)
	}
	return k
}

// MustAuditEvents returns every audit event matching f, newest first.
func MustAuditEvents(tb testing.TB, s *sqldb.Store, f latchkey.AuditFilter) []*latchkey.AuditEvent {
	tb.Helper()
	var all []*latchkey.AuditEvent
	for {
		page, next, err := s.FindAuditEvents(context.Background(), f)
		if err != nil {
			tb.Fatalf("FindAuditEvents: %v", err)
		}
		all = append(all, page...)
		if next == "" {
			return all
		}
		f.Cursor = next
	}
}

// recorder is a change-feed subscriber that keeps what it hears.
type recorder struct {
	mu      sync.Mutex
	changes []latchkey.KeyChange
}

// MustSubscribe subscribes a recorder for the rest of the test.
func MustSubscribe(tb testing.TB, s *sqldb.Store) *recorder {
	tb.Helper()
	r := &recorder{}
	cancel := s.Subscribe(func(c latchkey.KeyChange) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.changes = append(r.changes, c)
	})
	tb.Cleanup(cancel)
	return r
}

// take returns what the recorder heard since the last take.
func (r *recorder) take() []latchkey.KeyChange {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.changes
	r.changes = nil
	return c
}

// wantCode fails unless err carries the latchkey error code.
func wantCode(tb testing.TB, err error, code string) {
	tb.Helper()
	if got := latchkey.ErrorCode(err); got != code {
		tb.Fatalf("error code: got %q (%v), want %q", got, err, code)
	}
}

func ptr[T any](v T) *T { return &v }

var ctx = context.Background()

// MustCloseAndRead closes a SQLite store kept in dir/lk.db and returns the
// bytes of all its files (the database, its WAL and shared memory), to
// look for what must not be stored.
func MustCloseAndRead(tb testing.TB, s *sqldb.Store, dir string) []byte {
	tb.Helper()
	if err := s.Close(); err != nil {
		tb.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "lk.db*"))
	var all []byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		all = append(all, b...)
	}
	return all
}

// MustTwoStores returns the env's store and a second one on the same
// database, as a second process would open it.
func MustTwoStores(tb testing.TB, e *env) []*sqldb.Store {
	tb.Helper()
	return []*sqldb.Store{e.store, MustOpen(tb, e.dsn, e.clock.Now)}
}

// race calls fn(i, s) for i from 0 to n-1 at once, each call in its own
// goroutine and all released together, with s taken in turn from stores,
// and returns each call's error by i: the one shape of every concurrency
// case of the suite.
func race(n int, stores []*sqldb.Store, fn func(i int, s *sqldb.Store) error) []error {
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = fn(i, stores[i%len(stores)])
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

// wantOneWinner fails unless exactly one of errs is nil and every other
// one is a loser's error as lost accepts.
func wantOneWinner(tb testing.TB, what string, errs []error, lost func(error) bool) {
	tb.Helper()
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
		} else if !lost(err) {
			tb.Fatalf("%s: a losing call got %v", what, err)
		}
	}
	if won != 1 {
		tb.Fatalf("%s: %d calls succeeded (%v), want 1", what, won, errs)
	}
}

// MustListener opens a second store on e's database, subscribed for the
// rest of the test to a channel of what it hears, and a raw connection to
// write behind both stores' backs: the start of the change-log cases.
func MustListener(tb testing.TB, b backend, e *env) (*sqldb.Store, <-chan latchkey.KeyChange, *sql.DB) {
	tb.Helper()
	other := MustOpen(tb, e.dsn, e.clock.Now)
	heard := make(chan latchkey.KeyChange, 64)
	tb.Cleanup(other.Subscribe(func(c latchkey.KeyChange) { heard <- c }))
	return other, heard, MustDB(tb, b, e.dsn)
}

// MustDB opens the test's database directly, to look under the store.
func MustDB(tb testing.TB, b backend, dsn string) *sql.DB {
	tb.Helper()
	driver := "sqlite"
	if b.name == "postgres" {
		driver = "pgx"
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// countEvents counts the account's audit events of an action.
func countEvents(tb testing.TB, s *sqldb.Store, accountID int64, action string) int {
	tb.Helper()
	return len(MustAuditEvents(tb, s, latchkey.AuditFilter{AccountID: accountID, Action: &action}))
}
