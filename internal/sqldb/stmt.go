// The statement cache: every statement a transaction runs more than once
// is prepared once per connection, on both dialects.

package sqldb

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
)

// A statement is parsed afresh every time database/sql runs its text
// outside a prepared *sql.Stmt; on SQLite that parse cost more than running
// a write's short statements (a quarter of a PATCH's CPU was
// sqlite3_prepare_v2 of one SELECT). So the helpers of Tx (exec, query,
// queryRow) run a text through a *sql.Stmt once it has been seen twice:
// database/sql prepares that statement at most once on each connection of
// the pool and every later transaction on that connection reuses it.
//
// A *sql.Stmt for a pool is prepared outside any transaction, because
// preparing takes a free connection from the pool and SQLite's write pool
// has only one, which the transaction asking holds. So a text seen for the
// second time is handed to the store's preparer goroutine, which prepares
// it once that connection is free; until then the text runs unprepared.
// The cache holds at most maxStmts texts per store (the queries built with
// a variable number of placeholders would otherwise grow it without end);
// past that, new texts run unprepared, as they did before.

// maxStmts bounds the texts the cache prepares, per store; texts longer
// than maxStmtLen (the multi-row statements of a usage flush, whose row
// count varies) are not cached at all, so neither the cache nor the
// prepared statements on each connection grow large.
const (
	maxStmts   = 512
	maxStmtLen = 4096
)

// stmtCache is the store's prepared statements and the texts waiting for
// the preparer.
type stmtCache struct {
	mu     sync.Mutex
	stmts  map[stmtKey]*sql.Stmt // prepared; nil value: failed, run unprepared
	seen   map[stmtKey]bool      // seen once, not yet asked for
	queued bool                  // the preparer has been started
	want   []stmtKey             // asked for, not yet prepared
	wake   chan struct{}         // signals the preparer (capacity 1)
	stop   chan struct{}         // closed by Close
	done   chan struct{}         // closed when the preparer has returned
	base   context.Context       // the preparer's; cancelled by Close
	cancel context.CancelFunc
}

// stmtKey names a statement prepared on one pool.
type stmtKey struct {
	pool *sql.DB
	q    string
}

// lookup returns the statement prepared for q on the transaction's pool,
// bound to the transaction, or nil if q is not prepared (yet): the caller
// then runs the text itself.
func (tx *Tx) lookup(q string) *sql.Stmt {
	st := tx.store.stmts.get(stmtKey{tx.pool, q})
	if st == nil {
		return nil
	}
	return tx.tx.StmtContext(tx.ctx, st)
}

// get returns the statement prepared for k, or nil, noting the sighting.
func (c *stmtCache) get(k stmtKey) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, ok := c.stmts[k]
	if !ok {
		c.note(k)
	}
	return st
}

// note records one more sighting of k; the second asks the preparer for
// it. The caller holds c.mu.
func (c *stmtCache) note(k stmtKey) {
	if c.wake == nil || len(k.q) > maxStmtLen || len(c.stmts)+len(c.want) >= maxStmts {
		return
	}
	if !c.seen[k] {
		if c.seen == nil {
			c.seen = make(map[stmtKey]bool)
		}
		if len(c.seen) < 2*maxStmts {
			c.seen[k] = true
		}
		return
	}
	delete(c.seen, k)
	c.want = append(c.want, k)
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// startPreparer starts the goroutine that prepares the texts asked for;
// Migrate calls it once the schema is there. Close stops it.
func (s *Store) startPreparer() {
	c := &s.stmts
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.wake != nil {
		return
	}
	if c.stmts == nil {
		c.stmts = make(map[stmtKey]*sql.Stmt)
	}
	c.wake, c.stop, c.done = make(chan struct{}, 1), make(chan struct{}), make(chan struct{})
	c.base, c.cancel = context.WithCancel(context.Background())
	go s.prepareLoop()
}

// prepareLoop prepares each text asked for on its pool, waiting for a free
// connection as any other user of the pool does.
func (s *Store) prepareLoop() {
	c := &s.stmts
	defer close(c.done)
	for {
		select {
		case <-c.stop:
			return
		case <-c.wake:
		}
		for {
			c.mu.Lock()
			if len(c.want) == 0 {
				c.mu.Unlock()
				break
			}
			k := c.want[0]
			c.want = c.want[1:]
			_, have := c.stmts[k]
			c.mu.Unlock()
			if have {
				continue
			}
			ctx, cancel := context.WithTimeout(c.base, s.timeout)
			st, err := k.pool.PrepareContext(ctx, s.dialect.rebind(k.q))
			cancel()
			if err != nil {
				// A text that cannot be prepared (a script of several
				// statements) runs unprepared from now on; a pool that did
				// not answer is asked again at the next sightings.
				if isUnavailable(err) {
					c.mu.Lock()
					select {
					case <-c.stop:
						c.mu.Unlock()
						return
					default:
					}
					c.mu.Unlock()
					continue
				}
				st = nil
			}
			c.mu.Lock()
			select {
			case <-c.stop:
				c.mu.Unlock()
				if st != nil {
					st.Close()
				}
				return
			default:
			}
			if _, have := c.stmts[k]; have {
				if st != nil {
					st.Close()
				}
			} else {
				c.stmts[k] = st
			}
			c.mu.Unlock()
		}
	}
}

// closeStmts stops the preparer and closes every prepared statement.
func (s *Store) closeStmts() {
	c := &s.stmts
	c.mu.Lock()
	stop, done := c.stop, c.done
	c.mu.Unlock()
	if stop != nil {
		close(stop)
		c.cancel()
		<-done
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.stmts {
		if st != nil {
			st.Close()
		}
	}
	c.stmts, c.seen, c.want = nil, nil, nil
}

// hotQueries are the constant queries of cold verifications (and of the
// devices and permissions of one key), prepared at
// Migrate rather than at their second sighting.
func (d *dialect) hotQueries() []string {
	return []string{d.verifyKeyQuery, findDevicesQuery, permissionsOfOneKeyQuery}
}

// prepareHot prepares hotQueries on both pools, once the schema is there,
// and starts the preparer for every other text. It runs outside any
// transaction: preparing on a pool takes one of its connections, and
// SQLite's write pool has only one.
func (s *Store) prepareHot(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	c := &s.stmts
	for _, pool := range []*sql.DB{s.db, s.rdb} {
		for _, q := range s.dialect.hotQueries() {
			k := stmtKey{pool, q}
			c.mu.Lock()
			have := c.stmts[k] != nil
			c.mu.Unlock()
			if have {
				continue
			}
			// Prepared without the lock: preparing waits for a pooled
			// connection, which a transaction in Tx.lookup may hold.
			st, err := pool.PrepareContext(ctx, s.dialect.rebind(q))
			if err != nil {
				return unavailable(fmt.Errorf("prepare: %w", err))
			}
			c.mu.Lock()
			if c.stmts == nil {
				c.stmts = make(map[stmtKey]*sql.Stmt)
			}
			if c.stmts[k] == nil {
				c.stmts[k], st = st, nil
			}
			c.mu.Unlock()
			if st != nil { // another Migrate won
				st.Close()
			}
		}
	}
	s.startPreparer()
	return nil
}
