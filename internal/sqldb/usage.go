package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/latchkey/latchkey"
)

// maxUsageBuckets bounds the buckets FindUsage returns.
const maxUsageBuckets = 10000

// FindUsage returns the key's verification counts by outcome in buckets of
// f.Bucket (a minute, an hour or a day, aligned to UTC) from the bucket
// holding f.Since up to f.Until (exclusive), every bucket present, empty ones
// with no counts. A zero Until means now; a zero Since means 60 minutes,
// 24 hours or 30 days before Until. Errors: invalid (bucket, range),
// not_found (key).
func (s *Store) FindUsage(ctx context.Context, accountID, keyID int64, f latchkey.UsageFilter) ([]*latchkey.UsageBucket, error) {
	var span time.Duration
	switch f.Bucket {
	case time.Minute:
		span = time.Hour
	case time.Hour:
		span = 24 * time.Hour
	case 24 * time.Hour:
		span = 30 * 24 * time.Hour
	default:
		return nil, latchkey.FieldError("bucket", "must be minute, hour or day")
	}
	tx, err := s.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()

	until, since := f.Until, f.Since
	if until.IsZero() {
		until = tx.now
	}
	if since.IsZero() {
		since = until.Add(-span)
	}
	if !since.Before(until) {
		return nil, latchkey.FieldError("since", "must be before until")
	}
	size := f.Bucket.Microseconds()
	first := floorDiv(micros(since), size) * size
	end := micros(until)
	if n := (end - first + size - 1) / size; n > maxUsageBuckets {
		return nil, latchkey.FieldError("since", "the range holds %d buckets, more than %d: use a larger bucket or a shorter range", n, maxUsageBuckets)
	}
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
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find usage: %w", err)
	}
	if buckets == nil {
		buckets = []*latchkey.UsageBucket{}
	}
	return buckets, nil
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
	for _, u := range b.Keys {
		if u.CreditsSpent < 0 {
			return latchkey.Errorf(latchkey.EINVALID, "usage of key %d: negative credits spent", u.KeyID)
		}
	}
	type countKey struct {
		keyID, minute int64
		code          string
	}
	counts := make(map[countKey]int64)
	for _, c := range b.Counts {
		if c.Count < 0 {
			return latchkey.Errorf(latchkey.EINVALID, "usage of key %d: negative count", c.KeyID)
		}
		if c.Count > 0 {
			counts[countKey{c.KeyID, micros(c.Minute.UTC().Truncate(time.Minute)), string(c.Code)}] += c.Count
		}
	}
	// A fixed order keeps concurrent flushes on PostgreSQL from deadlocking.
	keys := append([]latchkey.KeyUsage(nil), b.Keys...)
	sort.SliceStable(keys, func(i, j int) bool { return keys[i].KeyID < keys[j].KeyID })
	ordered := make([]countKey, 0, len(counts))
	for k := range counts {
		ordered = append(ordered, k)
	}
	sort.Slice(ordered, func(i, j int) bool {
		a, b := ordered[i], ordered[j]
		if a.keyID != b.keyID {
			return a.keyID < b.keyID
		}
		if a.minute != b.minute {
			return a.minute < b.minute
		}
		return a.code < b.code
	})

	tx, err := s.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, u := range keys {
		if err := flushKeyUsage(ctx, tx, u); err != nil {
			return err
		}
	}
	for _, k := range ordered {
		if _, err := tx.exec(ctx, `
			INSERT INTO key_usage (key_id, minute, code, count)
			SELECT CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS TEXT), CAST(? AS BIGINT)
			WHERE EXISTS (SELECT 1 FROM keys WHERE id = ?)
			ON CONFLICT (key_id, minute, code) DO UPDATE SET count = key_usage.count + excluded.count`,
			k.keyID, k.minute, k.code, counts[k], k.keyID); err != nil {
			return fmt.Errorf("add usage counts: %w", err)
		}
	}
	return tx.Commit()
}

func flushKeyUsage(ctx context.Context, tx *Tx, u latchkey.KeyUsage) error {
	var lastUsed, remaining, refillAmount, refilledAt sql.NullInt64
	err := tx.queryRow(ctx, `SELECT last_used_at, credits_remaining, credits_refill_amount, credits_refilled_at
		FROM keys WHERE id = ?`+tx.store.dialect.forUpdate, u.KeyID).Scan(&lastUsed, &remaining, &refillAmount, &refilledAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil // deleted since it was used
	} else if err != nil {
		return fmt.Errorf("flush usage of key %d: %w", u.KeyID, err)
	}
	if !u.LastUsedAt.IsZero() {
		if t := micros(u.LastUsedAt); !lastUsed.Valid || t > lastUsed.Int64 {
			lastUsed = sql.NullInt64{Int64: t, Valid: true}
		}
	}
	if remaining.Valid {
		if u.RefilledAt != nil && refillAmount.Valid {
			if t := micros(*u.RefilledAt); !refilledAt.Valid || t > refilledAt.Int64 {
				remaining.Int64 = refillAmount.Int64
				refilledAt = sql.NullInt64{Int64: t, Valid: true}
			}
		}
		remaining.Int64 = max(remaining.Int64-u.CreditsSpent, 0)
	}
	if _, err := tx.exec(ctx, `UPDATE keys SET last_used_at = ?, credits_remaining = ?, credits_refilled_at = ? WHERE id = ?`,
		nullInt(intPtr(lastUsed)), nullInt(intPtr(remaining)), nullInt(intPtr(refilledAt)), u.KeyID); err != nil {
		return fmt.Errorf("flush usage of key %d: %w", u.KeyID, err)
	}
	return nil
}

// floorDiv divides rounding toward negative infinity.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
