// The test harness and the tests of Verify: codes, devices, rate limits,
// credits, caching and write-behind.

package inmem_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/inmem"
	"github.com/latchkey/latchkey/internal/mock"

	"github.com/latchkey/latchkey/internal/testenv"
)

type harness struct {
	store *fakeStore
	clock *testenv.Clock
	lim   *inmem.RateLimiter
	v     *inmem.Verifier
}

// MustHarness returns a verifier over a fake store with a test clock.
func MustHarness(tb testing.TB) *harness {
	tb.Helper()
	h := &harness{store: newFakeStore(), clock: newTestClock(), lim: inmem.NewRateLimiter()}
	h.v = inmem.NewVerifier(h.store, h.lim, h.clock.Now, slog.New(slog.DiscardHandler))
	tb.Cleanup(func() {
		h.store.with(func() { h.store.flushErr = nil })
		if err := h.v.Close(context.Background()); err != nil {
			tb.Errorf("close: %v", err)
		}
	})
	return h
}

// add stores the key under a fresh secret and returns the secret.
func (h *harness) add(tb testing.TB, vk *latchkey.VerifyKey) string {
	tb.Helper()
	s, hash := MustSecret(tb)
	h.store.put(hash, vk)
	return s
}

func (h *harness) verify(tb testing.TB, req latchkey.VerifyRequest) *latchkey.VerifyResult {
	tb.Helper()
	res, err := h.v.Verify(context.Background(), 1, &req)
	if err != nil {
		tb.Fatalf("verify: %v", err)
	}
	return res
}

// verifyN verifies req n times.
func (h *harness) verifyN(tb testing.TB, req latchkey.VerifyRequest, n int) {
	tb.Helper()
	for range n {
		h.verify(tb, req)
	}
}

func (h *harness) flush(tb testing.TB) {
	tb.Helper()
	if err := h.v.Flush(context.Background()); err != nil {
		tb.Fatalf("flush: %v", err)
	}
}

func (h *harness) invalidate(keyID int64) {
	h.v.Invalidate(latchkey.KeyChange{AccountID: 1, KeyID: keyID})
}

func wantCode(tb testing.TB, res *latchkey.VerifyResult, code latchkey.VerifyCode) {
	tb.Helper()
	if res.Code != code || res.Valid != (code == latchkey.CodeValid) {
		tb.Fatalf("got %s valid=%v, want %s", res.Code, res.Valid, code)
	}
}

func TestVerify_Codes(t *testing.T) {
	past := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	future := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		key  func(vk *latchkey.VerifyKey) // nil: no key stored
		req  latchkey.VerifyRequest       // Key filled in
		want latchkey.VerifyCode
	}{
		{"unknown", nil, latchkey.VerifyRequest{}, latchkey.CodeNotFound},
		{"other account", func(vk *latchkey.VerifyKey) { vk.AccountID = 2 }, latchkey.VerifyRequest{}, latchkey.CodeNotFound},
		{"root key", func(vk *latchkey.VerifyKey) { vk.Kind = latchkey.KindRoot }, latchkey.VerifyRequest{}, latchkey.CodeNotFound},
		{"revoked", func(vk *latchkey.VerifyKey) { vk.RevokedAt = &past }, latchkey.VerifyRequest{}, latchkey.CodeRevoked},
		{"expired", func(vk *latchkey.VerifyKey) { vk.ExpiresAt = &past }, latchkey.VerifyRequest{}, latchkey.CodeExpired},
		{"secret past grace", func(vk *latchkey.VerifyKey) { vk.SecretExpiresAt = &past }, latchkey.VerifyRequest{}, latchkey.CodeExpired},
		{"secret in grace", func(vk *latchkey.VerifyKey) { vk.SecretExpiresAt = &future }, latchkey.VerifyRequest{}, latchkey.CodeValid},
		{"disabled", func(vk *latchkey.VerifyKey) { vk.Enabled = false }, latchkey.VerifyRequest{}, latchkey.CodeDisabled},
		{"insufficient permissions", nil2, latchkey.VerifyRequest{Permissions: []string{"readApplications", "admin"}}, latchkey.CodeInsufficientPermission},
		{"permissions held", nil2, latchkey.VerifyRequest{Permissions: []string{"writeApplications", "readApplications"}}, latchkey.CodeValid},
		{"device limit", func(vk *latchkey.VerifyKey) { vk.MaxDevices = 1; vk.Devices = []string{"a"} }, latchkey.VerifyRequest{DeviceID: "b"}, latchkey.CodeDeviceLimitExceeded},
		{"known device", func(vk *latchkey.VerifyKey) { vk.MaxDevices = 1; vk.Devices = []string{"a"} }, latchkey.VerifyRequest{DeviceID: "a"}, latchkey.CodeValid},
		{"rate limited", func(vk *latchkey.VerifyKey) { vk.RateLimit = &latchkey.RateLimit{Limit: 0, WindowSeconds: 60} }, latchkey.VerifyRequest{}, latchkey.CodeRateLimited},
		{"usage exceeded", func(vk *latchkey.VerifyKey) { vk.Credits = &latchkey.Credits{Remaining: 2} }, latchkey.VerifyRequest{Cost: ptr[int64](3)}, latchkey.CodeUsageExceeded},
		{"valid", nil2, latchkey.VerifyRequest{}, latchkey.CodeValid},
		{"valid with expiry", func(vk *latchkey.VerifyKey) { vk.ExpiresAt = &future }, latchkey.VerifyRequest{}, latchkey.CodeValid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := MustHarness(t)
			secret, hash := MustSecret(t)
			if tt.key != nil {
				vk := baseKey(7)
				tt.key(vk)
				if vk.Devices != nil {
					h.store.devices[7] = vk.Devices
					vk.Devices = nil
				}
				h.store.put(hash, vk)
			}
			req := tt.req
			req.Key = secret
			res := h.verify(t, req)
			wantCode(t, res, tt.want)
			if tt.want == latchkey.CodeNotFound {
				if res.KeyID != 0 || res.Name != "" || res.Permissions != nil || res.Meta != nil || res.RateLimit != nil || res.CreditsRemaining != nil {
					t.Fatalf("NOT_FOUND carries key fields: %+v", res)
				}
				return
			}
			if res.KeyID != 7 || res.AccountID != 1 || res.Name != "acme prod" || *res.OwnerEmail != "ops@acme.test" ||
				len(res.Permissions) != 2 || string(res.Meta) != `{"plan":"pro"}` {
				t.Fatalf("got %+v, want the key's fields", res)
			}
		})
	}
}

// nil2 leaves the base key as it is.
func nil2(*latchkey.VerifyKey) {}

