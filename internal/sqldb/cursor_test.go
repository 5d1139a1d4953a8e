package sqldb_test

import (
	"testing"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/sqldb"
)

// TestCursorRoundTrip checks a keys cursor decodes to its id, and "" to the first page.
func TestCursorRoundTrip(t *testing.T) {
	for _, id := range []int64{1, 9, 10, 12345, 1<<53 + 1, 1<<63 - 1} {
		c := sqldb.EncodeKeysCursor(id)
		got, err := sqldb.DecodeKeysCursor(c)
		if err != nil || got != id {
			t.Errorf("DecodeKeysCursor(EncodeKeysCursor(%d)): got %d, %v, want %d", id, got, err, id)
		}
	}
	if got, err := sqldb.DecodeKeysCursor(""); got != 0 || err != nil {
		t.Errorf(`DecodeKeysCursor(""): got %d, %v, want 0, nil`, got, err)
	}
}

// FuzzDecodeKeysCursor feeds untrusted cursors to the decoder: it must never
// panic, must refuse with an invalid error naming "cursor", and must accept
// only what the encoder returns.
func FuzzDecodeKeysCursor(f *testing.F) {
	for _, seed := range []string{
		"", sqldb.EncodeKeysCursor(1), sqldb.EncodeKeysCursor(1<<63 - 1), sqldb.EncodeAuditCursor(5),
		"azox", "azow", "azotMQ", "azotMDE", "azo5OTk5OTk5OTk5OTk5OTk5OTk5OTk", "azoxMg==", "azoxMg",
		"%%%", "a", "....", "azoxMgo", "azogMQ", "azorMQ", "\x00\xff", "azoxMg\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := sqldb.DecodeKeysCursor(s)
		if err != nil {
			if latchkey.ErrorCode(err) != latchkey.EINVALID {
				t.Fatalf("error code: got %q, want invalid", latchkey.ErrorCode(err))
			}
			if _, ok := latchkey.ErrorFields(err)["cursor"]; !ok {
				t.Fatalf("fields: got %v, want cursor", latchkey.ErrorFields(err))
			}
			return
		}
		if s == "" {
			if id != 0 {
				t.Fatalf(`"": got %d, want 0`, id)
			}
			return
		}
		if id <= 0 {
			t.Fatalf("accepted %q as id %d, want a positive id", s, id)
		}
		if back := sqldb.EncodeKeysCursor(id); back != s {
			t.Fatalf("accepted %q as %d, whose cursor is %q", s, id, back)
		}
	})
}
