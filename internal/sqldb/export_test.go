package sqldb

import (
	"context"

	"github.com/latchkey/latchkey"
)

// Internals the external tests reach.

// DecodeKeysCursor and EncodeKeysCursor are the keys list's cursor codec.
func DecodeKeysCursor(s string) (int64, error) { return decodeCursor(cursorKeys, s) }
func EncodeKeysCursor(id int64) string         { return encodeCursor(cursorKeys, id) }

// EncodeAuditCursor is the audit list's cursor encoder.
func EncodeAuditCursor(id int64) string { return encodeCursor(cursorAudit, id) }

// Pragma reads a PRAGMA on the write pool and on the read pool (SQLite).
func Pragma(ctx context.Context, s *Store, name string) (write, read string, err error) {
	if err = s.db.QueryRowContext(ctx, "PRAGMA "+name).Scan(&write); err != nil {
		return "", "", err
	}
	err = s.rdb.QueryRowContext(ctx, "PRAGMA "+name).Scan(&read)
	return write, read, err
}

// UpdateKeyRolledBack runs UpdateKey's work in a transaction and rolls it
// back instead of committing, as a mutation failing after its last step.
func UpdateKeyRolledBack(ctx context.Context, s *Store, accountID, id int64, u *latchkey.KeyUpdate) error {
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return err
	}
	if _, err := updateKey(ctx, tx, accountID, id, u, latchkey.ActionKeyUpdate); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Rollback()
}

// Rebind rebinds q for PostgreSQL and for SQLite.
func Rebind(q string) (postgres, sqlite string) {
	return postgresDialect.rebind(q), sqliteDialect.rebind(q)
}

// FlushRows is how many rows one statement of a usage flush writes.
const FlushRows = flushRows