func TestVerify_BadChecksum(t *testing.T) {
	h := MustHarness(t)
	secret := h.add(t, baseKey(1))
	last := secret[len(secret)-1]
	bad := secret[:len(secret)-1] + string(map[bool]byte{true: 'a', false: 'b'}[last != 'a'])
	for _, k := range []string{bad, "lk_short", "not a key at all", "_" + secret[3:]} {
		wantCode(t, h.verify(t, latchkey.VerifyRequest{Key: k}), latchkey.CodeNotFound)
	}
	if finds, _, _ := h.store.stats(); finds != 0 {
		t.Fatalf("got %d store lookups, want 0 for bad checksums", finds)
	}
	if _, err := h.v.Authenticate(context.Background(), bad); latchkey.ErrorCode(err) != latchkey.EUNAUTHORIZED {
		t.Fatalf("authenticate: got %v, want unauthorized", err)
	}
}

func TestVerify_InvalidRequest(t *testing.T) {
	h := MustHarness(t)
	for _, req := range []latchkey.VerifyRequest{
		{},
		{Key: "lk_x", Cost: ptr[int64](-1)},
		{Key: string(make([]byte, 300))},
	} {
		_, err := h.v.Verify(context.Background(), 1, &req)
		if want := req.Validate(); err == nil || err.Error() != want.Error() || latchkey.ErrorCode(err) != latchkey.EINVALID {
			t.Fatalf("got %v, want %v", err, want)
		}
	}
}

func TestVerify_Order(t *testing.T) {
	past := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		key  func(vk *latchkey.VerifyKey)
		req  latchkey.VerifyRequest
		want latchkey.VerifyCode
	}{
		{"revoked expired disabled", func(vk *latchkey.VerifyKey) {
			vk.RevokedAt, vk.ExpiresAt, vk.Enabled = &past, &past, false
		}, latchkey.VerifyRequest{}, latchkey.CodeRevoked},
		{"revoked and secret past grace", func(vk *latchkey.VerifyKey) { vk.RevokedAt, vk.SecretExpiresAt = &past, &past }, latchkey.VerifyRequest{}, latchkey.CodeRevoked},
		{"expired disabled", func(vk *latchkey.VerifyKey) { vk.ExpiresAt, vk.Enabled = &past, false }, latchkey.VerifyRequest{}, latchkey.CodeExpired},
		{"secret past grace and disabled", func(vk *latchkey.VerifyKey) { vk.SecretExpiresAt, vk.Enabled = &past, false }, latchkey.VerifyRequest{}, latchkey.CodeExpired},
		{"disabled without permissions", func(vk *latchkey.VerifyKey) { vk.Enabled = false }, latchkey.VerifyRequest{Permissions: []string{"x"}}, latchkey.CodeDisabled},
		{"permissions before devices", func(vk *latchkey.VerifyKey) { vk.MaxDevices = 1; vk.Devices = []string{"a"} },
			latchkey.VerifyRequest{Permissions: []string{"x"}, DeviceID: "b"}, latchkey.CodeInsufficientPermission},
		{"permissions before rate limit", func(vk *latchkey.VerifyKey) { vk.RateLimit = &latchkey.RateLimit{Limit: 0, WindowSeconds: 60} },
			latchkey.VerifyRequest{Permissions: []string{"x"}}, latchkey.CodeInsufficientPermission},
		{"devices before rate limit", func(vk *latchkey.VerifyKey) {
			vk.MaxDevices, vk.Devices, vk.RateLimit = 1, []string{"a"}, &latchkey.RateLimit{Limit: 0, WindowSeconds: 60}
		}, latchkey.VerifyRequest{DeviceID: "b"}, latchkey.CodeDeviceLimitExceeded},
		{"rate limit before credits", func(vk *latchkey.VerifyKey) {
			vk.RateLimit, vk.Credits = &latchkey.RateLimit{Limit: 0, WindowSeconds: 60}, &latchkey.Credits{Remaining: 0}
		}, latchkey.VerifyRequest{}, latchkey.CodeRateLimited},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := MustHarness(t)
			vk := baseKey(3)
			tt.key(vk)
			h.store.devices[3], vk.Devices = vk.Devices, nil
			wantCode(t, h.verify(t, latchkey.VerifyRequest{Key: h.add(t, vk), Permissions: tt.req.Permissions, DeviceID: tt.req.DeviceID}), tt.want)
			if _, adds, _ := h.store.stats(); adds != 0 {
				t.Fatalf("got %d AddDevice calls, want 0", adds)
			}
		})
	}
}

// A failed check spends neither rate-limit tokens nor credits, registers
// no device, and does not touch last_used_at, but is counted.
func TestVerify_NothingSpentOnFailure(t *testing.T) {
	for _, failing := range []latchkey.VerifyCode{
		latchkey.CodeRevoked, latchkey.CodeExpired, latchkey.CodeDisabled,
		latchkey.CodeInsufficientPermission, latchkey.CodeDeviceLimitExceeded,
	} {
		t.Run(string(failing), func(t *testing.T) {
			h := MustHarness(t)
			vk := baseKey(5)
			vk.RateLimit = &latchkey.RateLimit{Limit: 10, WindowSeconds: 60}
			vk.Credits = &latchkey.Credits{Remaining: 100}
			vk.MaxDevices = 1
			h.store.devices[5] = []string{"known"}
			req := latchkey.VerifyRequest{DeviceID: "known"}
			past := h.clock.Now().Add(-time.Hour)
			switch failing {
			case latchkey.CodeRevoked:
				vk.RevokedAt = &past
			case latchkey.CodeExpired:
				vk.ExpiresAt = &past
			case latchkey.CodeDisabled:
				vk.Enabled = false
			case latchkey.CodeInsufficientPermission:
				req.Permissions = []string{"nope"}
			case latchkey.CodeDeviceLimitExceeded:
				req.DeviceID = "new"
			}
			req.Key = h.add(t, vk)
			for range 3 {
				res := h.verify(t, req)
				wantCode(t, res, failing)
				if res.RateLimit == nil || res.RateLimit.Remaining != 10 || res.RateLimit.Limit != 10 {
					t.Fatalf("got rate limit %+v, want 10 of 10 remaining", res.RateLimit)
				}
				if res.CreditsRemaining == nil || *res.CreditsRemaining != 100 {
					t.Fatalf("got credits %v, want 100", res.CreditsRemaining)
				}
			}
			h.flush(t)
			if got := h.store.credits(5); got != 100 {
				t.Fatalf("got stored credits %d, want 100", got)
			}
			if got := h.store.lastUsed[5]; !got.IsZero() {
				t.Fatalf("got last_used_at %v, want unset", got)
			}
			if got := h.store.count(5, failing); got != 3 {
				t.Fatalf("got %d %s counted, want 3", got, failing)
			}
			if _, adds, _ := h.store.stats(); adds != 0 {
				t.Fatalf("got %d AddDevice calls, want 0", adds)
			}
		})
	}
}

