package sqldb

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
)

// Group commit (writer.go). The batches here are built by hand and handed
// to writer.run, so which mutations share a transaction is certain, not a
// matter of timing.

// mustSQLite opens and migrates a store on a new SQLite file.
func mustSQLite(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "w.db"), nil, WithTimeout(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

// mustKeys creates an account with n keys named "k0", "k1", ….
func mustKeys(t *testing.T, s *Store, n int) (int64, []int64) {
	t.Helper()
	ctx := context.Background()
	a := &latchkey.Account{Name: "acme"}
	if err := s.CreateAccount(ctx, a); err != nil {
		t.Fatal(err)
	}
	ids := make([]int64, n)
	for i := range ids {
		k, _, err := s.CreateKey(ctx, a.ID, &latchkey.KeyCreate{Name: fmt.Sprint("k", i)})
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = k.ID
	}
	return a.ID, ids
}

// rename is a mutation renaming a key, as UpdateKey's.
func rename(accountID, id int64, name string) func(tx *Tx) error {
	return func(tx *Tx) error {
		_, err := updateKey(context.Background(), tx, accountID, id, &latchkey.KeyUpdate{Name: &name}, latchkey.ActionKeyUpdate)
		return err
	}
}

func newMutation(fn func(tx *Tx) error) *mutation {
	return &mutation{ctx: context.Background(), deadline: time.Now().Add(time.Minute), fn: fn, done: make(chan struct{})}
}

func keyName(t *testing.T, s *Store, accountID, id int64) string {
	t.Helper()
	k, err := s.FindKeyByID(context.Background(), accountID, id)
	if err != nil {
		t.Fatal(err)
	}
	return k.Name
}

// TestGroupCommitFailureUndoesOnlyItself: in one batch, a mutation that
// writes and then fails, and one that panics, are rolled back to their
// savepoints; the mutations before and after them commit, with their audit
// events and change-log rows, and only theirs are published.
func TestGroupCommitFailureUndoesOnlyItself(t *testing.T) {
	s := mustSQLite(t)
	acct, ids := mustKeys(t, s, 4)
	var published []int64
	s.Subscribe(func(c latchkey.KeyChange) { published = append(published, c.KeyID) })
	before := countRows(t, s, "audit_events")

	errBoom := errors.New("boom")
	batch := []*mutation{
		newMutation(rename(acct, ids[0], "a")),
		newMutation(func(tx *Tx) error {
			if err := rename(acct, ids[1], "lost")(tx); err != nil {
				return err
			}
			return errBoom
		}),
		newMutation(func(tx *Tx) error {
			if err := rename(acct, ids[2], "lost")(tx); err != nil {
				return err
			}
			panic("mutation panicked")
		}),
		newMutation(rename(acct, ids[3], "d")),
	}
	s.writer.run(batch)
	for _, m := range batch {
		<-m.done
	}
	if batch[0].err != nil || batch[3].err != nil {
		t.Fatalf("the good mutations failed: %v, %v", batch[0].err, batch[3].err)
	}
	if !errors.Is(batch[1].err, errBoom) {
		t.Errorf("the failing mutation: got %v, want its own error", batch[1].err)
	}
	if batch[2].pan != "mutation panicked" {
		t.Errorf("the panicking mutation: got panic %v, want it handed back", batch[2].pan)
	}
	for i, want := range []string{"a", "k1", "k2", "d"} {
		if got := keyName(t, s, acct, ids[i]); got != want {
			t.Errorf("key %d: got name %q, want %q", i, got, want)
		}
	}
	if got := countRows(t, s, "audit_events") - before; got != 2 {
		t.Errorf("audit events written: got %d, want 2 (one per committed mutation)", got)
	}
	if got := changeLogKeys(t, s, 0); fmt.Sprint(got[len(got)-2:]) != fmt.Sprint([]int64{ids[0], ids[3]}) {
		t.Errorf("change log ends with %v, want the keys of the committed mutations %v", got, []int64{ids[0], ids[3]})
	}
	if fmt.Sprint(published) != fmt.Sprint([]int64{ids[0], ids[3]}) {
		t.Errorf("published %v, want %v", published, []int64{ids[0], ids[3]})
	}
}

// TestGroupCommitPanicReachesCaller: a mutation's panic is raised in the
// goroutine that asked for the write, not in the writer, which goes on.
func TestGroupCommitPanicReachesCaller(t *testing.T) {
	s := mustSQLite(t)
	acct, ids := mustKeys(t, s, 1)
	func() {
		defer func() {
			if v := recover(); v != "boom" {
				t.Errorf("got panic %v, want boom", v)
			}
		}()
		s.write(context.Background(), func(tx *Tx) error { panic("boom") })
	}()
	if _, err := s.UpdateKey(context.Background(), acct, ids[0], &latchkey.KeyUpdate{Name: ptrTo("after")}); err != nil {
		t.Fatalf("the writer did not go on after a panic: %v", err)
	}
}

// TestGroupCommitCancelledBeforeItsTurn: a mutation whose caller has gone
// before the writer reaches it is not run; the rest of its batch is.
func TestGroupCommitCancelledBeforeItsTurn(t *testing.T) {
	s := mustSQLite(t)
	acct, ids := mustKeys(t, s, 2)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	gone := newMutation(rename(acct, ids[0], "gone"))
	gone.ctx = ctx
	batch := []*mutation{gone, newMutation(rename(acct, ids[1], "b"))}
	s.writer.run(batch)
	if code := latchkey.ErrorCode(gone.err); code != latchkey.EUNAVAILABLE {
		t.Errorf("cancelled mutation: got %v (%s), want unavailable", gone.err, code)
	}
	if batch[1].err != nil {
		t.Fatal(batch[1].err)
	}
	if got := keyName(t, s, acct, ids[0]); got != "k0" {
		t.Errorf("cancelled mutation ran: name %q", got)
	}
	if got := keyName(t, s, acct, ids[1]); got != "b" {
		t.Errorf("got name %q, want b", got)
	}
}

// TestGroupCommitOrder: many concurrent mutations (so the writer forms
// batches of several) leave a gapless change log, and the audit log in the
// same order: the i-th key event in the audit log is the i-th change.
func TestGroupCommitOrder(t *testing.T) {
	s := mustSQLite(t)
	acct, ids := mustKeys(t, s, 16)
	first := maxSeq(t, s)
	auditFrom := maxID(t, s, "audit_events")
	var wg sync.WaitGroup
	const writers, each = 16, 20
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if _, err := s.UpdateKey(context.Background(), acct, ids[w], &latchkey.KeyUpdate{Name: ptrTo(fmt.Sprint(w, "-", i))}); err != nil {
					t.Error(err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	t.Logf("%d mutations in %d batches", s.writer.mutations.Load(), s.writer.batches.Load())
	logged := changeLogKeys(t, s, first)
	if len(logged) != writers*each {
		t.Fatalf("change log: got %d rows after seq %d, want %d", len(logged), first, writers*each)
	}
	for i, n := range ints(t, s, `SELECT seq FROM change_log WHERE seq > ? ORDER BY seq`, first) {
		if n != first+int64(i)+1 {
			t.Fatalf("change log numbers: got %d at position %d, want %d (gapless)", n, i, first+int64(i)+1)
		}
	}
	audited := ints(t, s, `SELECT key_id FROM audit_events WHERE id > ? AND action = ? ORDER BY id`, auditFrom, latchkey.ActionKeyUpdate)
	if fmt.Sprint(audited) != fmt.Sprint(logged) {
		t.Errorf("audit log order differs from change log order:\naudit  %v\nchange %v", audited, logged)
	}
	// Each writer's own renames are in its order, last one wins.
	for w, id := range ids {
		if got, want := keyName(t, s, acct, id), fmt.Sprint(w, "-", each-1); got != want {
			t.Errorf("key %d: got %q, want %q", w, got, want)
		}
	}
}

func ptrTo[T any](v T) *T { return &v }

func countRows(t *testing.T, s *Store, table string) int {
	return int(scalar(t, s, `SELECT count(*) FROM `+table))
}

func maxID(t *testing.T, s *Store, table string) int64 {
	return scalar(t, s, `SELECT coalesce(max(id), 0) FROM `+table)
}

func maxSeq(t *testing.T, s *Store) int64 {
	return scalar(t, s, `SELECT coalesce(max(seq), 0) FROM change_log`)
}

// scalar runs a query of one integer on the read pool.
func scalar(t *testing.T, s *Store, q string) int64 {
	t.Helper()
	var n int64
	if err := s.rdb.QueryRow(q).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// changeLogKeys returns the key ids of the change log after seq, in order.
func changeLogKeys(t *testing.T, s *Store, after int64) []int64 {
	return ints(t, s, `SELECT key_id FROM change_log WHERE seq > ? ORDER BY seq`, after)
}

// ints runs a query of one integer column on the read pool.
func ints(t *testing.T, s *Store, q string, args ...any) []int64 {
	t.Helper()
	rows, err := s.rdb.Query(q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var list []int64
	for rows.Next() {
		var n int64
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		list = append(list, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return list
}
