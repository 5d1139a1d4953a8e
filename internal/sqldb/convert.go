// Converters between Go values and columns: times as unix microseconds
// in UTC, and nullable values as pointers.

package sqldb

import (
	"database/sql"
	"time"
)

// micros is how a time is stored: unix microseconds.
func micros(t time.Time) int64 { return t.UnixMicro() }

// fromMicros is the UTC time of stored unix microseconds.
func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

// scanCreated scans r into dest and then a created_at column into
// *created: the tail every row with a creation time shares.
func scanCreated(r scanner, created *time.Time, dest ...any) error {
	var at int64
	if err := r.Scan(append(dest, &at)...); err != nil {
		return err
	}
	*created = fromMicros(at)
	return nil
}

// nullMicros is micros of t, or NULL for nil.
func nullMicros(t *time.Time) any {
	if t == nil {
		return nil
	}
	return micros(*t)
}

// timePtr is the time a nullable microseconds column holds, or nil.
func timePtr(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMicros(v.Int64)
	return &t
}

// nullable is *p, or NULL for nil: the one conversion of an optional
// value to a column.
func nullable[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// nullString is *s, or NULL for nil.
func nullString(s *string) any { return nullable(s) }

// nullInt is *i, or NULL for nil.
func nullInt(i *int64) any { return nullable(i) }

// stringPtr is the string a nullable column holds, or nil.
func stringPtr(v sql.NullString) *string { return validPtr(v.String, v.Valid) }

// intPtr is the integer a nullable column holds, or nil.
func intPtr(v sql.NullInt64) *int64 { return validPtr(v.Int64, v.Valid) }

// validPtr is &v when the column held a value, nil for NULL.
func validPtr[T any](v T, valid bool) *T {
	if !valid {
		return nil
	}
	return &v
}
