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
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

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
	feed     feed
	closeFn  func() // stops background work started by Open
	closed   sync.Once
	closeErr error

	// PostgreSQL change feed across instances: the NOTIFY channel and this
	// Store's id, so it ignores its own notifications.
	channel, instance string

	stmtsMu sync.Mutex
	stmts   map[stmtKey]*sql.Stmt // see Tx.stmt
}

// stmtKey names a statement prepared on one pool.
type stmtKey struct {
	pool *sql.DB
	q    string
}

// Open opens the store at dsn: a SQLite file path or a postgres:// URL. It
// does not migrate; call Migrate.
func Open(ctx context.Context, dsn string, clock latchkey.Clock) (*Store, error) {
	if clock == nil {
		clock = latchkey.SystemClock
	}
	s := &Store{clock: clock, closeFn: func() {}}
	s.feed.subs = make(map[int]func(latchkey.KeyChange))
	if isPostgresDSN(dsn) {
		db, err := openPostgres(ctx, dsn)
		if err != nil {
			return nil, err
		}
		s.db, s.rdb, s.dialect = db, db, postgresDialect
		if err := s.listen(ctx, dsn); err != nil {
			db.Close()
			return nil, err
		}
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

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.rdb.PingContext(ctx); err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	return nil
}

// Dialect returns "sqlite" or "postgres".
func (s *Store) Dialect() string { return s.dialect.name }

// Migrate applies, in one transaction, every embedded migration of the
// store's dialect not yet recorded in schema_migrations. It is idempotent
// and safe to run from several processes at once.
func (s *Store) Migrate(ctx context.Context) error {
	tx, err := s.beginWrite(ctx)
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
	if err := rows.Err(); err != nil {
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
		if _, err := tx.tx.ExecContext(ctx, string(body)); err != nil {
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
	return s.prepareHot(ctx)
}

// hotQueries are the constant queries of cold verifications, kept prepared
// (see Tx.stmt).
var hotQueries = []string{findVerifyKeyQuery, findDevicesQuery, permissionsOfOneKeyQuery}

// prepareHot prepares hotQueries on both pools, once the schema is there.
// It runs outside any transaction: preparing on a pool takes one of its
// connections, and SQLite's write pool has only one.
func (s *Store) prepareHot(ctx context.Context) error {
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
				return fmt.Errorf("prepare: %w", err)
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
type Tx struct {
	tx      *sql.Tx
	pool    *sql.DB // the pool tx came from
	store   *Store
	now     time.Time
	changes []latchkey.KeyChange
}

// beginWrite starts a write transaction (immediate on SQLite).
func (s *Store) beginWrite(ctx context.Context) (*Tx, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("begin transaction: %w", err)
	}
	return &Tx{tx: tx, pool: s.db, store: s, now: s.now()}, nil
}

// beginRead starts a read-only transaction, so a method's several queries
// see one snapshot.
func (s *Store) beginRead(ctx context.Context) (*Tx, error) {
	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("begin read transaction: %w", err)
	}
	return &Tx{tx: tx, pool: s.rdb, store: s, now: s.now()}, nil
}

// now reads the clock, in UTC, at the precision times are stored with.
func (s *Store) now() time.Time {
	return s.clock().UTC().Truncate(time.Microsecond)
}

// Commit commits the transaction, then tells the change feed's subscribers
// about the key changes it made.
func (tx *Tx) Commit() error {
	if err := tx.tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	tx.store.feed.publish(tx.changes)
	return nil
}

// Rollback aborts the transaction; after Commit it does nothing.
func (tx *Tx) Rollback() error {
	return tx.tx.Rollback()
}

// keyChanged records that the key's verifiable state changed. On
// PostgreSQL it also queues a NOTIFY, which the server delivers to every
// instance at commit.
func (tx *Tx) keyChanged(ctx context.Context, accountID, keyID int64) error {
	c := latchkey.KeyChange{AccountID: accountID, KeyID: keyID}
	tx.changes = append(tx.changes, c)
	return tx.store.notifyOthers(ctx, tx, c)
}

func (tx *Tx) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return tx.tx.ExecContext(ctx, tx.store.dialect.rebind(q), args...)
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
	return tx.tx.StmtContext(ctx, st)
}

// queryCached and queryRowCached are query and queryRow through tx.stmt.
func (tx *Tx) queryCached(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if st := tx.stmt(ctx, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return tx.query(ctx, q, args...)
}

func (tx *Tx) queryRowCached(ctx context.Context, q string, args ...any) *sql.Row {
	if st := tx.stmt(ctx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return tx.queryRow(ctx, q, args...)
}

// prepare prepares q for use within the transaction; the caller closes it.
func (tx *Tx) prepare(ctx context.Context, q string) (*sql.Stmt, error) {
	return tx.tx.PrepareContext(ctx, tx.store.dialect.rebind(q))
}

func (tx *Tx) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return tx.tx.QueryContext(ctx, tx.store.dialect.rebind(q), args...)
}

func (tx *Tx) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return tx.tx.QueryRowContext(ctx, tx.store.dialect.rebind(q), args...)
}

// feed is the in-process side of the change feed.
type feed struct {
	mu   sync.RWMutex
	subs map[int]func(latchkey.KeyChange)
	next int
}

// Subscribe calls fn, synchronously, for every key change after the
// transaction making it has committed (never for one that rolled back),
// including, on PostgreSQL, changes committed by other instances. fn may be
// called from several goroutines at once and must not block for long.
func (s *Store) Subscribe(fn func(latchkey.KeyChange)) (cancel func()) {
	s.feed.mu.Lock()
	defer s.feed.mu.Unlock()
	id := s.feed.next
	s.feed.next++
	s.feed.subs[id] = fn
	return func() {
		s.feed.mu.Lock()
		defer s.feed.mu.Unlock()
		delete(s.feed.subs, id)
	}
}

var _ latchkey.ChangeFeed = (*Store)(nil)

func (f *feed) publish(changes []latchkey.KeyChange) {
	if len(changes) == 0 {
		return
	}
	f.mu.RLock()
	subs := make([]func(latchkey.KeyChange), 0, len(f.subs))
	for _, fn := range f.subs {
		subs = append(subs, fn)
	}
	f.mu.RUnlock()
	for _, c := range changes {
		for _, fn := range subs {
			fn(c)
		}
	}
}

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
