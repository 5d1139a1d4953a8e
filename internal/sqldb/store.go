// Package sqldb is the Latchkey store on database/sql: SQLite
// (modernc.org/sqlite, no cgo) by default and PostgreSQL (pgx) as a second
// dialect. SQL is written once with ? placeholders and rebound for
// PostgreSQL; what differs between the two lives in dialect.go. Times are
// stored as BIGINT unix microseconds in UTC.
//
// Every public method runs in one transaction and calls private
// (ctx, tx, …) helpers; each transaction reads the clock once.
package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey"
)

// Store is the Latchkey store. It is safe for concurrent use.
type Store struct {
	db       *sql.DB // write transactions (SQLite: one connection)
	rdb      *sql.DB // read transactions (PostgreSQL: the same pool as db)
	dialect  *dialect
	clock    latchkey.Clock
	timeout  time.Duration // of every transaction; see WithTimeout
	logger   *slog.Logger
	feed     feed
	closeFn  func() // stops background work started by Open
	closed   sync.Once
	closeErr error

	// The change feed (feed.go): the NOTIFY channel (PostgreSQL) and this
	// Store's id in the change log, so it skips its own changes.
	channel, instance string

	stmts  stmtCache // see stmt.go
	writer *writer   // group commit (writer.go)

	pgConfig    *pgx.ConnConfig // PostgreSQL: for the feed connection
	feedMu      sync.Mutex      // guards feedStarted
	feedStarted bool
}

// DefaultTimeout bounds every transaction of a Store unless WithTimeout
// says otherwise.
const DefaultTimeout = 5 * time.Second

// Option configures Open.
type Option func(*Store)

// WithTimeout bounds every transaction (and, on PostgreSQL, connecting and
// each statement on the server): past it the call fails as unavailable, so
// a partitioned database is answered instead of waited on.
func WithTimeout(d time.Duration) Option { return func(s *Store) { s.timeout = d } }

// WithLogger logs the change feed's losses and recoveries to l.
func WithLogger(l *slog.Logger) Option { return func(s *Store) { s.logger = l } }

// Open opens the store at dsn: a SQLite file path or a postgres:// URL. It
// does not migrate; call Migrate, which also starts the change feed.
func Open(ctx context.Context, dsn string, clock latchkey.Clock, opts ...Option) (*Store, error) {
	if clock == nil {
		clock = latchkey.SystemClock
	}
	s := &Store{clock: clock, closeFn: func() {}, timeout: DefaultTimeout, instance: newInstanceID()}
	for _, o := range opts {
		o(s)
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	s.feed.subs = make(map[int]func(latchkey.KeyChange))
	if isPostgresDSN(dsn) {
		db, cfg, err := openPostgres(ctx, dsn, s.timeout)
		if err != nil {
			return nil, err
		}
		s.db, s.rdb, s.dialect, s.pgConfig = db, db, postgresDialect, cfg
		s.startWriter()
		return s, nil
	}
	db, rdb, err := openSQLite(ctx, dsn)
	if err != nil {
		return nil, err
	}
	s.db, s.rdb, s.dialect = db, rdb, sqliteDialect
	s.startWriter()
	return s, nil
}

// Close stops the store's background work and closes its connections.
// Calling it again does nothing.
func (s *Store) Close() error {
	s.closed.Do(func() {
		s.closeFn()
		if s.writer != nil {
			s.writer.close()
		}
		s.closeStmts()
		s.closeErr = s.db.Close()
		if s.rdb != s.db {
			s.closeErr = errors.Join(s.closeErr, s.rdb.Close())
		}
	})
	return s.closeErr
}

// Ping reports whether the database answers. Errors: unavailable.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if err := s.rdb.PingContext(ctx); err != nil {
		return unavailable(fmt.Errorf("ping database: %w", err))
	}
	return nil
}

// Dialect returns "sqlite" or "postgres".
func (s *Store) Dialect() string { return s.dialect.name }

// now reads the clock, in UTC, at the precision times are stored with.
func (s *Store) now() time.Time {
	return s.clock().UTC().Truncate(time.Microsecond)
}
