// What differs between SQLite and PostgreSQL (see the comment below the
// imports).

package sqldb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/latchkey/latchkey"
)

// This file holds everything that differs between SQLite and PostgreSQL:
// connection setup, placeholder style, row locks, advisory locks, the
// change-feed notification and driver error codes. Every other file writes
// its SQL once, with ? placeholders, in the subset both engines share.

// dialect describes one SQL engine.
type dialect struct {
	name string // "sqlite" or "postgres"; also the migrations directory
	// dollar rebinds ? placeholders to $1, $2, … (PostgreSQL).
	dollar bool
	// forUpdate is appended to a SELECT inside a write transaction to lock
	// the rows it reads. SQLite needs none: its write transactions are
	// immediate and so already hold the database's single write lock.
	forUpdate string
	// updateFrom says a multi-row UPDATE … FROM (VALUES …) is planned as
	// one index lookup per row. PostgreSQL does; SQLite may scan the whole
	// target table for each statement (seen: 260 µs a row on a million
	// keys), so there each row gets its own execution of one prepared
	// statement, a rowid lookup.
	updateFrom bool
	// verifyKeyQuery is FindVerifyKey's one query (verify.go): the two
	// engines aggregate JSON arrays differently.
	verifyKeyQuery string
	// permissionsOfK is the permissions of the key of alias k as a JSON
	// array (verify.go), for findKey.
	permissionsOfK string
}

var (
	sqliteDialect = &dialect{name: "sqlite",
		verifyKeyQuery: sqliteVerifyKeyQuery, permissionsOfK: sqlitePermissionsOfK}
	postgresDialect = &dialect{name: "postgres", dollar: true, forUpdate: " FOR UPDATE", updateFrom: true,
		verifyKeyQuery: postgresVerifyKeyQuery, permissionsOfK: postgresPermissionsOfK}
)

// isPostgresDSN reports whether dsn names a PostgreSQL database.
func isPostgresDSN(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// SQLite connection settings. WAL lets readers run beside the writer;
// synchronous=FULL fsyncs the WAL on every commit, so an acknowledged write
// survives kill -9 and power loss; immediate transactions take the write
// lock at BEGIN, where busy_timeout can wait for it, instead of failing with
// SQLITE_BUSY at the first write of a deferred transaction.
const sqliteBusyTimeoutMS = 10000

// pingSQLite opens a pool's first connection. Switching a new file to WAL
// needs an exclusive lock, and SQLite answers SQLITE_BUSY at once, without
// the busy timeout, when another process or pool is opening the same new
// file at that moment (several instances started together on one empty
// store): that is retried, with a short growing pause, for as long as the
// busy timeout would have waited.
func pingSQLite(ctx context.Context, db *sql.DB) error {
	deadline := time.Now().Add(sqliteBusyTimeoutMS * time.Millisecond)
	for pause := 5 * time.Millisecond; ; pause = min(2*pause, 200*time.Millisecond) {
		err := db.PingContext(ctx)
		var se *sqlite.Error
		if err == nil || !errors.As(err, &se) || se.Code()&0xff != sqlite3.SQLITE_BUSY || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(pause):
		}
	}
}

