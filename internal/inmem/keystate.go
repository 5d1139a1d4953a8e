// A key's in-memory state, shared by its cached secrets: devices, credits
// and the usage not yet flushed.

package inmem

import (
	"strings"
	"sync"
	"time"

	"github.com/latchkey/latchkey"
)

// smallDeviceSet is how many devices a key keeps in a slice before it
// also indexes them in a map.
const smallDeviceSet = 16

// keyState is the in-memory state of one key: the index of its cached
// secrets, the devices and credits as verification changes them, and the
// usage not yet written to the store.
type keyState struct {
	id     int64
	hashes []latchkey.SecretHash  // guarded by the key shard's mu
	hash1  [1]latchkey.SecretHash // hashes' first array

	mu         sync.Mutex
	gen        uint64 // bumped by every invalidation of the key
	stateGen   uint64 // gen when devices and credits were loaded
	loaded     bool
	devices    []string
	deviceSet  map[string]struct{} // devices, once there are many
	hasCredits bool
	credits    latchkey.Credits // remaining as spent in memory
	sharedBase *time.Time       // the baseline the shared counters last answered with
	// debt is what was spent here while the shared counters could not be
	// reached, against the baseline debtBase: owed to them once they are
	// back.
	debt      int64
	debtBase  *time.Time
	refills   bool      // credits refill
	refillDue time.Time // Refill is called from then on
	dirty     bool      // listed in a dirty shard
	inFlush   bool      // a flush holds usage of this key
	p         *pending  // usage since the last flush; nil if none
}

type keyShard struct {
	mu sync.Mutex
	m  map[int64]*keyState
}

// load resets the devices and credits from a snapshot loaded from the
// store, less the credits spent in memory and not yet flushed.
func (ks *keyState) load(vk *latchkey.VerifyKey) {
	ks.loaded, ks.stateGen = true, ks.gen
	ks.devices, ks.deviceSet = vk.Devices, nil
	if len(ks.devices) > smallDeviceSet {
		ks.indexDevices()
	}
	ks.hasCredits, ks.credits, ks.refills = vk.Credits != nil, latchkey.Credits{}, false
	if vk.Credits == nil {
		return
	}
	c := *vk.Credits
	if p := ks.p; p != nil {
		if p.refilledAt != nil && c.RefillAmount != nil && (c.RefilledAt == nil || p.refilledAt.After(*c.RefilledAt)) {
			c.Remaining, c.RefilledAt = *c.RefillAmount, p.refilledAt
		}
		c.Remaining = max(c.Remaining-p.spent, 0)
	}
	ks.credits, ks.sharedBase, ks.debt, ks.debtBase = c, nil, 0, nil
	ks.scheduleRefill()
}

// scheduleRefill notes when the credits next refill, so verification calls
// Credits.Refill (which allocates) only when one may be due.
func (ks *keyState) scheduleRefill() {
	c := &ks.credits
	ks.refills = c.RefillAmount != nil && c.RefillInterval != ""
	switch {
	case !ks.refills:
	case c.RefilledAt == nil:
		ks.refillDue = time.Time{} // at once
	default:
		ks.refillDue = c.RefillInterval.Next(*c.RefilledAt)
	}
}

// hasDevice reports whether the key knows the device.
func (ks *keyState) hasDevice(dev string) bool {
	if ks.deviceSet != nil {
		_, ok := ks.deviceSet[dev]
		return ok
	}
	for _, d := range ks.devices {
		if d == dev {
			return true
		}
	}
	return false
}

// addDevice remembers a device of the key, indexing them once there are
// many.
func (ks *keyState) addDevice(dev string) {
	if ks.hasDevice(dev) {
		return
	}
	dev = strings.Clone(dev)
	ks.devices = append(ks.devices, dev)
	if ks.deviceSet != nil {
		ks.deviceSet[dev] = struct{}{}
	} else if len(ks.devices) > smallDeviceSet {
		ks.indexDevices()
	}
}

// indexDevices builds deviceSet from devices.
func (ks *keyState) indexDevices() {
	ks.deviceSet = make(map[string]struct{}, len(ks.devices))
	for _, d := range ks.devices {
		ks.deviceSet[d] = struct{}{}
	}
}

// creditsCover reports whether the key's credits (after a refill due at
// now) cover cost; true for a key without credits.
func (ks *keyState) creditsCover(cost int64, now time.Time) bool {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if !ks.hasCredits {
		return true
	}
	if ks.refills && !now.Before(ks.refillDue) {
		rem, _ := ks.credits.Refill(now)
		return rem >= cost
	}
	return ks.credits.Remaining >= cost
}
