// fakeStore, the in-memory VerifyStore the tests verify against.

package inmem_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey"

	"github.com/latchkey/latchkey/internal/testenv"
)

// fakeStore is an in-memory latchkey.VerifyStore that applies flushes as
// the real stores do and counts its calls.
type fakeStore struct {
	mu       sync.Mutex
	keys     map[latchkey.SecretHash]*latchkey.VerifyKey // by secret
	byID     map[int64][]*latchkey.VerifyKey             // the same, by key id
	devices  map[int64][]string
	lastUsed map[int64]time.Time
	counts   map[countKey]int64
	batches  []*latchkey.UsageBatch

	finds, addDevices, flushes int

	flushErr  error                     // FlushUsage fails with it while set
	failFlush int                       // FlushUsage call number (1-based) that fails; 0: none
	flushHook func()                    // called at the start of FlushUsage, without the lock
	deviceErr error                     // AddDevice fails with it while set
	findHook  func(latchkey.SecretHash) // called after a find reads, before it returns
	findErr   error                     // FindVerifyKey fails with it while set
}

type countKey struct {
	keyID  int64
	minute time.Time
	code   latchkey.VerifyCode
}

// with runs fn, which sets the store's fields, under its lock.
func (s *fakeStore) with(fn func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn()
}

func newFakeStore() *fakeStore {
	return &fakeStore{
		keys:     make(map[latchkey.SecretHash]*latchkey.VerifyKey),
		byID:     make(map[int64][]*latchkey.VerifyKey),
		devices:  make(map[int64][]string),
		lastUsed: make(map[int64]time.Time),
		counts:   make(map[countKey]int64),
	}
}

// put stores a key's snapshot under a secret hash. Secrets of one key
// should share its Credits.
func (s *fakeStore) put(h latchkey.SecretHash, vk *latchkey.VerifyKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[h] = vk
	s.byID[vk.KeyID] = append(s.byID[vk.KeyID], vk)
}

// remove forgets every secret of a key, as a delete would.
func (s *fakeStore) remove(keyID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for h, vk := range s.keys {
		if vk.KeyID == keyID {
			delete(s.keys, h)
		}
	}
	delete(s.byID, keyID)
}

// update changes every secret of a key.
func (s *fakeStore) update(keyID int64, fn func(*latchkey.VerifyKey)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, vk := range s.byID[keyID] {
		fn(vk)
	}
}

// FindVerifyKey returns a fresh copy, as a database would.
func (s *fakeStore) FindVerifyKey(ctx context.Context, h latchkey.SecretHash) (*latchkey.VerifyKey, error) {
	s.mu.Lock()
	s.finds++
	if err := s.findErr; err != nil {
		s.mu.Unlock()
		return nil, err
	}
	vk, ok := s.keys[h]
	var out *latchkey.VerifyKey
	if ok {
		out = cloneVerifyKey(vk)
		out.Devices = slices.Clone(s.devices[vk.KeyID])
	}
	hook := s.findHook
	s.mu.Unlock()
	if hook != nil {
		hook(h)
	}
	if !ok {
		return nil, latchkey.Errorf(latchkey.ENOTFOUND, "key not found")
	}
	return out, nil
}

func (s *fakeStore) AddDevice(ctx context.Context, keyID int64, deviceID string, max int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addDevices++
	if s.deviceErr != nil {
		return s.deviceErr
	}
	ds := s.devices[keyID]
	if slices.Contains(ds, deviceID) {
		return nil
	}
	if max > 0 && int64(len(ds)) >= max {
		return latchkey.Errorf(latchkey.ECONFLICT, "device limit reached")
	}
	s.devices[keyID] = append(ds, deviceID)
	return nil
}

func (s *fakeStore) FlushUsage(ctx context.Context, b *latchkey.UsageBatch) error {
	if s.flushHook != nil {
		s.flushHook()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.flushes++
	if s.flushErr != nil {
		return s.flushErr
	}
	if s.flushes == s.failFlush {
		return errors.New("flush failed (test)")
	}
	s.batches = append(s.batches, &latchkey.UsageBatch{Keys: slices.Clone(b.Keys), Counts: slices.Clone(b.Counts)})
	for _, u := range b.Keys {
		if u.LastUsedAt.After(s.lastUsed[u.KeyID]) {
			s.lastUsed[u.KeyID] = u.LastUsedAt
		}
		for _, vk := range s.byID[u.KeyID] {
			if vk.Credits == nil {
				continue
			}
			c := vk.Credits
			if u.RefilledAt != nil && c.RefillAmount != nil && (c.RefilledAt == nil || u.RefilledAt.After(*c.RefilledAt)) {
				c.Remaining, c.RefilledAt = *c.RefillAmount, u.RefilledAt
			}
			c.Remaining = max(c.Remaining-u.CreditsSpent, 0)
			break // secrets of a key share its Credits
		}
	}
	for _, c := range b.Counts {
		s.counts[countKey{c.KeyID, c.Minute, c.Code}] += c.Count
	}
	return nil
}

func (s *fakeStore) stats() (finds, addDevices, flushes int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.finds, s.addDevices, s.flushes
}

// credits returns the stored remaining credits of a key.
func (s *fakeStore) credits(keyID int64) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, vk := range s.byID[keyID] {
		if vk.Credits != nil {
			return vk.Credits.Remaining
		}
	}
	return -1
}

// count returns the stored count of a key's outcome, over all minutes.
func (s *fakeStore) count(keyID int64, code latchkey.VerifyCode) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for k, c := range s.counts {
		if k.keyID == keyID && k.code == code {
			n += c
		}
	}
	return n
}

func cloneVerifyKey(vk *latchkey.VerifyKey) *latchkey.VerifyKey {
	out := *vk
	out.Name = strings.Clone(vk.Name)
	out.Permissions = nil
	for _, p := range vk.Permissions {
		out.Permissions = append(out.Permissions, strings.Clone(p))
	}
	out.Meta = slices.Clone(vk.Meta)
	if vk.Credits != nil {
		c := *vk.Credits
		out.Credits = &c
	}
	if vk.RateLimit != nil {
		rl := *vk.RateLimit
		out.RateLimit = &rl
	}
	return &out
}

// newTestClock is a test clock (testenv.Clock) at a fixed time.
func newTestClock() *testenv.Clock {
	return testenv.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
}

func ptr[T any](v T) *T { return &v }

// MustSecret returns a fresh secret and its hash.
func MustSecret(tb testing.TB) (string, latchkey.SecretHash) {
	tb.Helper()
	s, h, _ := latchkey.NewSecret(latchkey.DefaultKeyPrefix)
	return s, h
}

// baseKey is an active api key of account 1 with no limits.
func baseKey(id int64) *latchkey.VerifyKey {
	return &latchkey.VerifyKey{
		KeyID:       id,
		AccountID:   1,
		Kind:        latchkey.KindAPI,
		Name:        "acme prod",
		OwnerEmail:  ptr("ops@acme.test"),
		Enabled:     true,
		Permissions: []string{"readApplications", "writeApplications"},
		Meta:        json.RawMessage(`{"plan":"pro"}`),
	}
}
