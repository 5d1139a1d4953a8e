package sqldb

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey"
)

// This file is the change feed: how every instance learns of key mutations.
//
// A write transaction that changes keys takes the next numbers from
// change_seq and writes one change_log row per key before it commits. The
// row lock on change_seq makes the numbers gapless and ordered as the
// commits are. On PostgreSQL the transaction also queues a NOTIFY carrying
// the numbers, which the server delivers at commit.
//
// In the process, Commit hands the changes to the subscribers at once. On
// PostgreSQL every Store also keeps a feed connection that LISTENs and
// applies other instances' changes in number order from the log. It catches
// up from the last number it applied whenever it (re)connects, whenever a
// notification is ahead of it, and on a heartbeat every feedHeartbeat, so a
// lost notification or a lost connection delays a change but never loses
// it. Where the log no longer reaches back (trimmed while the instance was
// cut off for longer than changeLogKeep), the subscribers are told that
// every key changed.

const (
	// feedHeartbeat is how long the feed waits for a notification before
	// it asks the store for the newest change number itself.
	feedHeartbeat = time.Second
	// feedQueryTimeout bounds each query of the feed connection, and its
	// connecting.
	feedQueryTimeout = 2 * time.Second
	// feedMaxBackoff bounds the wait between reconnection attempts, so the
	// feed is back within about a second of the store.
	feedMaxBackoff = time.Second
	// replayBatch is how many log rows one catch-up query reads.
	replayBatch = 5000
	// logChunk is how many log rows one INSERT writes.
	logChunk = 500
	// changeLogKeep is how long change_log rows are kept (see TrimChanges).
	changeLogKeep = time.Hour
)

// feed is the in-process side of the change feed: the subscribers, and the
// state of the connection that hears other instances.
type feed struct {
	mu   sync.RWMutex
	subs map[int]func(latchkey.KeyChange)
	next int

	shared     bool   // a feed connection runs (PostgreSQL)
	epoch      string // of change_seq, read at start; owned by feedLoop after it
	connected  atomic.Bool
	applied    atomic.Int64
	head       atomic.Int64
	lastHeard  atomic.Int64 // unix microseconds
	replays    atomic.Int64
	cacheDrops atomic.Int64
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

// FeedStatus reports the feed connection's state, for metrics and
// readiness.
func (s *Store) FeedStatus() latchkey.FeedStatus {
	f := &s.feed
	st := latchkey.FeedStatus{
		Shared:     f.shared,
		Connected:  f.connected.Load(),
		Applied:    f.applied.Load(),
		Head:       f.head.Load(),
		Replays:    f.replays.Load(),
		CacheDrops: f.cacheDrops.Load(),
	}
	if us := f.lastHeard.Load(); us != 0 {
		st.LastHeard = fromMicros(us)
	}
	return st
}

// keyChanged records that the key's verifiable state changed; Commit logs
// and announces it.
func (tx *Tx) keyChanged(ctx context.Context, accountID, keyID int64) error {
	for _, c := range tx.changes {
		if c.KeyID == keyID {
			return nil
		}
	}
	tx.changes = append(tx.changes, latchkey.KeyChange{AccountID: accountID, KeyID: keyID})
	return nil
}

// logChanges numbers the transaction's changes and writes them to the
// change log, and on PostgreSQL queues the NOTIFY that carries their
// numbers. It runs last before the commit: the change_seq row it locks is
// held until then, and every key mutation waits for it, so PostgreSQL does
// it all in one statement (one round trip under the lock).
func (tx *Tx) logChanges() error {
	s, ctx, n := tx.store, tx.ctx, int64(len(tx.changes))
	if s.dialect == postgresDialect {
		accounts, keys := make([]int64, n), make([]int64, n)
		for i, c := range tx.changes {
			accounts[i], keys[i] = c.AccountID, c.KeyID
		}
		var ok bool
		if err := tx.queryRow(ctx, pgLogChanges, n, accounts, keys, s.instance, s.channel).Scan(&ok); err != nil {
			return fmt.Errorf("log key changes: %w", err)
		}
		return nil
	}
	var last int64
	if err := tx.queryRow(ctx, `UPDATE change_seq SET seq = seq + ? WHERE id = 1 RETURNING seq`, n).Scan(&last); err != nil {
		return fmt.Errorf("number key changes: %w", err)
	}
	first := last - n + 1
	for i := 0; i < len(tx.changes); i += logChunk {
		chunk := tx.changes[i:min(i+logChunk, len(tx.changes))]
		args := make([]any, 0, 5*len(chunk))
		for j, c := range chunk {
			args = append(args, first+int64(i+j), c.AccountID, c.KeyID, s.instance, micros(tx.now))
		}
		q := `INSERT INTO change_log (seq, account_id, key_id, origin, created_at) VALUES ` +
			strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?), ", len(chunk)), ", ")
		if _, err := tx.exec(ctx, q, args...); err != nil {
			return fmt.Errorf("log key changes: %w", err)
		}
	}
	return nil
}

