package sqldb_test

import (
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
)

// TestChangeLog runs the change-log suite on every backend.
func TestChangeLog(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			if b.skip != "" {
				t.Skip(b.skip)
			}
			t.Run("Numbering", func(t *testing.T) { testChangeLogNumbering(t, b) })
			t.Run("Trim", func(t *testing.T) { testChangeLogTrim(t, b) })
			if b.name == "postgres" {
				t.Run("ReplayMissedNotification", func(t *testing.T) { testReplayMissedNotification(t, b) })
				t.Run("LogTrimmedPastApplied", func(t *testing.T) { testLogTrimmedPastApplied(t, b) })
				t.Run("LogResetUnderInstance", func(t *testing.T) { testLogResetUnderInstance(t, b) })
			}
		})
	}
}

type logRow struct {
	seq, accountID, keyID int64
}

// readLog is the change log's head number and rows, read under the store.
func readLog(tb testing.TB, db *sql.DB) (head int64, rows []logRow) {
	tb.Helper()
	if err := db.QueryRow(`SELECT seq FROM change_seq WHERE id = 1`).Scan(&head); err != nil {
		tb.Fatal(err)
	}
	rs, err := db.Query(`SELECT seq, account_id, key_id FROM change_log ORDER BY seq`)
	if err != nil {
		tb.Fatal(err)
	}
	defer rs.Close()
	for rs.Next() {
		var r logRow
		if err := rs.Scan(&r.seq, &r.accountID, &r.keyID); err != nil {
			tb.Fatal(err)
		}
		rows = append(rows, r)
	}
	return head, rows
}

// Every committed key mutation gets the next numbers, one per key, with no
// gap; a failed or rolled-back one takes none.
func testChangeLogNumbering(t *testing.T, b backend) {
	e := MustEnv(t, b)
	s := e.store
	db := MustDB(t, b, e.dsn)
	a := MustCreateAccount(t, s, "acme")
	MustCreatePermission(t, s, a.ID, "read")
	k1, _ := MustCreateKey(t, s, a.ID, &latchkey.KeyCreate{Permissions: []string{"read"}})
	k2, _ := MustCreateKey(t, s, a.ID, &latchkey.KeyCreate{Permissions: []string{"read"}})
	head0, _ := readLog(t, db)

	MustUpdateKey(t, s, a.ID, k1.ID, &latchkey.KeyUpdate{Name: ptr("renamed")})
	if _, err := s.RevokeKey(ctx, a.ID, k2.ID, "gone"); err != nil {
		t.Fatal(err)
	}
	_, err := s.UpdateKey(ctx, a.ID, k1.ID, &latchkey.KeyUpdate{Permissions: &[]string{"unknown"}})
	wantCode(t, err, latchkey.EINVALID)
	if err := s.DeletePermission(ctx, a.ID, "read"); err != nil { // changes both keys in one transaction
		t.Fatal(err)
	}
	head, rows := readLog(t, db)
	if head != head0+4 {
		t.Fatalf("head: got %d, want %d (four key changes)", head, head0+4)
	}
	var tail []logRow
	for _, r := range rows {
		if r.seq > head0 {
			tail = append(tail, r)
		}
	}
	want := []logRow{{head0 + 1, a.ID, k1.ID}, {head0 + 2, a.ID, k2.ID}, {head0 + 3, a.ID, k1.ID}, {head0 + 4, a.ID, k2.ID}}
	if len(tail) != len(want) {
		t.Fatalf("log rows after %d: got %v, want %v", head0, tail, want)
	}
	for i := range want {
		if tail[i] != want[i] {
			t.Fatalf("log rows after %d: got %v, want %v", head0, tail, want)
		}
	}
}

// TrimChanges deletes rows older than an hour and keeps the numbering.
func testChangeLogTrim(t *testing.T, b backend) {
	e := MustEnv(t, b)
	s := e.store
	db := MustDB(t, b, e.dsn)
	a := MustCreateAccount(t, s, "acme")
	k, _ := MustCreateKey(t, s, a.ID, nil)
	MustUpdateKey(t, s, a.ID, k.ID, &latchkey.KeyUpdate{Name: ptr("old")})
	if b.name == "postgres" {
		// Rows are stamped by the database's clock there: age this one.
		if _, err := db.Exec(`UPDATE change_log SET created_at = created_at - 7200000000`); err != nil {
			t.Fatal(err)
		}
	} else {
		e.clock.Add(2 * time.Hour)
	}
	MustUpdateKey(t, s, a.ID, k.ID, &latchkey.KeyUpdate{Name: ptr("new")})
	n, err := s.TrimChanges(ctx)
	if err != nil {
		t.Fatal(err)
	}
	head, rows := readLog(t, db)
	if n < 1 || len(rows) != 1 || rows[0].seq != head {
		t.Fatalf("after trim: deleted %d, rows %v, head %d; want the old row gone and the newest kept", n, rows, head)
	}
}

