// Page cursors and page limits of the list methods.

package sqldb

import (
	"encoding/base64"
	"strconv"

	"github.com/latchkey/latchkey"
)

// Pagination is keyset pagination, newest first, on an id: a page holds the
// rows with ids below the cursor's. The cursor is opaque to callers:
// base64url of a one-letter list tag, ':' and the last id of the previous
// page, so a keys cursor is refused by the audit list and the other way round.

// Cursor tags.
const (
	cursorKeys  = 'k'
	cursorAudit = 'a'
)

// Page size bounds.
const (
	defaultLimit = 50
	maxLimit     = 1000
)

// encodeCursor returns the cursor of the page after the row with id.
func encodeCursor(tag byte, id int64) string {
	b := make([]byte, 0, 24)
	b = append(b, tag, ':')
	b = strconv.AppendInt(b, id, 10)
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor returns the id in a cursor from the list tagged tag: 0 for
// "" (the first page), an invalid error naming "cursor" for anything that
// encodeCursor could not have returned. It reads untrusted input.
func decodeCursor(tag byte, s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	bad := latchkey.FieldError("cursor", "is not a cursor from a previous page")
	if len(s) > 32 {
		return 0, bad
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(b) < 3 || b[0] != tag || b[1] != ':' {
		return 0, bad
	}
	digits := b[2:]
	if digits[0] < '1' || digits[0] > '9' { // no sign, no leading zero
		return 0, bad
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, bad
		}
	}
	id, err := strconv.ParseInt(string(digits), 10, 64)
	if err != nil || encodeCursor(tag, id) != s { // the decoder skips newlines
		return 0, bad
	}
	return id, nil
}

// pageLimit returns the page size for a requested limit (0 means the
// default).
func pageLimit(limit int) (int, error) {
	switch {
	case limit == 0:
		return defaultLimit, nil
	case limit < 1 || limit > maxLimit:
		return 0, latchkey.FieldError("limit", "must be between 1 and %d", maxLimit)
	}
	return limit, nil
}