// TrimChanges deletes change-log rows older than changeLogKeep and returns
// how many it deleted. An instance cut off for longer than that drops its
// whole cache when it is back instead of replaying. On PostgreSQL the rows
// are stamped and judged by the database's clock, so an instance whose
// clock runs ahead cannot trim what others still need.
func (s *Store) TrimChanges(ctx context.Context) (int64, error) {
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	q, arg := `DELETE FROM change_log WHERE created_at < ?`, any(micros(tx.now.Add(-changeLogKeep)))
	if s.dialect == postgresDialect {
		q, arg = `DELETE FROM change_log WHERE created_at < `+pgNowMicros+` - ?`, changeLogKeep.Microseconds()
	}
	res, err := tx.exec(ctx, q, arg)
	if err != nil {
		return 0, fmt.Errorf("trim change log: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, tx.Commit()
}

// startFeed sets up the feed connection of a PostgreSQL store: its channel
// (per schema, so deployments sharing a database in different schemas do
// not hear each other), this store's id (so it skips its own changes, which
// Commit already published), and the number it starts from. The loop runs
// until Close.
func (s *Store) startFeed(ctx context.Context, cfg *pgx.ConnConfig) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var schema string
	if err := s.db.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return unavailable(fmt.Errorf("read current schema: %w", err))
	}
	s.channel = feedChannel(schema)
	s.feed.shared = true
	lctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.feedLoop(lctx, cfg)
	}()
	prev := s.closeFn
	s.closeFn = func() { cancel(); <-done; prev() }
	return nil
}

// feedChannel names the NOTIFY channel of a schema: a hash, so that any
// schema name fits PostgreSQL's 63 bytes whole and no two schemas share one.
func feedChannel(schema string) string {
	h := sha256.Sum256([]byte(schema))
	return "latchkey_keys_" + hex.EncodeToString(h[:12])
}

