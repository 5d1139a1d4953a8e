package inmem_test

import (
	"context"
	"testing"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/inmem"
)

// TestWarm: Warm caches the secrets the store knows, remembers the unknown
// ones in the negative cache, and a later verification of a warmed key
// reads nothing from the store.
func TestWarm(t *testing.T) {
	store := newFakeStore()
	known := []latchkey.SecretHash{{1}, {2}}
	for i, h := range known {
		store.put(h, &latchkey.VerifyKey{KeyID: int64(i + 1), AccountID: 1, Kind: latchkey.KindAPI, Enabled: true})
	}
	v := inmem.NewVerifier(store, inmem.NewRateLimiter(), nil, nil)
	n := v.Warm(context.Background(), []latchkey.SecretHash{known[0], {9}, known[1], known[0]})
	if n != 3 { // known[0] twice: the second is a cache hit
		t.Errorf("Warm: got %d cached, want 3", n)
	}
	st := v.Stats()
	if st.Entries != 2 || st.Negative != 1 {
		t.Errorf("after Warm: %+v, want 2 entries and 1 negative", st)
	}
	if finds, _, _ := store.stats(); finds != 3 {
		t.Errorf("store reads: got %d, want 3 (each hash once)", finds)
	}
}

// TestWarmStopsAtAnUnavailableStore: a store that does not answer ends the
// warm-up at once; the keys are left to their first use.
func TestWarmStopsAtAnUnavailableStore(t *testing.T) {
	store := newFakeStore()
	store.findErr = latchkey.Errorf(latchkey.EUNAVAILABLE, "down")
	v := inmem.NewVerifier(store, inmem.NewRateLimiter(), nil, nil)
	hashes := make([]latchkey.SecretHash, 1000)
	for i := range hashes {
		hashes[i][0], hashes[i][1] = byte(i), byte(i>>8)
	}
	if n := v.Warm(context.Background(), hashes); n != 0 {
		t.Errorf("Warm: got %d cached, want 0", n)
	}
	if finds, _, _ := store.stats(); finds > 10 {
		t.Errorf("store reads: got %d, want the warm-up to stop after the first failures", finds)
	}
}