// waitHeard waits for the subscriber to hear want.
func waitHeard(tb testing.TB, heard <-chan latchkey.KeyChange, want latchkey.KeyChange) {
	tb.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case c := <-heard:
			if c == want {
				return
			}
		case <-deadline:
			tb.Fatalf("never heard %+v", want)
		}
	}
}

// A change whose notification never arrived (written straight to the log)
// is still applied, by the feed's heartbeat.
func testReplayMissedNotification(t *testing.T, b backend) {
	e := MustEnv(t, b)
	other, heard, db := MustListener(t, b, e)
	// Numbered and logged in one transaction, as a store does it; only the
	// NOTIFY is missing.
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	var seq int64
	if err := tx.QueryRow(`UPDATE change_seq SET seq = seq + 1 WHERE id = 1 RETURNING seq`).Scan(&seq); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(`INSERT INTO change_log (seq, account_id, key_id, origin, created_at) VALUES ($1, 7, 42, 'elsewhere', 0)`, seq); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	waitHeard(t, heard, latchkey.KeyChange{AccountID: 7, KeyID: 42})
	// The feed marks itself connected once its first catch-up is done,
	// which may be just after subscribers hear of it.
	st := other.FeedStatus()
	for i := 0; i < 100 && !st.Connected; i++ {
		time.Sleep(20 * time.Millisecond)
		st = other.FeedStatus()
	}
	if !st.Shared || !st.Connected || st.Applied != seq || st.Replays < 1 {
		t.Fatalf("feed status: got %+v, want connected, applied %d, a replay counted", st, seq)
	}
}

// When the log no longer holds the next change to apply, the subscribers
// are told that every key changed.
func testLogTrimmedPastApplied(t *testing.T, b backend) {
	e := MustEnv(t, b)
	other, heard, db := MustListener(t, b, e)
	// Three changes that were logged and trimmed before this instance
	// read them: only the newest number is left.
	if _, err := db.Exec(`UPDATE change_seq SET seq = seq + 3 WHERE id = 1`); err != nil {
		t.Fatal(err)
	}
	waitHeard(t, heard, latchkey.KeyChange{All: true})
	if st := other.FeedStatus(); st.CacheDrops != 1 || st.Applied != st.Head {
		t.Fatalf("feed status: got %+v, want one cache drop and caught up", st)
	}
}

// A database whose numbering went back (restored, failed over to a standby
// that lacks the last commits) or was made anew: the instance drops its
// cache, then hears the changes numbered after the reset.
func testLogResetUnderInstance(t *testing.T, b backend) {
	for _, reset := range []struct {
		name string
		sql  []string
	}{
		{"numbers went back", []string{`UPDATE change_seq SET seq = seq - 3`, `DELETE FROM change_log WHERE seq > (SELECT seq FROM change_seq)`}},
		{"new epoch", []string{`UPDATE change_seq SET epoch = 'another'`}},
	} {
		t.Run(reset.name, func(t *testing.T) {
			e := MustEnv(t, b)
			a := MustCreateAccount(t, e.store, "acme")
			k, _ := MustCreateKey(t, e.store, a.ID, nil)
			for i := 0; i < 4; i++ {
				MustUpdateKey(t, e.store, a.ID, k.ID, &latchkey.KeyUpdate{Name: ptr(fmt.Sprint(i))})
			}
			_, heard, db := MustListener(t, b, e)
			for _, q := range reset.sql {
				if _, err := db.Exec(q); err != nil {
					t.Fatal(err)
				}
			}
			waitHeard(t, heard, latchkey.KeyChange{All: true})
			if _, err := e.store.RevokeKey(ctx, a.ID, k.ID, "after the reset"); err != nil {
				t.Fatal(err)
			}
			waitHeard(t, heard, latchkey.KeyChange{AccountID: a.ID, KeyID: k.ID})
		})
	}
}
