// Package testenv holds what tests of several packages share: the
// PostgreSQL and Redis the suites run against (from LATCHKEY_TEST_* variables,
// skipped without them, failing under CI=true), a fresh PostgreSQL schema per
// test, a clock tests move by hand, and a buffer for concurrent log writes.
// Only tests import it. It imports the standard library and the PostgreSQL
// driver.
package testenv

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
)

// The variables that switch the server suites on.
const (
	PostgresVar = "LATCHKEY_TEST_POSTGRES_URL"
	RedisVar    = "LATCHKEY_TEST_REDIS_URL"
)

// Examples of the variables' values, for skip messages.
const (
	postgresExample = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	redisExample    = "redis://127.0.0.1:6379/0"
)

// URL returns the value of the variable (PostgresVar or RedisVar). Without
// it the test is skipped, with a message saying what to set, except under
// CI=true, where that is a failure: CI must run every suite.
func URL(tb testing.TB, variable string) string {
	tb.Helper()
	v := os.Getenv(variable)
	if v != "" {
		return v
	}
	example := postgresExample
	if variable == RedisVar {
		example = redisExample
	}
	if os.Getenv("CI") == "true" {
		tb.Fatalf("CI=true but %s is not set: CI must run this suite", variable)
	}
	tb.Skipf("%s is not set; set it (e.g. %s) to run this test", variable, example)
	return ""
}

// PostgresURL is URL(tb, PostgresVar).
func PostgresURL(tb testing.TB) string { tb.Helper(); return URL(tb, PostgresVar) }

// RedisURL is URL(tb, RedisVar).
func RedisURL(tb testing.TB) string { tb.Helper(); return URL(tb, RedisVar) }

// PostgresSchema creates a schema of its own in the database at base,
// dropped with everything in it when the test ends, and returns base with a
// search_path that selects it, so tests sharing a server share no data.
func PostgresSchema(tb testing.TB, base string) string {
	tb.Helper()
	db, err := sql.Open("pgx", base)
	if err != nil {
		tb.Fatalf("open postgres: %v", err)
	}
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		tb.Fatal(err)
	}
	schema := "lk_test_" + hex.EncodeToString(b[:])
	if _, err := db.Exec(`CREATE SCHEMA ` + schema); err != nil {
		db.Close()
		tb.Fatalf("create schema: %v", err)
	}
	tb.Cleanup(func() {
		defer db.Close()
		// A server the test started may still hold locks for a moment.
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		conn, err := db.Conn(ctx)
		if err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close()
		if _, err := conn.ExecContext(ctx, `SET lock_timeout = '15s'`); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
		if _, err := conn.ExecContext(ctx, `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("parse %s: %v", PostgresVar, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// PostgresDSN is PostgresSchema on PostgresURL: a DSN of a fresh schema, or
// a skip without the variable.
func PostgresDSN(tb testing.TB) string {
	tb.Helper()
	return PostgresSchema(tb, PostgresURL(tb))
}

// Clock is a clock tests move by hand. Now is a latchkey.Clock.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock standing at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Add moves the clock by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Buffer is a bytes.Buffer safe for concurrent writes, such as a server's
// log output read by the test.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
