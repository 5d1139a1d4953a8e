// Group commit: the mutations waiting to write run in one transaction, a
// savepoint each, with one commit.

package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// SQLite has one writer, and every commit in synchronous=FULL mode writes
// the WAL and waits for fsync: alone, each mutation pays a whole commit and
// the next one waits for it. PostgreSQL commits concurrently, but every key
// mutation holds the change_seq row from its numbering to its commit
// (feed.go), so key mutations committed there one at a time, one WAL flush
// each, too. So the public methods that write hand their mutation to the
// store's writer goroutine. The writer takes every mutation waiting at
// that moment (at most maxBatch) and runs them in one transaction, in
// arrival order, each under its own SAVEPOINT: a mutation that fails is
// rolled back to its savepoint, undoing only itself, and the others go on.
// Then the key changes of the mutations that succeeded are numbered and
// logged in one statement, in the order the mutations ran (so the change
// log and the audit log agree), the writer commits once, with one fsync
// and on PostgreSQL one hold of change_seq for the whole batch, and only
// then answers every mutation of the batch: a write is acknowledged only
// once it is durable, as before.
//
// There is no timer: a lone mutation finds the writer idle and runs at
// once, alone and without a savepoint; mutations arriving while a batch
// commits wait for it (as they waited for the connection or the row lock
// before) and form the next batch. A batch ends by the earliest deadline of
// its mutations, each the store's timeout from when it was asked for.
//
// A mutation's statements run under the batch's context, not under its
// caller's: interrupting one statement of a SQLite transaction may roll
// back the whole transaction, the others' work with it. A caller whose
// context has ended before its turn is answered with that error and its
// mutation is not run.

// maxBatch bounds the mutations of one group commit, so the first of them
// does not wait long for the last. It also stays below the 64
// subtransactions PostgreSQL caches per backend: past them, every other
// backend's snapshots get slower (a "suboverflowed" transaction).
const maxBatch = 48

// writer is the goroutine that runs SQLite's write transactions.
type writer struct {
	s     *Store
	queue chan *mutation // unbuffered: a send succeeds only while the writer runs
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once

	batches, mutations atomic.Int64 // run so far: mutations/batches is the mean batch
}

// mutation is one public method's write, waiting for the writer.
type mutation struct {
	ctx      context.Context
	deadline time.Time // the store's timeout, from when it was asked for
	fn       func(tx *Tx) error
	tx       *Tx // its view of the batch's transaction, while it runs
	err      error
	pan      any // fn's panic, raised again in the caller
	done     chan struct{}
}

// startWriter starts the group-commit writer (SQLite). Close stops it.
func (s *Store) startWriter() {
	w := &writer{s: s, queue: make(chan *mutation), stop: make(chan struct{}), done: make(chan struct{})}
	s.writer = w
	go w.loop()
}

// close stops the writer after its current batch; later writes fail as
// unavailable.
func (w *writer) close() {
	w.once.Do(func() { close(w.stop) })
	<-w.done
}

// do runs fn through the writer and returns its error, or the commit's,
// once the batch holding it has committed or rolled back. fn's results are
// valid only when do returns nil.
func (w *writer) do(ctx context.Context, fn func(tx *Tx) error) error {
	m := &mutation{ctx: ctx, deadline: time.Now().Add(w.s.timeout), fn: fn, done: make(chan struct{})}
	select {
	case w.queue <- m:
	case <-w.stop:
		return unavailable(fmt.Errorf("begin transaction: %w", sql.ErrConnDone))
	case <-ctx.Done():
		return unavailable(fmt.Errorf("begin transaction: %w", ctx.Err()))
	}
	<-m.done
	if m.pan != nil {
		panic(m.pan)
	}
	return m.err
}

// loop collects batches and runs them until stop.
func (w *writer) loop() {
	defer close(w.done)
	batch := make([]*mutation, 0, maxBatch)
	for {
		select {
		case m := <-w.queue:
			batch = append(batch[:0], m)
		case <-w.stop:
			return
		}
	collect:
		for len(batch) < maxBatch {
			select {
			case m := <-w.queue:
				batch = append(batch, m)
			default:
				break collect
			}
		}
		w.run(batch)
		clear(batch)
	}
}

