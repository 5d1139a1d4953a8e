// The change feed's in-process half: subscribers, publishing, and writing
// the change log; listen.go holds the PostgreSQL feed connection.

package sqldb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/latchkey/latchkey"
)

// The change feed is how every instance learns of key mutations.
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

// publish tells every subscriber of every change, in order.
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
	return writeTx(ctx, s, func(tx *Tx) (int64, error) {
		q, arg := `DELETE FROM change_log WHERE created_at < ?`, any(micros(tx.now.Add(-changeLogKeep)))
		if s.dialect == postgresDialect {
			q, arg = `DELETE FROM change_log WHERE created_at < `+pgNowMicros+` - ?`, changeLogKeep.Microseconds()
		}
		res, err := tx.exec(ctx, q, arg)
		if err != nil {
			return 0, fmt.Errorf("trim change log: %w", err)
		}
		n, _ := res.RowsAffected()
		return n, nil
	})
}

// newInstanceID names this Store in the change log.
func newInstanceID() string {
	var id [8]byte
	if _, err := rand.Read(id[:]); err != nil {
		panic(fmt.Sprintf("instance id: %v", err)) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(id[:])
}
