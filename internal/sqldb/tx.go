// Tx, how transactions begin, and the statement helpers (their statement
// cache is in stmt.go).

package sqldb

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
)

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

// write runs fn in a write transaction and commits it unless fn fails:
// the shape of every public method that writes.
func (s *Store) write(ctx context.Context, fn func(tx *Tx) error) error {
	_, err := writeTx(ctx, s, func(tx *Tx) (struct{}, error) { return struct{}{}, fn(tx) })
	return err
}

// writeTx is write for an fn with a result.
func writeTx[T any](ctx context.Context, s *Store, fn func(tx *Tx) (T, error)) (T, error) {
	v, _, err := writeTx2(ctx, s, func(tx *Tx) (T, struct{}, error) {
		v, err := fn(tx)
		return v, struct{}{}, err
	})
	return v, err
}

// readTx runs fn in a read-only transaction, so its several queries see
// one snapshot, and returns what fn returns: the shape of every public
// method that only reads.
func readTx[T any](ctx context.Context, s *Store, fn func(tx *Tx) (T, error)) (T, error) {
	v, _, err := readTx2(ctx, s, func(tx *Tx) (T, struct{}, error) {
		v, err := fn(tx)
		return v, struct{}{}, err
	})
	return v, err
}

// writeTx2 is write for an fn with two results (a key and its secret, a
// page and its cursor), which it returns once the transaction has
// committed: zero values on any error.
//
// A transaction PostgreSQL aborted as a deadlock victim or a serialization
// failure is run again, up to writeAttempts times in all: the other
// transaction has gone on, and running fn afresh is what the caller would
// do.
func writeTx2[A, B any](ctx context.Context, s *Store, fn func(tx *Tx) (A, B, error)) (A, B, error) {
	for attempt := 1; ; attempt++ {
		a, b, err := writeOnce(ctx, s, fn)
		if err == nil || attempt == writeAttempts || !isRetryable(err) || ctx.Err() != nil {
			return a, b, err
		}
	}
}

// writeAttempts bounds the runs of a write transaction PostgreSQL aborted
// to break a deadlock or a serialization conflict.
const writeAttempts = 3

// writeOnce is one run of writeTx2's transaction.
func writeOnce[A, B any](ctx context.Context, s *Store, fn func(tx *Tx) (A, B, error)) (A, B, error) {
	var a0 A
	var b0 B
	if s.writer != nil { // SQLite: group commit (writer.go)
		var a A
		var b B
		err := s.writer.do(ctx, func(tx *Tx) (err error) {
			a, b, err = fn(tx)
			return err
		})
		if err != nil {
			return a0, b0, err
		}
		return a, b, nil
	}
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return a0, b0, err
	}
	defer tx.Rollback()
	a, b, err := fn(tx)
	if err != nil {
		return a0, b0, err
	}
	if err := tx.Commit(); err != nil {
		return a0, b0, err
	}
	return a, b, nil
}

// readTx2 is readTx for an fn with two results.
func readTx2[A, B any](ctx context.Context, s *Store, fn func(tx *Tx) (A, B, error)) (A, B, error) {
	tx, err := s.beginRead(ctx)
	if err != nil {
		var a0 A
		var b0 B
		return a0, b0, err
	}
	defer tx.Rollback()
	return fn(tx)
}

// begin starts a transaction on pool under timeout, reading the clock once.
func (s *Store) begin(ctx context.Context, pool *sql.DB, opts *sql.TxOptions, timeout time.Duration) (*Tx, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	tx, err := pool.BeginTx(ctx, opts)
	if err != nil {
		cancel()
		return nil, unavailable(fmt.Errorf("begin transaction: %w", err))
	}
	return &Tx{tx: tx, ctx: ctx, cancel: cancel, pool: pool, store: s, now: s.now()}, nil
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

// exec runs a statement that returns no rows.
func (tx *Tx) exec(_ context.Context, q string, args ...any) (sql.Result, error) {
	if st := tx.lookup(q); st != nil {
		res, err := st.ExecContext(tx.ctx, args...)
		return res, unavailable(err)
	}
	res, err := tx.tx.ExecContext(tx.ctx, tx.store.dialect.rebind(q), args...)
	return res, unavailable(err)
}

// queryCached and queryRowCached are query and queryRow: every helper
// goes through the statement cache now (see stmt.go).
func (tx *Tx) queryCached(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return tx.query(ctx, q, args...)
}

func (tx *Tx) queryRowCached(ctx context.Context, q string, args ...any) row {
	return tx.queryRow(ctx, q, args...)
}

// prepare prepares q for use within the transaction; the caller closes it.
func (tx *Tx) prepare(_ context.Context, q string) (*sql.Stmt, error) {
	st, err := tx.tx.PrepareContext(tx.ctx, tx.store.dialect.rebind(q))
	return st, unavailable(err)
}

// query runs a query that returns rows.
func (tx *Tx) query(_ context.Context, q string, args ...any) (*sql.Rows, error) {
	if st := tx.lookup(q); st != nil {
		rows, err := st.QueryContext(tx.ctx, args...)
		return rows, unavailable(err)
	}
	rows, err := tx.tx.QueryContext(tx.ctx, tx.store.dialect.rebind(q), args...)
	return rows, unavailable(err)
}

// queryRow runs a query that returns at most one row.
func (tx *Tx) queryRow(_ context.Context, q string, args ...any) row {
	if st := tx.lookup(q); st != nil {
		return row{st.QueryRowContext(tx.ctx, args...)}
	}
	return row{tx.tx.QueryRowContext(tx.ctx, tx.store.dialect.rebind(q), args...)}
}

// row is a *sql.Row whose Scan reports an unreachable database as
// unavailable.
type row struct{ r *sql.Row }

// Scan scans the row as sql.Row.Scan does.
func (r row) Scan(dest ...any) error { return unavailable(r.r.Scan(dest...)) }

// rowsErr is rows.Err, with an unreachable database as unavailable.
func rowsErr(rows *sql.Rows) error { return unavailable(rows.Err()) }

// scanner is a *sql.Row, a *sql.Rows or a row.
type scanner = interface{ Scan(dest ...any) error }

// collect reads every row of a query's result with scan and closes rows;
// err is the query's. what names the query in errors. The list is empty,
// not nil, without rows.
func collect[T any](rows *sql.Rows, err error, what string, scan func(scanner) (T, error)) ([]T, error) {
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	list := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		list = append(list, v)
	}
	if err := rowsErr(rows); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return list, nil
}

// placeholders returns "?, ?, …" for n values.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}