// run runs one batch in one transaction and answers each of its mutations.
// A batch of one runs without a savepoint: its failure rolls back the
// transaction, which holds nothing else.
func (w *writer) run(batch []*mutation) {
	s := w.s
	w.batches.Add(1)
	w.mutations.Add(int64(len(batch)))
	fail := func(err error) {
		for _, m := range batch {
			if m.err == nil && m.pan == nil {
				m.err = err
			}
		}
	}
	defer func() {
		for _, m := range batch {
			close(m.done)
		}
	}()
	// The batch ends by the earliest deadline of its mutations, so a write
	// that waited behind a batch the store did not answer is not given a
	// whole timeout more: every write is answered within the store's
	// timeout of being asked for, as when each had its own transaction.
	now := time.Now()
	var deadline time.Time
	for _, m := range batch {
		if !m.deadline.After(now) {
			m.err = unavailable(fmt.Errorf("begin transaction: %w", context.DeadlineExceeded))
		} else if deadline.IsZero() || m.deadline.Before(deadline) {
			deadline = m.deadline
		}
	}
	if deadline.IsZero() {
		return
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	sqltx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		fail(unavailable(fmt.Errorf("begin transaction: %w", err)))
		return
	}
	// On SQLite the statements inside the batch run under a context that
	// never ends, and the batch's deadline is checked before each mutation
	// and before the commit instead. The driver starts a goroutine to
	// watch the context of every statement that has one (to interrupt it),
	// four a PATCH; and once BEGIN IMMEDIATE holds the write lock, which it
	// waits for under the deadline, nothing inside the transaction waits
	// for another process: a statement is CPU and disk only. PostgreSQL's
	// statements wait on the network, so they keep the deadline.
	stmtCtx := ctx
	if s.dialect == sqliteDialect {
		stmtCtx = context.WithoutCancel(ctx)
	}
	lost := func() bool {
		if err := ctx.Err(); err != nil {
			sqltx.Rollback()
			fail(unavailable(fmt.Errorf("write transaction: %w", err)))
			return true
		}
		return false
	}
	savepoints := len(batch) > 1
	open := false        // savepoint m is open, from the mutation before
	var done []*mutation // ran without error, in order
	for _, m := range batch {
		if m.err != nil {
			continue // past its deadline
		}
		if err := m.ctx.Err(); err != nil {
			m.err = unavailable(fmt.Errorf("begin transaction: %w", err))
			continue
		}
		if lost() {
			return
		}
		m.tx = &Tx{tx: sqltx, ctx: stmtCtx, cancel: func() {}, pool: s.db, store: s, now: s.now()}
		if err := w.runOne(m, savepoints, &open); err != nil {
			// The transaction itself is lost: nothing of the batch stays.
			sqltx.Rollback()
			fail(err)
			return
		}
		if m.err == nil && m.pan == nil {
			done = append(done, m)
		}
	}
	if len(done) == 0 {
		sqltx.Rollback()
		return
	}
	// The key changes of the batch are numbered and logged in one
	// statement, in the order the mutations ran, as the last step before
	// the commit (see logChanges).
	if lost() {
		return
	}
	log := &Tx{tx: sqltx, ctx: stmtCtx, cancel: func() {}, pool: s.db, store: s, now: s.now()}
	for _, m := range done {
		log.changes = append(log.changes, m.tx.changes...)
	}
	if len(log.changes) > 0 {
		if err := log.logChanges(); err != nil {
			sqltx.Rollback()
			fail(err)
			return
		}
	}
	cerr := sqltx.Commit()
	for _, m := range done {
		// Told on a failed commit too, as Tx.Commit does: a commit whose
		// answer was lost may have happened.
		s.feed.publish(m.tx.changes)
		if cerr != nil {
			m.err = unavailable(fmt.Errorf("commit: %w", cerr))
		}
	}
}

// runOne runs m, under its savepoint if savepoint. m.err (or m.pan) is
// m's own failure, rolled back to the savepoint; the error returned means
// the transaction cannot go on (without a savepoint, any failure of m).
//
// The savepoint of the mutation before is released in the same round trip
// that opens m's ("RELEASE m; SAVEPOINT m", one simple-protocol exchange on
// PostgreSQL), and the last one is left to the commit: a savepoint costs
// one statement a mutation. *open says whether one is open.
func (w *writer) runOne(m *mutation, savepoint bool, open *bool) error {
	tx := m.tx
	if savepoint {
		q := `SAVEPOINT m`
		if *open {
			if tx.store.dialect == sqliteDialect {
				// Two statements the cache prepares, where the script would
				// be parsed afresh every time (no round trip to save).
				if _, err := tx.exec(tx.ctx, `RELEASE m`); err != nil {
					return fmt.Errorf("savepoint: %w", err)
				}
			} else {
				q = `RELEASE m; SAVEPOINT m`
			}
		}
		if _, err := tx.exec(tx.ctx, q); err != nil {
			return fmt.Errorf("savepoint: %w", err)
		}
		*open = true
	}
	m.err, m.pan = callMutation(m.fn, tx)
	if m.err == nil && m.pan == nil {
		return nil
	}
	tx.changes = nil
	if !savepoint {
		if m.err != nil {
			return m.err
		}
		return errPanicked
	}
	if _, err := tx.exec(tx.ctx, `ROLLBACK TO m`); err != nil {
		return fmt.Errorf("roll back to savepoint: %w", err)
	}
	return nil
}

// errPanicked fails the rest of a batch whose transaction was lost to a
// mutation's panic (never seen by the panicking caller, who gets its panic).
var errPanicked = errors.New("write transaction: another write in it panicked")

// callMutation calls fn, returning its panic instead of raising it in the
// writer.
func callMutation(fn func(tx *Tx) error, tx *Tx) (err error, pan any) {
	defer func() {
		if v := recover(); v != nil {
			err, pan = nil, v
		}
	}()
	return fn(tx), nil
}
