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
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey"
)

//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrations embed.FS

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

	stmtsMu sync.Mutex
	stmts   map[stmtKey]*sql.Stmt // see Tx.stmt

	pgConfig    *pgx.ConnConfig // PostgreSQL: for the feed connection
	feedMu      sync.Mutex      // guards feedStarted
	feedStarted bool
}

// stmtKey names a statement prepared on one pool.
type stmtKey struct {
	pool *sql.DB
	q    string
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
		return s, nil
	}
	db, rdb, err := openSQLite(ctx, dsn)
	if err != nil {
		return nil, err
	}
	s.db, s.rdb, s.dialect = db, rdb, sqliteDialect
	return s, nil
}

// Close stops the store's background work and closes its connections.
// Calling it again does nothing.
func (s *Store) Close() error {
	s.closed.Do(func() {
		s.closeFn()
		s.stmtsMu.Lock()
		for _, st := range s.stmts {
			st.Close()
		}
		s.stmts = nil
		s.stmtsMu.Unlock()
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

// Migrate applies, in one transaction, every embedded migration of the
// store's dialect not yet recorded in schema_migrations. It is idempotent
// and safe to run from several processes at once.
func (s *Store) Migrate(ctx context.Context) error {
	tx, err := s.beginLong(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := s.dialect.lock(ctx, tx, lockMigrate); err != nil {
		return err
	}
	if _, err := tx.exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    BIGINT NOT NULL PRIMARY KEY,
		name       TEXT   NOT NULL,
		applied_at BIGINT NOT NULL
	)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	applied := make(map[int64]string) // version → name
	rows, err := tx.query(ctx, `SELECT version, name FROM schema_migrations`)
	if err != nil {
		return fmt.Errorf("read schema_migrations: %w", err)
	}
	for rows.Next() {
		var v int64
		var name string
		if err := rows.Scan(&v, &name); err != nil {
			rows.Close()
			return fmt.Errorf("read schema_migrations: %w", err)
		}
		applied[v] = name
	}
	rows.Close()
	if err := rowsErr(rows); err != nil {
		return fmt.Errorf("read schema_migrations: %w", err)
	}

	list, err := migrationFiles(s.dialect.name)
	if err != nil {
		return err
	}
	for _, m := range list {
		if name, ok := applied[m.version]; ok {
			// Migrations are append-only: an applied one never changes.
			if name != m.name {
				return fmt.Errorf("migration %d was applied as %s but is now %s: migrations are append-only", m.version, name, m.name)
			}
			continue
		}
		body, err := migrations.ReadFile(m.path)
		if err != nil {
			return fmt.Errorf("read migration %s: %w", m.name, err)
		}
		if _, err := tx.tx.ExecContext(tx.ctx, string(body)); err != nil {
			return fmt.Errorf("apply migration %s: %w", m.name, err)
		}
		if _, err := tx.exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
			m.version, m.name, micros(tx.now)); err != nil {
			return fmt.Errorf("record migration %s: %w", m.name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	if err := s.prepareHot(ctx); err != nil {
		return err
	}
	return s.startFeedOnce(ctx)
}

// startFeedOnce starts, on PostgreSQL, the feed connection that hears other
// instances' changes, from the newest change there is now.
func (s *Store) startFeedOnce(ctx context.Context) error {
	if s.pgConfig == nil {
		return nil
	}
	s.feedMu.Lock()
	defer s.feedMu.Unlock()
	if s.feedStarted {
		return nil
	}
	if err := s.startAt(ctx); err != nil {
		return err // a later Migrate tries again
	}
	if err := s.startFeed(ctx, s.pgConfig); err != nil {
		return err
	}
	s.feedStarted = true
	return nil
}

// hotQueries are the constant queries of cold verifications, kept prepared
// (see Tx.stmt).
var hotQueries = []string{findVerifyKeyQuery, findDevicesQuery, permissionsOfOneKeyQuery}

// prepareHot prepares hotQueries on both pools, once the schema is there.
// It runs outside any transaction: preparing on a pool takes one of its
// connections, and SQLite's write pool has only one.
func (s *Store) prepareHot(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	for _, pool := range []*sql.DB{s.db, s.rdb} {
		for _, q := range hotQueries {
			k := stmtKey{pool, q}
			s.stmtsMu.Lock()
			have := s.stmts[k] != nil
			s.stmtsMu.Unlock()
			if have {
				continue
			}
			// Prepared without the lock: preparing waits for a pooled
			// connection, which a transaction in Tx.stmt may hold.
			st, err := pool.PrepareContext(ctx, s.dialect.rebind(q))
			if err != nil {
				return unavailable(fmt.Errorf("prepare: %w", err))
			}
			s.stmtsMu.Lock()
			if s.stmts == nil {
				s.stmts = make(map[stmtKey]*sql.Stmt)
			}
			if s.stmts[k] == nil {
				s.stmts[k], st = st, nil
			}
			s.stmtsMu.Unlock()
			if st != nil { // another Migrate won
				st.Close()
			}
		}
	}
	return nil
}

type migration struct {
	version    int64
	name, path string
}

// migrationFiles lists a dialect's migrations, named NNNN_what.sql, in order.
func migrationFiles(dir string) ([]migration, error) {
	dir = path.Join("migrations", dir)
	entries, err := fs.ReadDir(migrations, dir)
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	var list []migration
	seen := make(map[int64]string)
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.ParseInt(num, 10, 64)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must start with a positive number and _", name)
		}
		if prev, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrations %s and %s share version %d", prev, name, v)
		}
		seen[v] = name
		list = append(list, migration{version: v, name: name, path: path.Join(dir, name)})
	}
	sort.Slice(list, func(i, j int) bool { return list[i].version < list[j].version })
	return list, nil
}

// Tx is a transaction with the one now every helper in it uses, and the
// key changes to announce once it commits.
//
// Each transaction runs under the store's timeout: its ctx carries the
// deadline, and every error that says the database could not be reached or
// did not answer in time comes back as unavailable (see unavailable).
type Tx struct {
	tx      *sql.Tx
	ctx     context.Context // with the store's deadline
	cancel  context.CancelFunc
	pool    *sql.DB // the pool tx came from
	store   *Store
	now     time.Time
	changes []latchkey.KeyChange
}

// beginWrite starts a write transaction (immediate on SQLite).
func (s *Store) beginWrite(ctx context.Context) (*Tx, error) {
	return s.begin(ctx, s.db, nil, s.timeout)
}

// longTimeout bounds the transactions that are not a request's: migrating,
// bootstrapping, flushing usage. They also end with their ctx.
const longTimeout = 10 * time.Minute

// beginLong starts a write transaction bounded by longTimeout instead of
// the store's timeout, on PostgreSQL with the statement timeout lifted to
// match.
func (s *Store) beginLong(ctx context.Context) (*Tx, error) {
	tx, err := s.begin(ctx, s.db, nil, longTimeout)
	if err != nil {
		return nil, err
	}
	if s.dialect == postgresDialect {
		if _, err := tx.exec(ctx, `SET LOCAL statement_timeout = '10min'`); err != nil {
			tx.Rollback()
			return nil, err
		}
	}
	return tx, nil
}

// beginRead starts a read-only transaction, so a method's several queries
// see one snapshot.
func (s *Store) beginRead(ctx context.Context) (*Tx, error) {
	return s.begin(ctx, s.rdb, &sql.TxOptions{ReadOnly: true}, s.timeout)
}

func (s *Store) begin(ctx context.Context, pool *sql.DB, opts *sql.TxOptions, timeout time.Duration) (*Tx, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	tx, err := pool.BeginTx(ctx, opts)
	if err != nil {
		cancel()
		return nil, unavailable(fmt.Errorf("begin transaction: %w", err))
	}
	return &Tx{tx: tx, ctx: ctx, cancel: cancel, pool: pool, store: s, now: s.now()}, nil
}

// now reads the clock, in UTC, at the precision times are stored with.
func (s *Store) now() time.Time {
	return s.clock().UTC().Truncate(time.Microsecond)
}

// Commit logs the key changes the transaction made (see logChanges),
// commits, then tells the change feed's subscribers about them. They are
// told on a failed commit too: a commit whose answer was lost may have
// happened, and telling them of a change that did not is harmless.
func (tx *Tx) Commit() error {
	defer tx.cancel()
	if len(tx.changes) > 0 {
		if err := tx.logChanges(); err != nil {
			return err
		}
	}
	if err := tx.tx.Commit(); err != nil {
		tx.store.feed.publish(tx.changes)
		return unavailable(fmt.Errorf("commit: %w", err))
	}
	tx.store.feed.publish(tx.changes)
	return nil
}

// Rollback aborts the transaction; after Commit it does nothing.
func (tx *Tx) Rollback() error {
	defer tx.cancel()
	return tx.tx.Rollback()
}

// The statement helpers run under the transaction's ctx, whatever ctx they
// are handed: it is the caller's with the store's deadline added.

func (tx *Tx) exec(_ context.Context, q string, args ...any) (sql.Result, error) {
	res, err := tx.tx.ExecContext(tx.ctx, tx.store.dialect.rebind(q), args...)
	return res, unavailable(err)
}

// stmt returns q, one of hotQueries, bound to the transaction, or nil
// before Migrate has prepared it. The statement was prepared once for the
// transaction's pool; database/sql prepares it at most once more on each
// connection, where every later transaction reuses it. Parsing costs more
// than running the short queries of cold verifications.
func (tx *Tx) stmt(ctx context.Context, q string) *sql.Stmt {
	s := tx.store
	s.stmtsMu.Lock()
	st := s.stmts[stmtKey{tx.pool, q}]
	s.stmtsMu.Unlock()
	if st == nil {
		return nil
	}
	return tx.tx.StmtContext(tx.ctx, st)
}

// queryCached and queryRowCached are query and queryRow through tx.stmt.
func (tx *Tx) queryCached(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if st := tx.stmt(ctx, q); st != nil {
		rows, err := st.QueryContext(tx.ctx, args...)
		return rows, unavailable(err)
	}
	return tx.query(ctx, q, args...)
}

func (tx *Tx) queryRowCached(ctx context.Context, q string, args ...any) row {
	if st := tx.stmt(ctx, q); st != nil {
		return row{st.QueryRowContext(tx.ctx, args...)}
	}
	return tx.queryRow(ctx, q, args...)
}

// prepare prepares q for use within the transaction; the caller closes it.
func (tx *Tx) prepare(_ context.Context, q string) (*sql.Stmt, error) {
	st, err := tx.tx.PrepareContext(tx.ctx, tx.store.dialect.rebind(q))
	return st, unavailable(err)
}

func (tx *Tx) query(_ context.Context, q string, args ...any) (*sql.Rows, error) {
	rows, err := tx.tx.QueryContext(tx.ctx, tx.store.dialect.rebind(q), args...)
	return rows, unavailable(err)
}

func (tx *Tx) queryRow(_ context.Context, q string, args ...any) row {
	return row{tx.tx.QueryRowContext(tx.ctx, tx.store.dialect.rebind(q), args...)}
}

// row is a *sql.Row whose Scan reports an unreachable database as
// unavailable.
type row struct{ r *sql.Row }

// Scan scans the row as sql.Row.Scan does.
func (r row) Scan(dest ...any) error { return unavailable(r.r.Scan(dest...)) }

// rowsErr is rows.Err, with an unreachable database as unavailable.
func rowsErr(rows *sql.Rows) error { return unavailable(rows.Err()) }

// Time conversions: every time is stored as unix microseconds in UTC.

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

func nullMicros(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMicro()
}

func timePtr(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMicros(v.Int64)
	return &t
}

func nullString(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}

func stringPtr(v sql.NullString) *string {
	if !v.Valid {
		return nil
	}
	return &v.String
}

func nullInt(i *int64) any {
	if i == nil {
		return nil
	}
	return *i
}

func intPtr(v sql.NullInt64) *int64 {
	if !v.Valid {
		return nil
	}
	return &v.Int64
}

// placeholders returns "?, ?, …" for n values.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}
