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

// nullMicros is micros of t, or NULL for nil.
func nullMicros(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMicro()
}

// timePtr is the time a nullable microseconds column holds, or nil.
func timePtr(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMicros(v.Int64)
	return &t
}

// nullString is *s, or NULL for nil.
func nullString(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}

// stringPtr is the string a nullable column holds, or nil.
func stringPtr(v sql.NullString) *string {
	if !v.Valid {
		return nil
	}
	return &v.String
}

// nullInt is *i, or NULL for nil.
func nullInt(i *int64) any {
	if i == nil {
		return nil
	}
	return *i
}

// intPtr is the integer a nullable column holds, or nil.
func intPtr(v sql.NullInt64) *int64 {
	if !v.Valid {
		return nil
	}
	return &v.Int64
}
