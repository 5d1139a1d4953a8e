// The PostgreSQL half of the change feed (see feed.go): the feed
// connection that LISTENs and applies other instances' changes from the log.

package sqldb

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey"
)

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
)

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
