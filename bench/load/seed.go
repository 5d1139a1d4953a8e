package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver latchkey uses
	_ "modernc.org/sqlite"             // the "sqlite" database/sql driver latchkey uses

	"github.com/latchkey/latchkey"
)

// seedStats describes a seeding.
type seedStats struct {
	keys    int
	elapsed time.Duration
	sample  []string // secrets kept to verify, spread evenly over the ids
}

type seedKey struct {
	secret string
	hash   latchkey.SecretHash
	start  string
}

// Rows per INSERT statement: 6 (keys) and 4 (key_secrets) parameters a row,
// well under SQLite's 32766 and PostgreSQL's 65535 parameter limits.
const seedRowsPerStmt = 500

// seedKeys inserts n api keys, each with one real secret (latchkey.NewSecret
// and its SHA-256), into the default account of the store at dsn (a SQLite
// file path or a postgres:// URL, as latchkey's --database-url takes them),
// straight through database/sql in transactions of txKeys keys. The store
// must be migrated and bootstrapped, and no server may be writing to it. It
// keeps up to keep secrets, every n/keep-th one.
//
// The SQL is the same on both; only opening, the placeholders and what is
// done before and after differ (see seedDB).
func seedKeys(ctx context.Context, dsn string, n, keep, txKeys int) (*seedStats, error) {
	sdb, err := openSeedDB(dsn)
	if err != nil {
		return nil, err
	}
	db := sdb.db
	defer db.Close()
	db.SetMaxOpenConns(1)

	var accountID int64
	var prefix string
	if err := db.QueryRowContext(ctx, sdb.bind(`SELECT id, key_prefix FROM accounts WHERE name = ?`), latchkey.DefaultAccountName).Scan(&accountID, &prefix); err != nil {
		return nil, fmt.Errorf("find the default account (is the store bootstrapped?): %w", err)
	}
	if err := sdb.before(ctx); err != nil {
		return nil, err
	}
	var maxID int64
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) FROM keys`).Scan(&maxID); err != nil {
		return nil, err
	}

	t0 := time.Now()
	st := &seedStats{keys: n}
	every := 1
	if keep > 0 && n > keep {
		every = n / keep
	}

	// Secrets come from every core but one; a fresh secret costs a few µs
	// of crypto/rand and big.Int base62.
	gctx, cancel := context.WithCancel(ctx)
	defer cancel()
	const chunk = seedRowsPerStmt
	chunks := make(chan []seedKey, 64)
	var wg sync.WaitGroup
	var nextChunk sync.Mutex
	made := 0
	gens := max(1, runtime.GOMAXPROCS(0)-1)
	for range gens {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				nextChunk.Lock()
				m := min(chunk, n-made)
				made += m
				nextChunk.Unlock()
				if m <= 0 {
					return
				}
				ks := make([]seedKey, m)
				for i := range ks {
					ks[i].secret, ks[i].hash, ks[i].start = latchkey.NewSecret(prefix)
				}
				select {
				case chunks <- ks:
				case <-gctx.Done():
					return
				}
			}
		}()
	}
	go func() { wg.Wait(); close(chunks) }()

	// Statements for full chunks are prepared once, before any transaction
	// holds the one connection; a short last chunk prepares its own.
	sqlKeys := func(rows int) string {
		return `INSERT INTO keys (id, account_id, kind, name, start, created_at, updated_at) VALUES ` +
			strings.TrimSuffix(strings.Repeat("(?, ?, 'api', ?, ?, ?, ?),", rows), ",")
	}
	sqlSecrets := func(rows int) string {
		return `INSERT INTO key_secrets (key_id, hash, start, created_at) VALUES ` +
			strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?),", rows), ",")
	}
	fullKeys, err := db.PrepareContext(ctx, sdb.bind(sqlKeys(chunk)))
	if err != nil {
		return nil, err
	}
	defer fullKeys.Close()
	fullSecrets, err := db.PrepareContext(ctx, sdb.bind(sqlSecrets(chunk)))
	if err != nil {
		return nil, err
	}
	defer fullSecrets.Close()
	prepare := func(tx *sql.Tx, rows int) (k, s *sql.Stmt, err error) {
		if rows == chunk {
			return tx.StmtContext(ctx, fullKeys), tx.StmtContext(ctx, fullSecrets), nil
		}
		if k, err = tx.PrepareContext(ctx, sdb.bind(sqlKeys(rows))); err != nil {
			return nil, nil, err
		}
		s, err = tx.PrepareContext(ctx, sdb.bind(sqlSecrets(rows)))
		return k, s, err
	}

	now := time.Now().UnixMicro()
	id := maxID
	var tx *sql.Tx
	inTx := 0
	var kargs, sargs []any
	for ks := range chunks {
		if tx == nil {
			if tx, err = db.BeginTx(ctx, nil); err != nil {
				return nil, fmt.Errorf("begin: %w", err)
			}
		}
		ks0, ss0, err := prepare(tx, len(ks))
		if err != nil {
			tx.Rollback()
			return nil, fmt.Errorf("prepare: %w", err)
		}
		kargs, sargs = kargs[:0], sargs[:0]
		for i := range ks {
			id++
			k := &ks[i]
			kargs = append(kargs, id, accountID, fmt.Sprintf("seed %d", id), k.start, now, now)
			sargs = append(sargs, id, k.hash[:], k.start, now)
			if int(id-maxID-1)%every == 0 && len(st.sample) < max(keep, 1) {
				st.sample = append(st.sample, k.secret)
			}
		}
		if _, err := ks0.ExecContext(ctx, kargs...); err != nil {
			tx.Rollback()
			return nil, fmt.Errorf("insert keys: %w", err)
		}
		if _, err := ss0.ExecContext(ctx, sargs...); err != nil {
			tx.Rollback()
			return nil, fmt.Errorf("insert key_secrets: %w", err)
		}
		inTx += len(ks)
		if inTx >= txKeys {
			if err := tx.Commit(); err != nil {
				return nil, fmt.Errorf("commit: %w", err)
			}
			tx, inTx = nil, 0
		}
	}
	if tx != nil {
		if err := tx.Commit(); err != nil {
			return nil, fmt.Errorf("commit: %w", err)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if got := id - maxID; got != int64(n) {
		return nil, fmt.Errorf("seeded %d keys, want %d", got, n)
	}
	if err := sdb.after(ctx, id); err != nil {
		return nil, err
	}
	st.elapsed = time.Since(t0)
	return st, nil
}

// seedDB is what seeding does differently on each database.
type seedDB struct {
	db       *sql.DB
	postgres bool
}

// openSeedDB opens a store's database for seeding, SQLite or PostgreSQL
// by its DSN.
func openSeedDB(dsn string) (*seedDB, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			return nil, fmt.Errorf("open postgres: %w", err)
		}
		return &seedDB{db: db, postgres: true}, nil
	}
	q := url.Values{}
	for _, p := range []string{"busy_timeout(10000)", "synchronous(OFF)", "cache_size(-262144)", "foreign_keys(OFF)", "temp_store(MEMORY)"} {
		q.Add("_pragma", p)
	}
	db, err := sql.Open("sqlite", "file:"+dsn+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	return &seedDB{db: db}, nil
}

// bind returns q with its ? placeholders as $1, $2, … on PostgreSQL. The
// seeding SQL has no ? anywhere else.
func (s *seedDB) bind(q string) string {
	if !s.postgres {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// before readies the database for a bulk load. On SQLite: no journal, as
// the store is a throwaway bench file and no server has it open.
func (s *seedDB) before(ctx context.Context) error {
	if s.postgres {
		return nil
	}
	var mode string
	if err := s.db.QueryRowContext(ctx, `PRAGMA journal_mode = OFF`).Scan(&mode); err != nil {
		return fmt.Errorf("journal_mode: %w", err)
	}
	return nil
}

// after leaves the store as latchkey expects it, maxID being the last id
// seeded. On SQLite: WAL again (latchkey also sets it when it opens the
// file). On PostgreSQL: the identity of keys.id moved past the seeded ids,
// which were given explicitly, so the next key created gets a fresh one;
// and statistics, which a bulk load otherwise leaves the planner without
// until autovacuum comes by.
func (s *seedDB) after(ctx context.Context, maxID int64) error {
	if !s.postgres {
		var mode string
		if err := s.db.QueryRowContext(ctx, `PRAGMA journal_mode = WAL`).Scan(&mode); err != nil || mode != "wal" {
			return fmt.Errorf("back to WAL: %q, %v", mode, err)
		}
		return nil
	}
	if _, err := s.db.ExecContext(ctx, `SELECT setval(pg_get_serial_sequence('keys', 'id'), $1)`, maxID); err != nil {
		return fmt.Errorf("move the keys identity past the seeded ids: %w", err)
	}
	if _, err := s.db.ExecContext(ctx, `ANALYZE keys, key_secrets`); err != nil {
		return fmt.Errorf("analyze: %w", err)
	}
	return nil
}