func TestVerify_RateLimitedSpendsNoCredit(t *testing.T) {
	h := MustHarness(t)
	vk := baseKey(1)
	vk.RateLimit = &latchkey.RateLimit{Limit: 2, WindowSeconds: 60}
	vk.Credits = &latchkey.Credits{Remaining: 10}
	secret := h.add(t, vk)
	for i, want := range []int64{9, 8, 8, 8} {
		res := h.verify(t, latchkey.VerifyRequest{Key: secret})
		if i < 2 {
			wantCode(t, res, latchkey.CodeValid)
		} else {
			wantCode(t, res, latchkey.CodeRateLimited)
		}
		if *res.CreditsRemaining != want {
			t.Fatalf("verify %d: got %d credits, want %d", i, *res.CreditsRemaining, want)
		}
	}
}

func TestVerify_UsageExceededSpendsNothing(t *testing.T) {
	// Credits come after the rate limit, and nothing is spent unless
	// every check passes: a verification that would pass the rate limit
	// but lacks credits keeps its token (as the shared counters do).
	h := MustHarness(t)
	vk := baseKey(1)
	vk.RateLimit = &latchkey.RateLimit{Limit: 5, WindowSeconds: 60}
	vk.Credits = &latchkey.Credits{Remaining: 1}
	secret := h.add(t, vk)
	wantCode(t, h.verify(t, latchkey.VerifyRequest{Key: secret}), latchkey.CodeValid)
	res := h.verify(t, latchkey.VerifyRequest{Key: secret})
	wantCode(t, res, latchkey.CodeUsageExceeded)
	if res.RateLimit.Remaining != 4 || *res.CreditsRemaining != 0 {
		t.Fatalf("got %d tokens and %d credits left, want 4 and 0", res.RateLimit.Remaining, *res.CreditsRemaining)
	}
}

func TestVerify_CostZeroPeeks(t *testing.T) {
	h := MustHarness(t)
	vk := baseKey(1)
	vk.RateLimit = &latchkey.RateLimit{Limit: 3, WindowSeconds: 60}
	vk.Credits = &latchkey.Credits{Remaining: 5}
	secret := h.add(t, vk)
	for range 5 {
		res := h.verify(t, latchkey.VerifyRequest{Key: secret, Cost: ptr[int64](0)})
		wantCode(t, res, latchkey.CodeValid)
		if res.RateLimit.Remaining != 3 || *res.CreditsRemaining != 5 {
			t.Fatalf("peek spent: %d tokens and %d credits left, want 3 and 5", res.RateLimit.Remaining, *res.CreditsRemaining)
		}
	}
	res := h.verify(t, latchkey.VerifyRequest{Key: secret, Cost: ptr[int64](2)})
	wantCode(t, res, latchkey.CodeValid)
	if res.RateLimit.Remaining != 2 || *res.CreditsRemaining != 3 {
		t.Fatalf("got %d tokens and %d credits left, want 2 and 3 (one token per verification, cost in credits)", res.RateLimit.Remaining, *res.CreditsRemaining)
	}
	h.flush(t)
	if got := h.store.credits(1); got != 3 {
		t.Fatalf("got stored credits %d, want 3", got)
	}
	if got := h.store.count(1, latchkey.CodeValid); got != 6 {
		t.Fatalf("got %d VALID counted, want 6 (peeks count)", got)
	}
}

// hourlyCredits are credits with remaining left that refill to amount
// every hour, last refilled at refilled.
func hourlyCredits(refilled time.Time, remaining, amount int64) *latchkey.Credits {
	return &latchkey.Credits{Remaining: remaining, RefillAmount: &amount, RefillInterval: latchkey.RefillHour, RefilledAt: &refilled}
}

func TestVerify_CreditsRefill(t *testing.T) {
	h := MustHarness(t)
	vk := baseKey(1)
	vk.Credits = hourlyCredits(h.clock.Now(), 2, 3)
	secret := h.add(t, vk)
	for _, want := range []latchkey.VerifyCode{latchkey.CodeValid, latchkey.CodeValid, latchkey.CodeUsageExceeded} {
		wantCode(t, h.verify(t, latchkey.VerifyRequest{Key: secret}), want)
	}
	h.clock.Add(59 * time.Minute)
	wantCode(t, h.verify(t, latchkey.VerifyRequest{Key: secret}), latchkey.CodeUsageExceeded)
	h.clock.Add(time.Minute)
	res := h.verify(t, latchkey.VerifyRequest{Key: secret})
	wantCode(t, res, latchkey.CodeValid)
	if *res.CreditsRemaining != 2 {
		t.Fatalf("got %d credits after refill and one use, want 2", *res.CreditsRemaining)
	}
	h.flush(t)
	b := h.store.batches[len(h.store.batches)-1]
	if len(b.Keys) != 1 || b.Keys[0].RefilledAt == nil || !b.Keys[0].RefilledAt.Equal(h.clock.Now()) || b.Keys[0].CreditsSpent != 1 {
		t.Fatalf("got %+v, want a refill now and 1 credit spent after it", b.Keys)
	}
	if got := h.store.credits(1); got != 2 {
		t.Fatalf("got stored credits %d, want 2", got)
	}
}

func TestVerify_Devices(t *testing.T) {
	h := MustHarness(t)
	vk := baseKey(1)
	vk.MaxDevices = 2
	h.store.devices[1] = []string{"laptop"}
	secret := h.add(t, vk)
	dev := func(id string, want latchkey.VerifyCode) {
		t.Helper()
		wantCode(t, h.verify(t, latchkey.VerifyRequest{Key: secret, DeviceID: id}), want)
	}
	dev("laptop", latchkey.CodeValid) // known: no store call
	if _, adds, _ := h.store.stats(); adds != 0 {
		t.Fatalf("got %d AddDevice calls for a known device, want 0", adds)
	}
	dev("phone", latchkey.CodeValid) // new, under the limit: registered
	dev("phone", latchkey.CodeValid)
	if _, adds, _ := h.store.stats(); adds != 1 {
		t.Fatalf("got %d AddDevice calls, want 1", adds)
	}
	dev("tablet", latchkey.CodeDeviceLimitExceeded) // full in memory: no store call
	if _, adds, _ := h.store.stats(); adds != 1 {
		t.Fatalf("got %d AddDevice calls, want still 1", adds)
	}
	dev("", latchkey.CodeValid) // no device named: no check

	// Lowering the limit evicts nobody.
	h.store.update(1, func(vk *latchkey.VerifyKey) { vk.MaxDevices = 1 })
	h.invalidate(1)
	dev("laptop", latchkey.CodeValid)
	dev("phone", latchkey.CodeValid)
	dev("tablet", latchkey.CodeDeviceLimitExceeded)

	// Unlimited: devices are not checked.
	h.store.update(1, func(vk *latchkey.VerifyKey) { vk.MaxDevices = 0 })
	h.invalidate(1)
	dev("tablet", latchkey.CodeValid)
	if _, adds, _ := h.store.stats(); adds != 1 {
		t.Fatalf("got %d AddDevice calls, want still 1", adds)
	}
}

