// Tests of verification with shared counters (fakeShared): debt while they
// are down, and seeding.

package inmem_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
)

// fakeShared decides spends from a balance of its own, or, while down,
// leaves them to the verifier; it records what it was asked.
type fakeShared struct {
	mu     sync.Mutex
	down   bool
	rem    map[int64]int64
	asked  []latchkey.Spend
	forget map[int64]bool // lose the balance of the key at the next ask
}

func (f *fakeShared) Spend(_ context.Context, sp *latchkey.Spend) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, *sp)
	if f.down {
		return false, nil
	}
	rem, ok := f.rem[sp.KeyID]
	if !ok || f.forget[sp.KeyID] {
		rem = sp.Credits.Remaining // seeded from what the verifier knows
		delete(f.forget, sp.KeyID)
	} else if sp.Debt > 0 {
		rem = max(rem-sp.Debt, 0)
	}
	sp.RateOK, sp.CreditsOK = true, rem >= sp.Cost
	if sp.CreditsOK {
		rem -= sp.Cost
	}
	f.rem[sp.KeyID] = rem
	sp.Remaining, sp.SpentBase = rem, sp.Credits.RefilledAt
	return true, nil
}

func (f *fakeShared) last() latchkey.Spend {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.asked[len(f.asked)-1]
}

// Credits spent while the shared counters are down are owed to them, and
// handed over with the first spend once they are back; a balance they lost
// is seeded from what this instance knows, not from its first snapshot.
func TestVerify_SharedCreditsDebtAndSeed(t *testing.T) {
	h := MustHarness(t)
	f := &fakeShared{rem: map[int64]int64{}, forget: map[int64]bool{}}
	h.v.Shared = f
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	vk := baseKey(1)
	vk.Credits = &latchkey.Credits{Remaining: 100, RefilledAt: &base}
	secret := h.add(t, vk)
	req := latchkey.VerifyRequest{Key: secret}
	for i := 0; i < 10; i++ {
		wantCode(t, h.verify(t, req), latchkey.CodeValid)
	}
	if got := *h.verify(t, req).CreditsRemaining; got != 89 {
		t.Fatalf("through the shared counters: got %d left, want 89", got)
	}
	f.mu.Lock()
	f.down = true
	f.mu.Unlock()
	for i := 0; i < 5; i++ {
		wantCode(t, h.verify(t, req), latchkey.CodeValid) // counted here
	}
	f.mu.Lock()
	f.down = false
	f.mu.Unlock()
	res := h.verify(t, req)
	if sp := f.last(); sp.Debt != 5 || sp.DebtBase == nil || !sp.DebtBase.Equal(base) {
		t.Fatalf("first spend after the outage: debt %d against %v, want 5 against %v", sp.Debt, sp.DebtBase, base)
	}
	if *res.CreditsRemaining != 83 {
		t.Fatalf("after the outage: got %d left, want 83 (89 - 5 owed - 1)", *res.CreditsRemaining)
	}
	h.verify(t, req)
	if sp := f.last(); sp.Debt != 0 {
		t.Fatalf("the next spend: debt %d, want 0 (paid)", sp.Debt)
	}
	// The counters lose the balance: they are seeded from the latest known
	// remainder (82), not from the snapshot's 100.
	f.mu.Lock()
	f.forget[1] = true
	f.mu.Unlock()
	if got := *h.verify(t, req).CreditsRemaining; got != 81 {
		t.Fatalf("after the counters lost the balance: got %d left, want 81", got)
	}
}
