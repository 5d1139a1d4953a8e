// Tests of refreshes past MaxAge, InvalidateAll and loads behind a stuck flush.

package inmem_test

import (
	"context"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
)

// eventually verifies until the answer has the code, or fails after a
// bounded number of tries: the refresh it waits for runs in the background.
func (h *harness) eventually(tb testing.TB, req latchkey.VerifyRequest, code latchkey.VerifyCode) {
	tb.Helper()
	for i := 0; i < 500; i++ {
		if h.verify(tb, req).Code == code {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	tb.Fatalf("verification never answered %s", code)
}

// mustMaxAgeHarness returns a harness whose verifier trusts a snapshot for
// a minute, with key 1 cached, and the request that verifies the key.
func mustMaxAgeHarness(tb testing.TB) (*harness, latchkey.VerifyRequest) {
	tb.Helper()
	h := MustHarness(tb)
	h.v.MaxAge = time.Minute
	req := latchkey.VerifyRequest{Key: h.add(tb, baseKey(1))}
	wantCode(tb, h.verify(tb, req), latchkey.CodeValid)
	return h, req
}

func TestVerify_MaxAgeRefreshesAMissedChange(t *testing.T) {
	h, req := mustMaxAgeHarness(t)

	// A revoke the feed never told this instance of.
	past := h.clock.Now().Add(-time.Second)
	h.store.update(1, func(vk *latchkey.VerifyKey) { vk.RevokedAt = &past })
	h.clock.Add(53 * time.Second)
	wantCode(t, h.verify(t, req), latchkey.CodeValid) // younger than MaxAge (less its 10% jitter): trusted

	h.clock.Add(14 * time.Second) // older than MaxAge and its jitter
	h.eventually(t, req, latchkey.CodeRevoked)
}

func TestVerify_MaxAgeEvictsADeletedKey(t *testing.T) {
	h, req := mustMaxAgeHarness(t)
	h.store.remove(1)
	h.clock.Add(2 * time.Minute)
	h.eventually(t, req, latchkey.CodeNotFound)
}

func TestVerify_MaxAgeServesTheSnapshotWhileTheStoreIsDown(t *testing.T) {
	h, req := mustMaxAgeHarness(t)

	down := latchkey.Errorf(latchkey.EUNAVAILABLE, "store down (test)")
	h.store.with(func() { h.store.findErr = down })
	h.clock.Add(2 * time.Minute)
	for i := 0; i < 20; i++ { // each may start a refresh that fails
		wantCode(t, h.verify(t, req), latchkey.CodeValid)
		time.Sleep(5 * time.Millisecond)
	}
	// An uncached key is not guessed: the store's error comes back.
	other := h.add(t, baseKey(2))
	if _, err := h.v.Verify(t.Context(), 1, &latchkey.VerifyRequest{Key: other}); latchkey.ErrorCode(err) != latchkey.EUNAVAILABLE {
		t.Fatalf("uncached key with the store down: got %v, want unavailable", err)
	}

	h.store.with(func() { h.store.findErr = nil })
	h.store.update(1, func(vk *latchkey.VerifyKey) { vk.Enabled = false })
	h.clock.Add(2 * time.Second) // past the retry delay of the failed refresh
	h.eventually(t, req, latchkey.CodeDisabled)
}

func TestVerify_MaxAgeRefreshDoesNotRepeatItself(t *testing.T) {
	h, req := mustMaxAgeHarness(t)
	h.store.with(func() { h.store.findErr = latchkey.Errorf(latchkey.EUNAVAILABLE, "store down (test)") })
	h.clock.Add(2 * time.Minute)
	for i := 0; i < 100; i++ {
		wantCode(t, h.verify(t, req), latchkey.CodeValid)
	}
	time.Sleep(20 * time.Millisecond)
	h.store.mu.Lock()
	finds := h.store.finds
	h.store.mu.Unlock()
	// One load, then one refresh: the clock did not move, so the failed
	// refresh is not tried again by the verifications after it.
	if finds != 2 {
		t.Fatalf("store finds: got %d, want 2", finds)
	}
}

func TestInvalidateAllForgetsEveryKey(t *testing.T) {
	h := MustHarness(t)
	var reqs []latchkey.VerifyRequest
	for id := int64(1); id <= 50; id++ {
		reqs = append(reqs, latchkey.VerifyRequest{Key: h.add(t, baseKey(id))})
	}
	unknown, _ := MustSecret(t)
	for _, r := range reqs {
		wantCode(t, h.verify(t, r), latchkey.CodeValid)
	}
	wantCode(t, h.verify(t, latchkey.VerifyRequest{Key: unknown}), latchkey.CodeNotFound)
	past := h.clock.Now().Add(-time.Second)
	for id := int64(1); id <= 50; id++ {
		h.store.update(id, func(vk *latchkey.VerifyKey) { vk.RevokedAt = &past })
	}
	h.v.Invalidate(latchkey.KeyChange{All: true})
	if st := h.v.Stats(); st.Entries != 0 {
		t.Fatalf("entries after invalidating all: got %d, want 0", st.Entries)
	}
	for _, r := range reqs {
		wantCode(t, h.verify(t, r), latchkey.CodeRevoked)
	}
	h.store.mu.Lock()
	before := h.store.finds
	h.store.mu.Unlock()
	wantCode(t, h.verify(t, latchkey.VerifyRequest{Key: unknown}), latchkey.CodeNotFound)
	h.store.mu.Lock()
	after := h.store.finds
	h.store.mu.Unlock()
	if after != before+1 {
		t.Fatalf("an unknown secret after invalidating all: got %d store finds, want 1 (the negative cache ends too)", after-before)
	}
}

// A refresh past MaxAge reloads the key's devices too: a device removed
// by a change this instance missed frees its place.
func TestVerify_MaxAgeReloadsDevices(t *testing.T) {
	h := MustHarness(t)
	h.v.MaxAge = time.Minute
	vk := baseKey(1)
	vk.MaxDevices = 1
	h.store.devices[1] = []string{"old-laptop"}
	secret := h.add(t, vk)
	wantCode(t, h.verify(t, latchkey.VerifyRequest{Key: secret, DeviceID: "phone"}), latchkey.CodeDeviceLimitExceeded)
	h.store.with(func() { h.store.devices[1] = nil }) // an admin removed it; this instance was not told
	h.clock.Add(2 * time.Minute)
	h.eventually(t, latchkey.VerifyRequest{Key: secret, DeviceID: "phone"}, latchkey.CodeValid)
}

// A cache miss waiting for a flush that does not finish gives up after
// LoadTimeout, as unavailable: a partitioned store during a flush is
// answered, not waited on.
func TestVerify_LoadGivesUpBehindAStuckFlush(t *testing.T) {
	h := MustHarness(t)
	h.v.LoadTimeout = 200 * time.Millisecond
	warm := h.add(t, baseKey(1))
	wantCode(t, h.verify(t, latchkey.VerifyRequest{Key: warm}), latchkey.CodeValid) // something to flush
	release := make(chan struct{})
	started := make(chan struct{})
	h.store.flushHook = func() { close(started); <-release }
	flushed := make(chan error, 1)
	go func() { flushed <- h.v.Flush(context.Background()) }()
	<-started
	cold := h.add(t, baseKey(2))
	start := time.Now()
	_, err := h.v.Verify(context.Background(), 1, &latchkey.VerifyRequest{Key: cold})
	if latchkey.ErrorCode(err) != latchkey.EUNAVAILABLE {
		t.Fatalf("cold verify behind a stuck flush: got %v, want unavailable", err)
	}
	if took := time.Since(start); took > 5*time.Second { // a bound: it must not wait for the flush
		t.Fatalf("cold verify behind a stuck flush answered after %v", took)
	}
	close(release)
	if err := <-flushed; err != nil {
		t.Fatal(err)
	}
	h.store.flushHook = nil
	wantCode(t, h.verify(t, latchkey.VerifyRequest{Key: cold}), latchkey.CodeValid)
}
