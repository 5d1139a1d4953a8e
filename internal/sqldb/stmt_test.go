package sqldb

import (
	"context"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
)

// TestStatementCache: a write's statements, run twice, end up prepared on
// the write pool, and later writes run through them; texts too long to
// cache are never asked for.
func TestStatementCache(t *testing.T) {
	s := mustSQLite(t)
	acct, ids := mustKeys(t, s, 1)
	for i := 0; i < 3; i++ {
		if _, err := s.UpdateKey(context.Background(), acct, ids[0], &latchkey.KeyUpdate{Name: ptrTo(string(rune('a' + i)))}); err != nil {
			t.Fatal(err)
		}
	}
	find := `SELECT ` + keyColumns + `, ` + s.dialect.permissionsOfK + ` FROM keys k WHERE k.id = ? AND k.account_id = ?`
	for _, q := range []string{find, s.dialect.verifyKeyQuery} {
		if len(q) > maxStmtLen {
			t.Errorf("a hot text of %d bytes is longer than the cache takes (%d)", len(q), maxStmtLen)
		}
	}
	// The preparer runs in the background: wait for it (the test's own
	// timeout bounds this).
	for {
		s.stmts.mu.Lock()
		st := s.stmts.stmts[stmtKey{s.db, find}]
		s.stmts.mu.Unlock()
		if st != nil {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := s.UpdateKey(context.Background(), acct, ids[0], &latchkey.KeyUpdate{Name: ptrTo("z")}); err != nil {
		t.Fatalf("a write through the prepared statements: %v", err)
	}
	if got := keyName(t, s, acct, ids[0]); got != "z" {
		t.Errorf("got name %q, want z", got)
	}

	long := make([]byte, maxStmtLen+1)
	s.stmts.mu.Lock()
	k := stmtKey{s.db, string(long)}
	s.stmts.note(k)
	s.stmts.note(k)
	asked := len(s.stmts.want) > 0 && s.stmts.want[len(s.stmts.want)-1] == k
	s.stmts.mu.Unlock()
	if asked {
		t.Error("a text longer than maxStmtLen was asked for")
	}
}