// openSQLite opens a file database as two pools: one connection for every
// write transaction, so writers of this process queue in database/sql instead
// of contending for SQLite's lock, and several query-only connections for
// reads, which WAL serves beside the writer.
func openSQLite(ctx context.Context, path string) (db, rdb *sql.DB, err error) {
	if path == "" {
		return nil, nil, fmt.Errorf("sqlite: empty database path")
	}
	if path == ":memory:" || strings.Contains(path, "mode=memory") {
		return nil, nil, fmt.Errorf("sqlite: an in-memory database is not supported; use a file path")
	}
	if err := createPrivate(path); err != nil {
		return nil, nil, err
	}
	common := url.Values{}
	common.Set("_busy_timeout", strconv.Itoa(sqliteBusyTimeoutMS))
	common.Set("_foreign_keys", "1")
	common.Set("_journal_mode", "WAL")
	common.Set("_synchronous", "FULL")

	w := cloneValues(common)
	w.Set("_txlock", "immediate")
	db, err = sql.Open("sqlite", appendQuery(path, w))
	if err != nil {
		return nil, nil, fmt.Errorf("open sqlite: %w", err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	// Connect the writer first: it switches the file to WAL, which needs
	// the write lock, before any reader opens.
	if err := pingSQLite(ctx, db); err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}

	r := cloneValues(common)
	r.Set("_query_only", "1")
	rdb, err = sql.Open("sqlite", appendQuery(path, r))
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("open sqlite: %w", err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	rdb.SetMaxOpenConns(n)
	rdb.SetMaxIdleConns(n)
	rdb.SetConnMaxLifetime(0)
	rdb.SetConnMaxIdleTime(0)
	if err := pingSQLite(ctx, rdb); err != nil {
		db.Close()
		rdb.Close()
		return nil, nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	return db, rdb, nil
}

// openPostgres opens one pool for reads and writes, and returns the
// connection settings for the change feed's own connection. Unless the URL
// sets them, connecting is bounded by timeout, and so are each statement
// (statement_timeout) and each idle transaction on the server, so a stuck
// client never holds a lock for long.
func openPostgres(ctx context.Context, dsn string, timeout time.Duration) (*sql.DB, *pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// The parse error may quote the URL, password included.
		return nil, nil, fmt.Errorf("open postgres: the database URL is not a valid postgres:// URL")
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = timeout
	}
	ms := strconv.FormatInt(timeout.Milliseconds(), 10)
	for _, p := range []string{"statement_timeout", "idle_in_transaction_session_timeout"} {
		if _, set := cfg.RuntimeParams[p]; !set {
			cfg.RuntimeParams[p] = ms
		}
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(32)
	db.SetMaxIdleConns(32) // as many as may be open: a burst of cold reads must not open and close connections over and over
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("open postgres: %w", err)
	}
	return db, cfg, nil
}

// createPrivate creates a missing database file readable by its owner
// only: it holds the server's secret key. SQLite gives the -wal and -shm
// files the database file's permissions.
func createPrivate(path string) error {
	if strings.HasPrefix(path, "file:") {
		return nil // a URI: SQLite opens it as told
	}
	name, _, _ := strings.Cut(path, "?")
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	} else if err != nil {
		return fmt.Errorf("create sqlite database: %w", err)
	}
	return f.Close()
}

// cloneValues copies URL query values, so the caller's stay untouched.
func cloneValues(v url.Values) url.Values {
	c := make(url.Values, len(v))
	for k, vs := range v {
		c[k] = append([]string(nil), vs...)
	}
	return c
}

// appendQuery appends the query q to a SQLite path or file: URI.
func appendQuery(path string, q url.Values) string {
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return path + sep + q.Encode()
}

// rebind returns q with its ? placeholders in the dialect's style. A ?
// inside a single-quoted literal is left alone.
func (d *dialect) rebind(q string) string {
	if !d.dollar || strings.IndexByte(q, '?') < 0 {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n, quoted := 0, false
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '\'':
			quoted = !quoted
		case c == '?' && !quoted:
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// Advisory lock ids, for PostgreSQL's transaction-scoped advisory locks.
const (
	lockMigrate   int64 = 0x6c6b0001 // "lk" 1
	lockBootstrap int64 = 0x6c6b0002
)

// lock takes a transaction-scoped lock that serializes processes sharing
// the database around one job (migrating, bootstrapping). SQLite needs none:
// a write transaction there already holds the only write lock.
func (d *dialect) lock(ctx context.Context, tx *Tx, id int64) error {
	if d != postgresDialect {
		return nil
	}
	if _, err := tx.exec(ctx, `SELECT pg_advisory_xact_lock(?)`, id); err != nil {
		return fmt.Errorf("advisory lock: %w", err)
	}
	return nil
}

// isUniqueViolation reports whether err is a unique or primary-key
// violation from either driver.
func isUniqueViolation(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23505" // unique_violation
	}
	return false
}

// isForeignKeyViolation reports whether err is a foreign-key violation from
// either driver.
func isForeignKeyViolation(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23503" // foreign_key_violation
	}
	return false
}

// pgNowMicros is the database's clock in unix microseconds: change-log rows
// are stamped and trimmed by it, so instances' clocks do not matter.
const pgNowMicros = `(extract(epoch FROM clock_timestamp()) * 1000000)::bigint`

// pgLogChanges is logChanges on PostgreSQL in one statement: it takes
// the next ? numbers from change_seq, writes a change_log row per
// (account, key) of the two arrays with the origin, and queues the NOTIFY
// on the channel with "first last".
const pgLogChanges = `WITH s AS (UPDATE change_seq SET seq = seq + ? WHERE id = 1 RETURNING seq),
	c AS (SELECT a, k, ord FROM unnest(?::bigint[], ?::bigint[]) WITH ORDINALITY AS c(a, k, ord)),
	ins AS (INSERT INTO change_log (seq, account_id, key_id, origin, created_at)
		SELECT s.seq - (SELECT count(*) FROM c) + c.ord, c.a, c.k, ?, ` + pgNowMicros + ` FROM s, c)
	SELECT pg_notify(?, (s.seq - (SELECT count(*) FROM c) + 1)::text || ' ' || s.seq::text) IS NULL FROM s`

// unavailableRetry is the Retry-After of an unreachable database.
const unavailableRetry = 2 * time.Second

// unavailable returns err as an unavailable *latchkey.Error (with the
// cause kept for the log) when it says that the database could not be
// reached, dropped the connection, did not answer in time, or is shutting
// down or overloaded; it returns any other err unchanged. Callers see only
// that the store is unavailable and when to try again.
func unavailable(err error) error {
	if err == nil || !isUnavailable(err) {
		return err
	}
	var le *latchkey.Error
	if errors.As(err, &le) {
		return err // already classified
	}
	return &latchkey.Error{Code: latchkey.EUNAVAILABLE, Message: "the store is unavailable; try again shortly",
		RetryAfter: unavailableRetry, Err: err}
}

// isUnavailable reports whether err, from either driver, says the database
// could not be reached, dropped the connection, timed out, or is
// overloaded or shutting down: worth trying again shortly.
// isRetryable reports whether err is PostgreSQL aborting a transaction to
// break a deadlock (40P01) or a serialization conflict (40001): running it
// again is expected to succeed.
func isRetryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001")
}

func isUnavailable(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) || pgconn.Timeout(err) || pgconn.SafeToRetry(err) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case strings.HasPrefix(pe.Code, "08"): // connection exception
			return true
		case pe.Code == "57014", // query_canceled: statement_timeout
			pe.Code == "53100", pe.Code == "53200", // disk full, out of memory
			pe.Code == "57P01", pe.Code == "57P02", pe.Code == "57P03", // shutting down, cannot connect now
			pe.Code == "53300",                     // too_many_connections
			pe.Code == "40001", pe.Code == "40P01", // serialization failure, deadlock: try again
			pe.Code == "25P03": // idle_in_transaction_session_timeout
			return true
		}
		return false
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff { // primary result code
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR:
			return true
		}
	}
	return false
}
