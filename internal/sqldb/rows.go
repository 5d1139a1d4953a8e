// The error shapes every query helper shares: a missing row, a taken
// unique name, and a statement's count of changed rows.

package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/latchkey/latchkey"
)

// rowErr is the error of a query for one row: no row is not_found with the
// formatted message, any other error is wrapped with what; nil stays nil.
func rowErr(err error, what, format string, args ...any) error {
	if errors.Is(err, sql.ErrNoRows) {
		return latchkey.Errorf(latchkey.ENOTFOUND, format, args...)
	} else if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// insertErr is the error of an insert: a unique violation is a conflict
// with the formatted message, any other error is wrapped with what; nil
// stays nil.
func insertErr(err error, what, format string, args ...any) error {
	if isUniqueViolation(err) {
		return latchkey.Errorf(latchkey.ECONFLICT, format, args...)
	} else if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// execCount runs a statement and reports how many rows it changed; what
// names it in errors.
func execCount(ctx context.Context, tx *Tx, what, q string, args ...any) (int64, error) {
	res, err := tx.exec(ctx, q, args...)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	return n, nil
}
