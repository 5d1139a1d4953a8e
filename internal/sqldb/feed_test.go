package sqldb_test

import (
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/sqldb"
)

// seen is what a subscriber saw of a key when it was told of a change.
type seen struct {
	change latchkey.KeyChange
	status latchkey.Status // "" when the key was gone
	start  string
}

// testChangeFeed checks every key mutation is announced to the store's subscribers once it commits.
func testChangeFeed(t *testing.T, b backend) {
	e, s, a := MustAcme(t, b)
	MustCreatePermission(t, s, a.ID, "read")
	k, _ := MustCreateKey(t, s, a.ID, &latchkey.KeyCreate{Permissions: []string{"read"}})

	// The subscriber reads the key back from the store: it sees the
	// mutation's result only if it is called after the commit.
	var mu sync.Mutex
	var got []seen
	cancel := s.Subscribe(func(c latchkey.KeyChange) {
		sn := seen{change: c}
		if key, err := s.FindKeyByID(ctx, c.AccountID, c.KeyID); err == nil {
			sn.status, sn.start = key.Status, key.Start
		}
		mu.Lock()
		got = append(got, sn)
		mu.Unlock()
	})
	take := func() []seen {
		mu.Lock()
		defer mu.Unlock()
		out := got
		got = nil
		return out
	}
	change := latchkey.KeyChange{AccountID: a.ID, KeyID: k.ID}

	MustUpdateKey(t, s, a.ID, k.ID, &latchkey.KeyUpdate{Enabled: ptr(false)})
	if want := []seen{{change, latchkey.StatusDisabled, k.Start}}; !reflect.DeepEqual(take(), want) {
		t.Errorf("update: want the subscriber to see the disabled key")
	}
	rotated, _, err := s.RotateKey(ctx, a.ID, k.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if want := []seen{{change, latchkey.StatusDisabled, rotated.Start}}; !reflect.DeepEqual(take(), want) {
		t.Errorf("rotate: want the subscriber to see the new start")
	}
	if _, err := s.RevokeKey(ctx, a.ID, k.ID, "x"); err != nil {
		t.Fatal(err)
	}
	if want := []seen{{change, latchkey.StatusRevoked, rotated.Start}}; !reflect.DeepEqual(take(), want) {
		t.Errorf("revoke: want the subscriber to see the revoked key")
	}

	// Failed mutations announce nothing.
	_, err = s.UpdateKey(ctx, a.ID, k.ID, &latchkey.KeyUpdate{Permissions: &[]string{"unknown"}})
	wantCode(t, err, latchkey.EINVALID)
	_, err = s.UpdateKey(ctx, a.ID, 9999, &latchkey.KeyUpdate{Name: ptr("x")})
	wantCode(t, err, latchkey.ENOTFOUND)
	wantCode(t, s.DeleteKey(ctx, a.ID, 9999), latchkey.ENOTFOUND)
	if c := take(); len(c) != 0 {
		t.Errorf("failed mutations: got %v, want nothing", c)
	}
	// Nor does one that rolls back after its last step.
	if err := sqldb.UpdateKeyRolledBack(ctx, s, a.ID, k.ID, &latchkey.KeyUpdate{Revoked: ptr(false)}); err != nil {
		t.Fatal(err)
	}
	if c := take(); len(c) != 0 {
		t.Errorf("rolled back update: got %v, want nothing", c)
	}
	if got := MustFindKey(t, s, a.ID, k.ID); got.Status != latchkey.StatusRevoked {
		t.Errorf("after the rollback: got %q, want still revoked", got.Status)
	}

	if err := s.DeleteKey(ctx, a.ID, k.ID); err != nil {
		t.Fatal(err)
	}
	if want := []seen{{change: change}}; !reflect.DeepEqual(take(), want) {
		t.Errorf("delete: want the subscriber to find the key gone")
	}

	// CreateKey changes no cached key; cancel stops delivery.
	k2, _ := MustCreateKey(t, s, a.ID, nil)
	if c := take(); len(c) != 0 {
		t.Errorf("create: got %v, want nothing", c)
	}
	cancel()
	MustUpdateKey(t, s, a.ID, k2.ID, &latchkey.KeyUpdate{Name: ptr("after cancel")})
	if c := take(); len(c) != 0 {
		t.Errorf("after cancel: got %v, want nothing", c)
	}

	if b.name == "postgres" {
		testChangeFeedAcrossInstances(t, e, a.ID, k2.ID)
	}
}

// testChangeFeedAcrossInstances checks that a second store on the database
// hears of the first one's mutations (PostgreSQL LISTEN/NOTIFY).
func testChangeFeedAcrossInstances(t *testing.T, e *env, accountID, keyID int64) {
	other := MustOpen(t, e.dsn, e.clock.Now)
	heard := make(chan latchkey.KeyChange, 16)
	t.Cleanup(other.Subscribe(func(c latchkey.KeyChange) { heard <- c }))
	own := MustSubscribe(t, e.store)
	if _, err := e.store.RevokeKey(ctx, accountID, keyID, "elsewhere"); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-heard:
		if want := (latchkey.KeyChange{AccountID: accountID, KeyID: keyID}); c != want {
			t.Errorf("other instance: got %v, want %v", c, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("other instance: heard nothing within 10s")
	}
	time.Sleep(200 * time.Millisecond)
	if c := own.take(); len(c) != 1 {
		t.Errorf("own instance: got %v, want the change once (not echoed back)", c)
	}
}