// newInstanceID names this Store in the change log.
func newInstanceID() string {
	var id [8]byte
	if _, err := rand.Read(id[:]); err != nil {
		panic(fmt.Sprintf("instance id: %v", err)) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(id[:])
}

// startAt sets the number the feed starts from: the newest change when the
// store was opened, before anything was cached. It runs after Migrate.
func (s *Store) startAt(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var head int64
	if err := s.db.QueryRowContext(ctx, `SELECT seq, epoch FROM change_seq WHERE id = 1`).Scan(&head, &s.feed.epoch); err != nil {
		return unavailable(fmt.Errorf("read change log: %w", err))
	}
	s.feed.applied.Store(head)
	s.feed.head.Store(head)
	return nil
}

// feedLoop keeps the feed connection up and applies changes until ctx ends.
func (s *Store) feedLoop(ctx context.Context, cfg *pgx.ConnConfig) {
	var conn *pgx.Conn
	defer func() {
		if conn != nil {
			conn.Close(context.Background())
		}
	}()
	lost := time.Time{} // when the connection was lost; zero while up
	const minBackoff = 50 * time.Millisecond
	backoff := minBackoff
	// drop closes the connection, logs the loss once, and waits before the
	// next attempt, longer each time until a catch-up succeeds: a store
	// that accepts connections but fails queries is not hammered.
	drop := func(err error) {
		if conn != nil {
			conn.Close(context.Background())
			conn = nil
		}
		if s.feed.connected.Swap(false) || lost.IsZero() {
			lost = time.Now()
			s.logger.Warn("change feed lost; cached keys are served until it is back, then changes are replayed", "err", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, feedMaxBackoff)
	}
	for ctx.Err() == nil {
		if conn == nil {
			c, err := s.feedConnect(ctx, cfg)
			if err != nil {
				drop(err)
				continue
			}
			conn = c
		}
		before := s.feed.applied.Load()
		if err := s.catchUp(ctx, conn); err != nil {
			if ctx.Err() == nil {
				drop(err)
			}
			continue
		}
		backoff = minBackoff
		if !s.feed.connected.Swap(true) {
			if lost.IsZero() {
				s.logger.Debug("change feed connected", "applied", s.feed.applied.Load())
			} else {
				s.logger.Info("change feed back", "down_for", time.Since(lost).Round(time.Millisecond).String(),
					"replayed", s.feed.applied.Load()-before)
			}
			lost = time.Time{}
		}
		wctx, cancel := context.WithTimeout(ctx, feedHeartbeat)
		_, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			// Only a wake-up: catchUp reads what there is from the log.
			s.feed.lastHeard.Store(micros(time.Now()))
		case ctx.Err() != nil:
			return
		case errors.Is(err, context.DeadlineExceeded) && !conn.IsClosed():
			// No notification for a heartbeat: catchUp asks the store.
		default:
			drop(err)
		}
	}
}

// feedConnect opens the feed connection and LISTENs.
func (s *Store) feedConnect(ctx context.Context, cfg *pgx.ConnConfig) (*pgx.Conn, error) {
	cctx, cancel := context.WithTimeout(ctx, feedQueryTimeout)
	defer cancel()
	conn, err := pgx.ConnectConfig(cctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect change feed: %w", err)
	}
	if _, err := conn.Exec(cctx, "LISTEN "+pgx.Identifier{s.channel}.Sanitize()); err != nil {
		conn.Close(context.Background())
		return nil, fmt.Errorf("listen for key changes: %w", err)
	}
	return conn, nil
}

// catchUp reads the newest change number and applies, in order, every
// change after the last one applied. When the log no longer holds the next
// number, it tells the subscribers that every key changed and starts from
// the newest number.
func (s *Store) catchUp(ctx context.Context, conn *pgx.Conn) error {
	qctx, cancel := context.WithTimeout(ctx, feedQueryTimeout)
	defer cancel()
	var head int64
	var epoch string
	if err := conn.QueryRow(qctx, `SELECT seq, epoch FROM change_seq WHERE id = 1`).Scan(&head, &epoch); err != nil {
		return fmt.Errorf("read change log head: %w", err)
	}
	s.feed.lastHeard.Store(micros(time.Now()))
	s.feed.head.Store(head)
	if applied := s.feed.applied.Load(); epoch != s.feed.epoch || head < applied {
		// Not the numbering this instance applied from: the database was
		// restored, failed over to a standby that lacks the last commits,
		// or made anew. Nothing it remembers can be trusted.
		s.logger.Warn("the change log was reset under this instance (a restore, a failover or a new database); dropping every cached key",
			"applied", applied, "head", head)
		s.feed.epoch = epoch
		s.feed.cacheDrops.Add(1)
		s.feed.applied.Store(head)
		s.feed.publish([]latchkey.KeyChange{{All: true}})
		return nil
	}
	replayed := false // counted once per catch-up
	for applied := s.feed.applied.Load(); applied < head; applied = s.feed.applied.Load() {
		rows, err := conn.Query(qctx, `SELECT seq, account_id, key_id, origin FROM change_log WHERE seq > $1 ORDER BY seq LIMIT $2`, applied, replayBatch)
		if err != nil {
			return fmt.Errorf("read change log: %w", err)
		}
		var changes []latchkey.KeyChange
		next := applied + 1
		gap := false
		for rows.Next() {
			var seq int64
			var c latchkey.KeyChange
			var origin string
			if err := rows.Scan(&seq, &c.AccountID, &c.KeyID, &origin); err != nil {
				rows.Close()
				return fmt.Errorf("read change log: %w", err)
			}
			if seq != next {
				gap = true
				break
			}
			next++
			if origin != s.instance {
				changes = append(changes, c)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read change log: %w", err)
		}
		if gap || next == applied+1 {
			// The log was trimmed past what this instance applied.
			s.logger.Warn("change log no longer reaches back to the last change applied; dropping every cached key",
				"applied", applied, "head", head)
			// The state is set before the subscribers hear, so one that
			// reads FeedStatus when told finds it current.
			s.feed.cacheDrops.Add(1)
			s.feed.applied.Store(head)
			s.feed.publish([]latchkey.KeyChange{{All: true}})
			return nil
		}
		if !replayed {
			s.feed.replays.Add(1)
			replayed = true
		}
		s.feed.applied.Store(next - 1)
		s.feed.publish(changes)
	}
	return nil
}
