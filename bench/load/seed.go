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

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver latchkey uses

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

// Rows per INSERT statement: 7 (keys) and 4 (key_secrets) parameters a row,
// well under SQLite's 32766 parameter limit.
const seedRowsPerStmt = 500

// seedKeys inserts n api keys, each with one real secret (latchkey.NewSecret
// and its SHA-256), into the default account of the SQLite file at path,
// straight through database/sql in transactions of txKeys keys. The store
// must be migrated and bootstrapped, and no server may be writing to it. It
// keeps up to keep secrets, every n/keep-th one.
func seedKeys(ctx context.Context, path string, n, keep, txKeys int) (*seedStats, error) {
	q := url.Values{}
	for _, p := range []string{"busy_timeout(10000)", "synchronous(OFF)", "cache_size(-262144)", "foreign_keys(OFF)", "temp_store(MEMORY)"} {
		q.Add("_pragma", p)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)

	var accountID int64
	var prefix string
	if err := db.QueryRowContext(ctx, `SELECT id, key_prefix FROM accounts WHERE name = ?`, latchkey.DefaultAccountName).Scan(&accountID, &prefix); err != nil {
		return nil, fmt.Errorf("find the default account (is the store bootstrapped?): %w", err)
	}
	// No journal while seeding: the store is a throwaway bench file and no
	// server has it open. WAL is switched back on at the end, as latchkey
	// expects (it also sets WAL itself when it opens the file).
	var mode string
	if err := db.QueryRowContext(ctx, `PRAGMA journal_mode = OFF`).Scan(&mode); err != nil {
		return nil, fmt.Errorf("journal_mode: %w", err)
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
	fullKeys, err := db.PrepareContext(ctx, sqlKeys(chunk))
	if err != nil {
		return nil, err
	}
	defer fullKeys.Close()
	fullSecrets, err := db.PrepareContext(ctx, sqlSecrets(chunk))
	if err != nil {
		return nil, err
	}
	defer fullSecrets.Close()
	prepare := func(tx *sql.Tx, rows int) (k, s *sql.Stmt, err error) {
		if rows == chunk {
			return tx.StmtContext(ctx, fullKeys), tx.StmtContext(ctx, fullSecrets), nil
		}
		if k, err = tx.PrepareContext(ctx, sqlKeys(rows)); err != nil {
			return nil, nil, err
		}
		s, err = tx.PrepareContext(ctx, sqlSecrets(rows))
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
	if err := db.QueryRowContext(ctx, `PRAGMA journal_mode = WAL`).Scan(&mode); err != nil || mode != "wal" {
		return nil, fmt.Errorf("back to WAL: %q, %v", mode, err)
	}
	st.elapsed = time.Since(t0)
	return st, nil
}