func TestVerify_DeviceStoreConflict(t *testing.T) {
	h := MustHarness(t)
	vk := baseKey(1)
	vk.MaxDevices = 2
	secret := h.add(t, vk)
	wantCode(t, h.verify(t, latchkey.VerifyRequest{Key: secret, DeviceID: "a"}), latchkey.CodeValid)
	// Another instance registered a device: the store refuses ours.
	h.store.with(func() { h.store.devices[1] = append(h.store.devices[1], "elsewhere") })
	wantCode(t, h.verify(t, latchkey.VerifyRequest{Key: secret, DeviceID: "b"}), latchkey.CodeDeviceLimitExceeded)

	h.store.with(func() { h.store.deviceErr = errors.New("disk on fire") })
	if _, err := h.v.Verify(context.Background(), 1, &latchkey.VerifyRequest{Key: secret, DeviceID: "c"}); err == nil {
		t.Fatal("got no error from a failing AddDevice")
	}
	h.store.with(func() { h.store.deviceErr = latchkey.Errorf(latchkey.ENOTFOUND, "key gone") })
	wantCode(t, h.verify(t, latchkey.VerifyRequest{Key: secret, DeviceID: "d"}), latchkey.CodeNotFound)
	if st := h.v.Stats(); st.Entries != 0 {
		t.Fatalf("got %d cached entries after the key vanished, want 0", st.Entries)
	}
}

func TestVerify_RateLimitWindow(t *testing.T) {
	h := MustHarness(t)
	vk := baseKey(1)
	vk.RateLimit = &latchkey.RateLimit{Limit: 2, WindowSeconds: 60}
	secret := h.add(t, vk)
	h.clock.Add(30 * time.Second) // 12:00:30, window 12:00–12:01
	reset := time.Date(2026, 3, 1, 12, 1, 0, 0, time.UTC)
	for i, want := range []latchkey.VerifyCode{latchkey.CodeValid, latchkey.CodeValid, latchkey.CodeRateLimited} {
		res := h.verify(t, latchkey.VerifyRequest{Key: secret})
		wantCode(t, res, want)
		if want := max(int64(1-i), 0); res.RateLimit.Remaining != want || !res.RateLimit.ResetAt.Equal(reset) || res.RateLimit.Limit != 2 {
			t.Fatalf("verify %d: got %+v, want remaining %d reset %v", i, res.RateLimit, want, reset)
		}
	}
	h.clock.Add(29 * time.Second)
	wantCode(t, h.verify(t, latchkey.VerifyRequest{Key: secret}), latchkey.CodeRateLimited)
	h.clock.Add(time.Second) // 12:01:00, a new window
	res := h.verify(t, latchkey.VerifyRequest{Key: secret})
	wantCode(t, res, latchkey.CodeValid)
	if res.RateLimit.Remaining != 1 || !res.RateLimit.ResetAt.Equal(reset.Add(time.Minute)) {
		t.Fatalf("got %+v, want a fresh window", res.RateLimit)
	}
}

func TestVerify_InvalidateRevoke(t *testing.T) {
	h := MustHarness(t)
	secret := h.add(t, baseKey(1))
	wantCode(t, h.verify(t, latchkey.VerifyRequest{Key: secret}), latchkey.CodeValid)
	now := h.clock.Now()
	h.store.update(1, func(vk *latchkey.VerifyKey) { vk.RevokedAt = &now })
	// Cached: the store is not read again until the change arrives.
	wantCode(t, h.verify(t, latchkey.VerifyRequest{Key: secret}), latchkey.CodeValid)
	if finds, _, _ := h.store.stats(); finds != 1 {
		t.Fatalf("got %d lookups, want 1", finds)
	}
	h.invalidate(1)
	wantCode(t, h.verify(t, latchkey.VerifyRequest{Key: secret}), latchkey.CodeRevoked)
	vk, err := h.v.Authenticate(context.Background(), secret)
	if err != nil || vk.StatusAt(h.clock.Now()) != latchkey.StatusRevoked {
		t.Fatalf("authenticate: got %v, %v, want the revoked key", vk, err)
	}
}

func TestVerify_InvalidateEvictsEverySecret(t *testing.T) {
	h := MustHarness(t)
	credits := &latchkey.Credits{Remaining: 10}
	old, cur := baseKey(1), baseKey(1)
	graceEnd := h.clock.Now().Add(time.Hour)
	old.SecretExpiresAt, old.Credits, cur.Credits = &graceEnd, credits, credits
	oldSecret, curSecret := h.add(t, old), h.add(t, cur)
	// Both secrets spend the key's one credit balance.
	wantCode(t, h.verify(t, latchkey.VerifyRequest{Key: oldSecret}), latchkey.CodeValid)
	if res := h.verify(t, latchkey.VerifyRequest{Key: curSecret}); *res.CreditsRemaining != 8 {
		t.Fatalf("got %d credits, want 8 shared by both secrets", *res.CreditsRemaining)
	}
	if st := h.v.Stats(); st.Entries != 2 || st.Keys != 1 {
		t.Fatalf("got %+v, want 2 entries of 1 key", st)
	}
	h.store.update(1, func(vk *latchkey.VerifyKey) { vk.Enabled = false })
	h.invalidate(1)
	if st := h.v.Stats(); st.Entries != 0 {
		t.Fatalf("got %d entries after invalidate, want 0", st.Entries)
	}
	wantCode(t, h.verify(t, latchkey.VerifyRequest{Key: oldSecret}), latchkey.CodeDisabled)
	wantCode(t, h.verify(t, latchkey.VerifyRequest{Key: curSecret}), latchkey.CodeDisabled)
	h.clock.Add(time.Hour)
	h.store.update(1, func(vk *latchkey.VerifyKey) { vk.Enabled = true })
	h.invalidate(1)
	wantCode(t, h.verify(t, latchkey.VerifyRequest{Key: oldSecret}), latchkey.CodeExpired)
	wantCode(t, h.verify(t, latchkey.VerifyRequest{Key: curSecret}), latchkey.CodeValid)
}

