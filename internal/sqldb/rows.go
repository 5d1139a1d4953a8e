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
	return mapErr(err, noRow, latchkey.ENOTFOUND, what, format, args...)
}

// noRow reports whether a query for one row found none.
func noRow(err error) bool { return errors.Is(err, sql.ErrNoRows) }

// insertErr is the error of an insert: a unique violation is a conflict
// with the formatted message, any other error is wrapped with what; nil
// stays nil.
func insertErr(err error, what, format string, args ...any) error {
	return mapErr(err, isUniqueViolation, latchkey.ECONFLICT, what, format, args...)
}

// mapErr is rowErr and insertErr: an err that is expected (a missing row,
// a taken name) becomes an application error of code with the formatted
// message; any other is wrapped with what.
func mapErr(err error, expected func(error) bool, code, what, format string, args ...any) error {
	if err == nil {
		return nil
	} else if expected(err) {
		return latchkey.Errorf(code, format, args...)
	}
	return fmt.Errorf("%s: %w", what, err)
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
