// Usage: FindUsage's buckets, and FlushUsage, which writes what the verifier
// buffered.

package sqldb

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
)

// FindUsage returns the key's verification counts by outcome in buckets of
// f.Bucket (a minute, an hour or a day, aligned to UTC) from the bucket
// holding f.Since up to f.Until (exclusive), every bucket present, empty ones
// with no counts. A zero Until means now; a zero Since means 60 minutes,
// 24 hours or 30 days before Until. Errors: invalid (bucket, range),
// not_found (key).
func (s *Store) FindUsage(ctx context.Context, accountID, keyID int64, f latchkey.UsageFilter) ([]*latchkey.UsageBucket, error) {
	return readTx(ctx, s, func(tx *Tx) ([]*latchkey.UsageBucket, error) {
		f, err := f.Resolve(tx.now)
		if err != nil {
			return nil, err
		}
		since, until := f.Since, f.Until
		size := f.Bucket.Microseconds()
		first := floorDiv(micros(since), size) * size
		end := micros(until)
		if err := keyExists(ctx, tx, accountID, keyID, false); err != nil {
			return nil, err
		}

		var buckets []*latchkey.UsageBucket
		index := make(map[int64]*latchkey.UsageBucket)
		for t := first; t < end; t += size {
			b := &latchkey.UsageBucket{Start: fromMicros(t), Counts: map[string]int64{}}
			buckets = append(buckets, b)
			index[t] = b
		}
		rows, err := tx.query(ctx, `
			SELECT minute - (minute % ?) AS bucket, code, CAST(SUM(count) AS BIGINT)
			FROM key_usage
			WHERE key_id = ? AND minute >= ? AND minute < ?
			GROUP BY bucket, code`, size, keyID, first, end)
		if err != nil {
			return nil, fmt.Errorf("find usage: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var start, count int64
			var code string
			if err := rows.Scan(&start, &code, &count); err != nil {
				return nil, fmt.Errorf("find usage: %w", err)
			}
			if b := index[start]; b != nil {
				b.Counts[code] += count
				b.Total += count
			}
		}
		if err := rowsErr(rows); err != nil {
			return nil, fmt.Errorf("find usage: %w", err)
		}
		if buckets == nil {
			buckets = []*latchkey.UsageBucket{}
		}
		return buckets, nil
	})
}

// FlushUsage applies a write-behind batch in one transaction: last_used_at
// never moves back; when a key has credits, a refill stamped later than the
// stored one resets them to the refill amount first, then the spend is taken
// off, never below zero; usage counts are added. Keys deleted since are
// skipped. Errors: invalid (negative spend or count).
func (s *Store) FlushUsage(ctx context.Context, b *latchkey.UsageBatch) error {
	if b == nil || len(b.Keys) == 0 && len(b.Counts) == 0 {
		return nil
	}
	ids := make(map[int64]bool)
	for _, u := range b.Keys {
		if u.CreditsSpent < 0 {
			return latchkey.Errorf(latchkey.EINVALID, "usage of key %d: negative credits spent", u.KeyID)
		}
		ids[u.KeyID] = true
	}
	counts := make(map[usageKey]int64)
	for _, c := range b.Counts {
		if c.Count < 0 {
			return latchkey.Errorf(latchkey.EINVALID, "usage of key %d: negative count", c.KeyID)
		}
		if c.Count > 0 {
			counts[usageKey{c.KeyID, micros(c.Minute.UTC().Truncate(time.Minute)), string(c.Code)}] += c.Count
			ids[c.KeyID] = true
		}
	}

	// It locks its keys in id order, but a group commit (writer.go) may
	// hold several keys' rows locked in the order its mutations came: a
	// flush PostgreSQL picks as a deadlock victim runs again, as writes do.
	for attempt := 1; ; attempt++ {
		err := s.flushUsageOnce(ctx, b, ids, counts)
		if err == nil || attempt == writeAttempts || !isRetryable(err) || ctx.Err() != nil {
			return err
		}
	}
}

// flushUsageOnce is one run of FlushUsage's transaction.
func (s *Store) flushUsageOnce(ctx context.Context, b *latchkey.UsageBatch, ids map[int64]bool, counts map[usageKey]int64) error {
	tx, err := s.beginLong(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	keys, err := lockUsageKeys(ctx, tx, ids)
	if err != nil {
		return err
	}
	for _, u := range b.Keys {
		if k := keys[u.KeyID]; k != nil {
			k.apply(u)
		}
	}
	var dirty []int64
	for _, id := range sortedIDs(keys) {
		if keys[id].dirty {
			dirty = append(dirty, id)
		}
	}
	if err := writeUsageStates(ctx, tx, keys, dirty); err != nil {
		return err
	}
	ordered := make([]usageKey, 0, len(counts))
	for c := range counts {
		if keys[c.keyID] != nil { // skip keys deleted since
			ordered = append(ordered, c)
		}
	}
	sort.Slice(ordered, func(i, j int) bool { return ordered[i].less(ordered[j]) })
	if err := addUsageCounts(ctx, tx, ordered, counts); err != nil {
		return err
	}
	return tx.Commit()
}

// flushRows is how many rows one statement of a flush writes: a second of
// verifications over many distinct keys costs a few statements, not two
// per key, and 5 values a row stay far below either database's limit on
// bound parameters.
const flushRows = 500

// writeUsageStates stores last_used_at, the last request (when a newer one
// came) and credits of the keys in ids, in id order.
func writeUsageStates(ctx context.Context, tx *Tx, keys map[int64]*usageState, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	if !tx.store.dialect.updateFrom {
		stmt, err := tx.prepare(ctx, `UPDATE keys SET last_used_at = ?, last_request = COALESCE(?, last_request), credits_remaining = ?, credits_refilled_at = ? WHERE id = ?`)
		if err != nil {
			return fmt.Errorf("flush usage: %w", err)
		}
		defer stmt.Close()
		for _, id := range ids {
			k := keys[id]
			if _, err := stmt.ExecContext(ctx, nullInt(intPtr(k.lastUsed)), k.lastRequest, nullInt(intPtr(k.remaining)), nullInt(intPtr(k.refilledAt)), id); err != nil {
				return fmt.Errorf("flush usage of key %d: %w", id, err)
			}
		}
		return nil
	}
	err := execRows(ctx, tx,
		`WITH v (id, last_used_at, last_request, credits_remaining, credits_refilled_at) AS (VALUES `,
		`(CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS TEXT), CAST(? AS BIGINT), CAST(? AS BIGINT))`,
		`) UPDATE keys SET last_used_at = v.last_used_at, last_request = COALESCE(v.last_request, keys.last_request),
			credits_remaining = v.credits_remaining, credits_refilled_at = v.credits_refilled_at
		FROM v WHERE keys.id = v.id`,
		len(ids), func(args []any, i int) []any {
			k := keys[ids[i]]
			return append(args, ids[i], nullInt(intPtr(k.lastUsed)), k.lastRequest, nullInt(intPtr(k.remaining)), nullInt(intPtr(k.refilledAt)))
		})
	if err != nil {
		return fmt.Errorf("flush usage: %w", err)
	}
	return nil
}

// addUsageCounts adds the counters in order. Each counter appears once, as
// one INSERT may not touch a row twice.
func addUsageCounts(ctx context.Context, tx *Tx, ordered []usageKey, counts map[usageKey]int64) error {
	err := execRows(ctx, tx,
		`INSERT INTO key_usage (key_id, minute, code, count) VALUES `,
		`(?, ?, ?, ?)`,
		` ON CONFLICT (key_id, minute, code) DO UPDATE SET count = key_usage.count + excluded.count`,
		len(ordered), func(args []any, i int) []any {
			c := ordered[i]
			return append(args, c.keyID, c.minute, c.code, counts[c])
		})
	if err != nil {
		return fmt.Errorf("add usage counts: %w", err)
	}
	return nil
}

// execRows runs head + rows copies of row (joined by commas) + tail, in
// statements of at most flushRows rows; appendArgs appends row i's values.
// The statement for a full chunk is prepared once and reused, as parsing
// a statement of hundreds of rows costs as much as running it.
func execRows(ctx context.Context, tx *Tx, head, row, tail string, rows int, appendArgs func(args []any, i int) []any) error {
	var full *sql.Stmt
	defer func() {
		if full != nil {
			full.Close()
		}
	}()
	perRow := strings.Count(row, "?")
	for start := 0; start < rows; start += flushRows {
		n := min(flushRows, rows-start)
		args := make([]any, 0, perRow*n)
		for i := start; i < start+n; i++ {
			args = appendArgs(args, i)
		}
		q := head + repeatRow(row, n) + tail
		var err error
		switch {
		case n < flushRows:
			_, err = tx.exec(ctx, q, args...)
		case full == nil:
			if full, err = tx.prepare(ctx, q); err == nil {
				_, err = full.ExecContext(ctx, args...)
			}
		default:
			_, err = full.ExecContext(ctx, args...)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// repeatRow returns n copies of row joined by commas.
func repeatRow(row string, n int) string {
	var b strings.Builder
	b.Grow(n * (len(row) + 2))
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	return b.String()
}

// usageKey names one usage counter.
type usageKey struct {
	keyID, minute int64
	code          string
}

// less orders usage keys by key, minute and code, so that every flush
// writes its counters in one order.
func (a usageKey) less(b usageKey) bool {
	if a.keyID != b.keyID {
		return a.keyID < b.keyID
	}
	if a.minute != b.minute {
		return a.minute < b.minute
	}
	return a.code < b.code
}

// usageState is the write-behind state of one key as stored.
type usageState struct {
	lastUsed, remaining, refillAmount, refilledAt sql.NullInt64
	lastRequest                                   sql.NullString // set only to write a newer one
	dirty                                         bool
}

// apply folds one KeyUsage into the state.
func (k *usageState) apply(u latchkey.KeyUsage) {
	if !u.LastUsedAt.IsZero() {
		if t := micros(u.LastUsedAt); !k.lastUsed.Valid || t > k.lastUsed.Int64 {
			k.lastUsed, k.dirty = sql.NullInt64{Int64: t, Valid: true}, true
			if u.LastRequest != "" {
				k.lastRequest = sql.NullString{String: u.LastRequest, Valid: true}
			}
		}
	}
	if !k.remaining.Valid { // no credits configured
		return
	}
	if u.RefilledAt != nil && k.refillAmount.Valid {
		if t := micros(*u.RefilledAt); !k.refilledAt.Valid || t > k.refilledAt.Int64 {
			k.remaining.Int64, k.refilledAt, k.dirty = k.refillAmount.Int64, sql.NullInt64{Int64: t, Valid: true}, true
		}
	}
	if u.CreditsSpent > 0 {
		base := u.CreditsBase
		if u.RefilledAt != nil {
			base = u.RefilledAt
		}
		if base != nil && k.refilledAt.Valid && micros(*base) < k.refilledAt.Int64 {
			return // set or refilled since this spend's baseline: the newer value wins
		}
		k.remaining.Int64, k.dirty = max(k.remaining.Int64-u.CreditsSpent, 0), true
	}
}

// lockUsageKeys reads the usage state of the keys that still exist and,
// on PostgreSQL, locks their rows, all in id order, so concurrent flushes
// from several instances cannot deadlock.
func lockUsageKeys(ctx context.Context, tx *Tx, ids map[int64]bool) (map[int64]*usageState, error) {
	list := make([]int64, 0, len(ids))
	for id := range ids {
		list = append(list, id)
	}
	sort.Slice(list, func(i, j int) bool { return list[i] < list[j] })
	keys := make(map[int64]*usageState, len(list))
	const chunk = 500
	for len(list) > 0 {
		n := min(chunk, len(list))
		args := make([]any, n)
		for i, id := range list[:n] {
			args[i] = id
		}
		list = list[n:]
		rows, err := tx.query(ctx, `SELECT id, last_used_at, credits_remaining, credits_refill_amount, credits_refilled_at
			FROM keys WHERE id IN (`+placeholders(n)+`) ORDER BY id`+tx.store.dialect.forUpdate, args...)
		if err != nil {
			return nil, fmt.Errorf("read key usage: %w", err)
		}
		for rows.Next() {
			var id int64
			k := &usageState{}
			if err := rows.Scan(&id, &k.lastUsed, &k.remaining, &k.refillAmount, &k.refilledAt); err != nil {
				rows.Close()
				return nil, fmt.Errorf("read key usage: %w", err)
			}
			keys[id] = k
		}
		rows.Close()
		if err := rowsErr(rows); err != nil {
			return nil, fmt.Errorf("read key usage: %w", err)
		}
	}
	return keys, nil
}

// sortedIDs returns the keys of m in increasing order.
func sortedIDs[V any](m map[int64]V) []int64 {
	ids := make([]int64, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// floorDiv divides rounding toward negative infinity.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