// A load that read the store before an invalidation must not cache what
// it read after it.
func TestVerify_StaleLoadRace(t *testing.T) {
	h := MustHarness(t)
	secret, hash := MustSecret(t)
	h.store.put(hash, baseKey(1))

	read, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	h.store.findHook = func(latchkey.SecretHash) {
		once.Do(func() { close(read); <-release }) // only the first find blocks
	}
	done := make(chan *latchkey.VerifyResult)
	go func() {
		res, err := h.v.Verify(context.Background(), 1, &latchkey.VerifyRequest{Key: secret})
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	<-read // the load has read the active key
	now := h.clock.Now()
	h.store.update(1, func(vk *latchkey.VerifyKey) { vk.RevokedAt = &now })
	h.invalidate(1)
	close(release)
	if res := <-done; res.Code != latchkey.CodeRevoked {
		t.Fatalf("racing verify: got %s, want REVOKED (reloaded after the invalidation)", res.Code)
	}
	wantCode(t, h.verify(t, latchkey.VerifyRequest{Key: secret}), latchkey.CodeRevoked)
	if finds, _, _ := h.store.stats(); finds != 2 {
		t.Fatalf("got %d lookups, want 2 (the stale one and one reload, then cached)", finds)
	}
}

// An invalidation of another key during a load does not stop it caching.
func TestVerify_UnrelatedInvalidationDuringLoad(t *testing.T) {
	h := MustHarness(t)
	secret := h.add(t, baseKey(1))
	var once sync.Once
	h.store.findHook = func(latchkey.SecretHash) { once.Do(func() { h.invalidate(2) }) }
	wantCode(t, h.verify(t, latchkey.VerifyRequest{Key: secret}), latchkey.CodeValid)
	wantCode(t, h.verify(t, latchkey.VerifyRequest{Key: secret}), latchkey.CodeValid)
	if finds, _, _ := h.store.stats(); finds != 1 {
		t.Fatalf("got %d lookups, want 1", finds)
	}
}

// A key invalidated during every load is still answered, from the last
// load, uncached.
func TestVerify_InvalidationStorm(t *testing.T) {
	h := MustHarness(t)
	secret := h.add(t, baseKey(1))
	h.store.findHook = func(latchkey.SecretHash) { h.invalidate(1) }
	wantCode(t, h.verify(t, latchkey.VerifyRequest{Key: secret}), latchkey.CodeValid)
	if finds, _, _ := h.store.stats(); finds != 3 {
		t.Fatalf("got %d lookups, want 3 attempts", finds)
	}
	if st := h.v.Stats(); st.Entries != 0 {
		t.Fatalf("got %d entries, want the stale load uncached", st.Entries)
	}
}

func TestVerify_NegativeCache(t *testing.T) {
	h := MustHarness(t)
	secret, hash := MustSecret(t)
	for range 3 {
		wantCode(t, h.verify(t, latchkey.VerifyRequest{Key: secret}), latchkey.CodeNotFound)
	}
	if finds, _, _ := h.store.stats(); finds != 1 {
		t.Fatalf("got %d lookups, want 1 (then the negative cache)", finds)
	}
	// The key appears (it cannot, for a fresh random secret, but an
	// invalidation or the TTL must end the negative entry anyway).
	h.store.put(hash, baseKey(9))
	wantCode(t, h.verify(t, latchkey.VerifyRequest{Key: secret}), latchkey.CodeNotFound)
	h.invalidate(9)
	wantCode(t, h.verify(t, latchkey.VerifyRequest{Key: secret}), latchkey.CodeValid)

	// TTL.
	secret2, hash2 := MustSecret(t)
	wantCode(t, h.verify(t, latchkey.VerifyRequest{Key: secret2}), latchkey.CodeNotFound)
	h.store.put(hash2, baseKey(10))
	h.clock.Add(inmem.DefaultNegativeTTL - time.Millisecond)
	wantCode(t, h.verify(t, latchkey.VerifyRequest{Key: secret2}), latchkey.CodeNotFound)
	h.clock.Add(time.Millisecond)
	wantCode(t, h.verify(t, latchkey.VerifyRequest{Key: secret2}), latchkey.CodeValid)
}

func TestVerify_NegativeCacheBounded(t *testing.T) {
	h := MustHarness(t)
	h.v.NegativeMax = 160
	for range 2000 {
		s, _ := MustSecret(t)
		wantCode(t, h.verify(t, latchkey.VerifyRequest{Key: s}), latchkey.CodeNotFound)
	}
	if st := h.v.Stats(); st.Negative > 160 || st.Negative == 0 {
		t.Fatalf("got %d negative entries, want 1..160", st.Negative)
	}
}

// A negative answer read before an invalidation is not cached.
func TestVerify_NegativeStaleLoad(t *testing.T) {
	h := MustHarness(t)
	secret, hash := MustSecret(t)
	var once sync.Once
	h.store.findHook = func(latchkey.SecretHash) {
		once.Do(func() { h.store.put(hash, baseKey(4)); h.invalidate(4) })
	}
	wantCode(t, h.verify(t, latchkey.VerifyRequest{Key: secret}), latchkey.CodeNotFound)
	wantCode(t, h.verify(t, latchkey.VerifyRequest{Key: secret}), latchkey.CodeValid)
}

func TestVerify_CoalescesLoads(t *testing.T) {
	h := MustHarness(t)
	secret := h.add(t, baseKey(1))
	release := make(chan struct{})
	var waiting atomic.Int32
	h.store.findHook = func(latchkey.SecretHash) { <-release }
	const n = 20
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			waiting.Add(1)
			res, err := h.v.Verify(context.Background(), 1, &latchkey.VerifyRequest{Key: secret})
			if err != nil || res.Code != latchkey.CodeValid {
				t.Errorf("got %v, %v, want VALID", res, err)
			}
		}()
	}
	for waiting.Load() < n {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(10 * time.Millisecond) // let them reach the load (a slower machine only coalesces fewer)
	close(release)
	wg.Wait()
	if finds, _, _ := h.store.stats(); finds > n/2 {
		t.Fatalf("got %d lookups for %d concurrent verifications, want them coalesced", finds, n)
	}
}

// A caller that gives up while another waits for its load does not fail
// the waiter.
func TestVerify_LoadLeaderCanceled(t *testing.T) {
	h := MustHarness(t)
	secret := h.add(t, baseKey(1))
	started, release := make(chan struct{}), make(chan struct{})
	var calls atomic.Int32
	h.store.findHook = func(latchkey.SecretHash) {
		if calls.Add(1) == 1 {
			close(started)
			<-release
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	store := &mock.VerifyStore{
		FindVerifyKeyFn: func(c context.Context, hash latchkey.SecretHash) (*latchkey.VerifyKey, error) {
			vk, err := h.store.FindVerifyKey(c, hash)
			if c.Err() != nil {
				return nil, c.Err()
			}
			return vk, err
		},
		FlushUsageFn: h.store.FlushUsage,
	}
	v := inmem.NewVerifier(store, h.lim, h.clock.Now, nil)
	leader := make(chan error)
	go func() {
		_, err := v.Verify(ctx, 1, &latchkey.VerifyRequest{Key: secret})
		leader <- err
	}()
	<-started
	follower := make(chan *latchkey.VerifyResult)
	go func() {
		res, err := v.Verify(context.Background(), 1, &latchkey.VerifyRequest{Key: secret})
		if err != nil {
			t.Error(err)
		}
		follower <- res
	}()
	time.Sleep(5 * time.Millisecond) // let the follower wait on the load
	cancel()
	close(release)
	if err := <-leader; !errors.Is(err, context.Canceled) {
		t.Fatalf("leader: got %v, want canceled", err)
	}
	if res := <-follower; res == nil || res.Code != latchkey.CodeValid {
		t.Fatalf("follower: got %v, want VALID", res)
	}
}

func TestVerify_StoreError(t *testing.T) {
	boom := errors.New("connection refused")
	store := &mock.VerifyStore{
		FindVerifyKeyFn: func(context.Context, latchkey.SecretHash) (*latchkey.VerifyKey, error) { return nil, boom },
	}
	v := inmem.NewVerifier(store, inmem.NewRateLimiter(), nil, nil)
	secret, _ := MustSecret(t)
	if _, err := v.Verify(context.Background(), 1, &latchkey.VerifyRequest{Key: secret}); !errors.Is(err, boom) {
		t.Fatalf("got %v, want the store's error", err)
	}
	if _, err := v.Authenticate(context.Background(), secret); !errors.Is(err, boom) {
		t.Fatalf("authenticate: got %v, want the store's error", err)
	}
	if st := v.Stats(); st.Negative != 0 {
		t.Fatalf("got %d negative entries after a store error, want 0", st.Negative)
	}
}

func TestVerify_LimiterError(t *testing.T) {
	h := MustHarness(t)
	boom := errors.New("redis down")
	v := inmem.NewVerifier(h.store, &mock.RateLimiter{
		TakeFn: func(context.Context, int64, latchkey.RateLimit, int64, time.Time) (latchkey.RateLimitState, bool, error) {
			return latchkey.RateLimitState{}, false, boom
		},
	}, h.clock.Now, nil)
	vk := baseKey(1)
	vk.RateLimit = &latchkey.RateLimit{Limit: 5, WindowSeconds: 60}
	secret := h.add(t, vk)
	if _, err := v.Verify(context.Background(), 1, &latchkey.VerifyRequest{Key: secret}); !errors.Is(err, boom) {
		t.Fatalf("got %v, want the limiter's error", err)
	}
}

// The limiter is asked for one token only when every earlier check
// passed and the request costs something; otherwise it is peeked.
func TestVerify_LimiterTokens(t *testing.T) {
	h := MustHarness(t)
	var tokens []int64
	v := inmem.NewVerifier(h.store, &mock.RateLimiter{
		TakeFn: func(_ context.Context, _ int64, rl latchkey.RateLimit, cost int64, now time.Time) (latchkey.RateLimitState, bool, error) {
			tokens = append(tokens, cost)
			return latchkey.RateLimitState{Limit: rl.Limit, Remaining: rl.Limit, ResetAt: now}, true, nil
		},
	}, h.clock.Now, nil)
	vk := baseKey(1)
	vk.RateLimit = &latchkey.RateLimit{Limit: 5, WindowSeconds: 60}
	secret := h.add(t, vk)
	for _, req := range []latchkey.VerifyRequest{
		{Key: secret},
		{Key: secret, Cost: ptr[int64](0)},
		{Key: secret, Cost: ptr[int64](7)},
		{Key: secret, Permissions: []string{"nope"}},
	} {
		if _, err := v.Verify(context.Background(), 1, &req); err != nil {
			t.Fatal(err)
		}
	}
	if want := []int64{1, 0, 1, 0}; !slices.Equal(tokens, want) {
		t.Fatalf("got tokens %v, want %v", tokens, want)
	}
}

func TestAuthenticate(t *testing.T) {
	h := MustHarness(t)
	root := baseKey(1)
	root.Kind, root.AccountID, root.Permissions = latchkey.KindRoot, 2, latchkey.RootPermissions
	secret := h.add(t, root)
	vk, err := h.v.Authenticate(context.Background(), secret)
	if err != nil || vk.KeyID != 1 || vk.Kind != latchkey.KindRoot || vk.AccountID != 2 {
		t.Fatalf("got %+v, %v, want the root key", vk, err)
	}
	// A root key never verifies, not even in its own account.
	res, err := h.v.Verify(context.Background(), 2, &latchkey.VerifyRequest{Key: secret})
	if err != nil || res.Code != latchkey.CodeNotFound {
		t.Fatalf("got %v, %v, want NOT_FOUND", res, err)
	}
	unknown, _ := MustSecret(t)
	for _, s := range []string{unknown, "garbage", ""} {
		if _, err := h.v.Authenticate(context.Background(), s); latchkey.ErrorCode(err) != latchkey.EUNAUTHORIZED || latchkey.ErrorMessage(err) != "invalid credential" {
			t.Fatalf("got %v, want unauthorized", err)
		}
	}
	if finds, _, _ := h.store.stats(); finds != 2 {
		t.Fatalf("got %d lookups, want 2 (cached root key, one unknown)", finds)
	}
	// Revoking the root key reaches authentication at once.
	now := h.clock.Now()
	h.store.update(1, func(vk *latchkey.VerifyKey) { vk.RevokedAt = &now })
	h.v.Invalidate(latchkey.KeyChange{AccountID: 2, KeyID: 1})
	vk, err = h.v.Authenticate(context.Background(), secret)
	if err != nil || vk.StatusAt(now) != latchkey.StatusRevoked {
		t.Fatalf("got %+v, %v, want the revoked key", vk, err)
	}
}

func TestFlush_Batch(t *testing.T) {
	h := MustHarness(t)
	vk := baseKey(1)
	vk.Credits = &latchkey.Credits{Remaining: 100}
	secret := h.add(t, vk)
	revoked := baseKey(2)
	revoked.RevokedAt = ptr(h.clock.Now())
	revokedSecret := h.add(t, revoked)
	minute := h.clock.Now()

	h.flush(t) // nothing to write: no call
	if _, _, flushes := h.store.stats(); flushes != 0 {
		t.Fatalf("got %d flushes of nothing, want 0", flushes)
	}
	for range 3 {
		h.verify(t, latchkey.VerifyRequest{Key: secret, Cost: ptr[int64](2)})
	}
	h.verify(t, latchkey.VerifyRequest{Key: secret, Permissions: []string{"x"}})
	h.verify(t, latchkey.VerifyRequest{Key: revokedSecret})
	unknown, _ := MustSecret(t)
	h.verify(t, latchkey.VerifyRequest{Key: unknown})
	h.clock.Add(90 * time.Second)
	h.verify(t, latchkey.VerifyRequest{Key: secret})
	h.flush(t)

	if _, _, flushes := h.store.stats(); flushes != 1 {
		t.Fatalf("got %d flushes, want 1 batch", flushes)
	}
	b := h.store.batches[0]
	wantKeys := []latchkey.KeyUsage{{KeyID: 1, LastUsedAt: h.clock.Now(), CreditsSpent: 7}}
	if !slices.EqualFunc(b.Keys, wantKeys, func(a, b latchkey.KeyUsage) bool {
		return a.KeyID == b.KeyID && a.LastUsedAt.Equal(b.LastUsedAt) && a.CreditsSpent == b.CreditsSpent && a.RefilledAt == nil
	}) {
		t.Fatalf("got keys %+v, want %+v", b.Keys, wantKeys)
	}
	m1 := minute.Truncate(time.Minute)
	want := map[countKey]int64{
		{1, m1, latchkey.CodeValid}:                  3,
		{1, m1, latchkey.CodeInsufficientPermission}: 1,
		{1, m1.Add(time.Minute), latchkey.CodeValid}: 1,
		{2, m1, latchkey.CodeRevoked}:                1,
	}
	got := map[countKey]int64{}
	for _, c := range b.Counts {
		got[countKey{c.KeyID, c.Minute, c.Code}] += c.Count
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got counts %v, want %v", got, want)
	}
	if got := h.store.credits(1); got != 93 {
		t.Fatalf("got stored credits %d, want 93", got)
	}
	h.flush(t) // nothing new
	if _, _, flushes := h.store.stats(); flushes != 1 {
		t.Fatalf("got %d flushes, want still 1", flushes)
	}
}

func TestFlush_FailureKeepsUsage(t *testing.T) {
	h := MustHarness(t)
	vk := baseKey(1)
	vk.Credits = &latchkey.Credits{Remaining: 100}
	secret := h.add(t, vk)
	h.verifyN(t, latchkey.VerifyRequest{Key: secret}, 5)
	h.store.with(func() { h.store.flushErr = errors.New("database is locked") })
	if err := h.v.Flush(context.Background()); err == nil {
		t.Fatal("got no error from a failing flush")
	}
	h.clock.Add(time.Minute)
	h.verifyN(t, latchkey.VerifyRequest{Key: secret}, 2)
	if err := h.v.Flush(context.Background()); err == nil {
		t.Fatal("got no error from a failing flush")
	}
	// While the usage is unwritten, a reload subtracts it from the store's
	// credits.
	h.invalidate(1)
	if res := h.verify(t, latchkey.VerifyRequest{Key: secret, Cost: ptr[int64](0)}); *res.CreditsRemaining != 93 {
		t.Fatalf("got %d credits after reload, want 93 (100 stored − 7 unflushed)", *res.CreditsRemaining)
	}
	h.store.with(func() { h.store.flushErr = nil })
	h.flush(t)
	if got := h.store.credits(1); got != 93 {
		t.Fatalf("got stored credits %d, want 93", got)
	}
	if got := h.store.count(1, latchkey.CodeValid); got != 8 {
		t.Fatalf("got %d VALID counted, want 8", got)
	}
	if got := h.store.lastUsed[1]; !got.Equal(h.clock.Now()) {
		t.Fatalf("got last used %v, want %v", got, h.clock.Now())
	}
	// And the reload after the flush agrees.
	h.invalidate(1)
	if res := h.verify(t, latchkey.VerifyRequest{Key: secret, Cost: ptr[int64](0)}); *res.CreditsRemaining != 93 {
		t.Fatalf("got %d credits, want 93", *res.CreditsRemaining)
	}
}

// TestFlush_Chunks checks that a flush writes at most FlushBatch keys a
// store call, that every key is written once, and that a failing chunk
// keeps what the chunks before it wrote and its own usage for later.
func TestFlush_Chunks(t *testing.T) {
	h := MustHarness(t)
	h.v.FlushBatch = 3
	const n = 10
	secrets := make([]string, n)
	for i := range n {
		secrets[i] = h.add(t, baseKey(int64(i+1)))
	}
	verifyAll := func() {
		for _, s := range secrets {
			h.verify(t, latchkey.VerifyRequest{Key: s})
		}
	}
	counted := func() (total int64, keys int) {
		for i := range n {
			if c := h.store.count(int64(i+1), latchkey.CodeValid); c > 0 {
				total += c
				keys++
			}
		}
		return total, keys
	}

	verifyAll()
	h.store.with(func() { h.store.failFlush = h.store.flushes + 2 }) // the second chunk fails
	if err := h.v.Flush(context.Background()); err == nil {
		t.Fatal("got no error from a flush whose second chunk failed")
	}
	if total, keys := counted(); total != 3 || keys != 3 {
		t.Fatalf("after a failed second chunk: %d verifications of %d keys written, want the first chunk's 3 of 3", total, keys)
	}
	verifyAll()
	h.flush(t)
	if total, keys := counted(); total != 2*n || keys != n {
		t.Fatalf("after the retry: %d verifications of %d keys written, want %d of %d", total, keys, 2*n, n)
	}
	h.store.mu.Lock()
	defer h.store.mu.Unlock()
	for i, b := range h.store.batches {
		if len(b.Keys) > 3 {
			t.Errorf("store call %d wrote %d keys, want at most FlushBatch (3)", i, len(b.Keys))
		}
	}
}

// TestFlush_OwesWhatWasBuffered keeps other keys busy while a chunked
// flush runs: it still writes every key that was dirty when it began, and
// it ends.
func TestFlush_OwesWhatWasBuffered(t *testing.T) {
	h := MustHarness(t)
	h.v.FlushBatch = 2
	const n = 12
	secrets := make([]string, n)
	for i := range n {
		secrets[i] = h.add(t, baseKey(int64(i+1)))
	}
	for _, s := range secrets[6:] { // cached and clean
		h.verify(t, latchkey.VerifyRequest{Key: s})
	}
	h.flush(t)
	for _, s := range secrets[:6] { // owed by the next flush
		h.verify(t, latchkey.VerifyRequest{Key: s})
	}
	calls := 0
	h.store.flushHook = func() {
		if calls++; calls > 20 {
			return
		}
		for _, s := range secrets[6:] { // dirty again while the flush runs
			h.verify(t, latchkey.VerifyRequest{Key: s})
		}
	}
	if err := h.v.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.store.flushHook = nil
	for i := range 6 {
		if got := h.store.count(int64(i+1), latchkey.CodeValid); got != 1 {
			t.Errorf("key %d: %d verifications written, want the 1 buffered before the flush", i+1, got)
		}
	}
	if calls > 6 {
		t.Errorf("the flush made %d store calls for 6 owed keys in chunks of 2; it chased the new ones", calls)
	}
}

// A refill after a failed flush makes the failed batch's spend moot.
func TestFlush_FailureThenRefill(t *testing.T) {
	h := MustHarness(t)
	vk := baseKey(1)
	vk.Credits = hourlyCredits(h.clock.Now(), 10, 10)
	secret := h.add(t, vk)
	h.verifyN(t, latchkey.VerifyRequest{Key: secret}, 4)
	h.store.with(func() { h.store.flushErr = errors.New("timeout") })
	if err := h.v.Flush(context.Background()); err == nil {
		t.Fatal("got no error")
	}
	h.clock.Add(time.Hour)
	h.verify(t, latchkey.VerifyRequest{Key: secret}) // refill to 10, spend 1
	h.store.with(func() { h.store.flushErr = nil })
	h.flush(t)
	if got := h.store.credits(1); got != 9 {
		t.Fatalf("got stored credits %d, want 9", got)
	}
}

func TestClose_Flushes(t *testing.T) {
	store := newFakeStore()
	clock := newTestClock()
	v := inmem.NewVerifier(store, inmem.NewRateLimiter(), clock.Now, nil)
	secret, hash := MustSecret(t)
	store.put(hash, baseKey(1))
	if _, err := v.Verify(context.Background(), 1, &latchkey.VerifyRequest{Key: secret}); err != nil {
		t.Fatal(err)
	}
	if err := v.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := store.count(1, latchkey.CodeValid); got != 1 {
		t.Fatalf("got %d counted after Close, want 1", got)
	}
	store.flushErr = errors.New("gone")
	if _, err := v.Verify(context.Background(), 1, &latchkey.VerifyRequest{Key: secret}); err != nil {
		t.Fatal(err)
	}
	if err := v.Close(context.Background()); err == nil {
		t.Fatal("got no error from a failing final flush")
	}
}

func TestRun_FlushesUntilDone(t *testing.T) {
	store := newFakeStore()
	v := inmem.NewVerifier(store, inmem.NewRateLimiter(), nil, nil)
	v.FlushInterval = time.Millisecond
	secret, hash := MustSecret(t)
	store.put(hash, baseKey(1))
	if _, err := v.Verify(context.Background(), 1, &latchkey.VerifyRequest{Key: secret}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); v.Run(ctx) }()
	for store.count(1, latchkey.CodeValid) != 1 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
}

func TestVerify_MaxEntries(t *testing.T) {
	h := MustHarness(t)
	h.v.MaxEntries = 256 // 2 per shard
	var secrets []string
	for i := range 1000 {
		secrets = append(secrets, h.add(t, baseKey(int64(i+1))))
	}
	for _, s := range secrets {
		wantCode(t, h.verify(t, latchkey.VerifyRequest{Key: s}), latchkey.CodeValid)
	}
	st := h.v.Stats()
	if st.Entries > 256 || st.Entries < 128 {
		t.Fatalf("got %d entries, want at most 256", st.Entries)
	}
	h.flush(t) // keys whose secrets were evicted are forgotten once written
	if st := h.v.Stats(); st.Keys != st.Entries {
		t.Fatalf("got %d keys for %d entries, want one each", st.Keys, st.Entries)
	}
	for _, s := range secrets { // evicted ones reload
		wantCode(t, h.verify(t, latchkey.VerifyRequest{Key: s}), latchkey.CodeValid)
	}
	h.flush(t)
	if got := h.store.count(500, latchkey.CodeValid); got != 2 {
		t.Fatalf("got %d counted, want 2", got)
	}
}

// Many goroutines verifying, invalidating and flushing at once: run with
// -race. Every VALID verification is counted and spends exactly its cost.
func TestVerify_Concurrent(t *testing.T) {
	h := MustHarness(t)
	const keys = 8
	var secrets []string
	for i := range keys {
		vk := baseKey(int64(i + 1))
		vk.Credits = &latchkey.Credits{Remaining: 1_000_000}
		vk.RateLimit = &latchkey.RateLimit{Limit: 1_000_000, WindowSeconds: 3600}
		vk.MaxDevices = 3
		secrets = append(secrets, h.add(t, vk))
	}
	var valid [keys]atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	var bg sync.WaitGroup
	bg.Add(2)
	go func() {
		defer bg.Done()
		for i := 0; ctx.Err() == nil; i++ {
			h.invalidate(int64(i%keys + 1))
			time.Sleep(50 * time.Microsecond)
		}
	}()
	go func() {
		defer bg.Done()
		for ctx.Err() == nil {
			_ = h.v.Flush(ctx)
			h.v.Stats()
			time.Sleep(100 * time.Microsecond)
		}
	}()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				k := (g + i) % keys
				req := latchkey.VerifyRequest{Key: secrets[k], DeviceID: fmt.Sprint("dev", i%4)}
				res, err := h.v.Verify(context.Background(), 1, &req)
				if err != nil {
					t.Error(err)
					return
				}
				switch res.Code {
				case latchkey.CodeValid:
					valid[k].Add(1)
				case latchkey.CodeDeviceLimitExceeded:
				default:
					t.Errorf("got %s", res.Code)
					return
				}
				if i%100 == 0 {
					if _, err := h.v.Authenticate(context.Background(), secrets[k]); err != nil {
						t.Error(err)
					}
				}
			}
		}()
	}
	wg.Wait()
	cancel()
	bg.Wait()
	h.flush(t)
	for k := range keys {
		id := int64(k + 1)
		if got, want := h.store.count(id, latchkey.CodeValid), valid[k].Load(); got != want {
			t.Errorf("key %d: got %d VALID counted, want %d", id, got, want)
		}
		if got, want := h.store.credits(id), 1_000_000-valid[k].Load(); got != want {
			t.Errorf("key %d: got %d credits stored, want %d", id, got, want)
		}
		if n := len(h.store.devices[id]); n != 3 {
			t.Errorf("key %d: got %d devices, want 3", id, n)
		}
	}
}
