// The verify cache: cached secrets by hash, loads that concurrent lookups
// share, invalidation and the negative cache.

package inmem

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/latchkey/latchkey"
)

const (
	entryShards = 128 // by secret hash
	keyShards   = 64  // by key id
	negShards   = 16  // by secret hash
	invalRing   = 1024
	// loadAttempts bounds the reloads of a secret whose key is
	// invalidated while it loads; the last load is used, uncached.
	loadAttempts = 3
)

// entry is one cached secret: an immutable snapshot of its key, and the
// key's mutable state shared by all its secrets. Devices and Credits live
// in ks, so vk's are nil; what vk points to is mostly held in the entry
// itself (see newEntry).
type entry struct {
	vk        latchkey.VerifyKey
	ks        *keyState
	rateLimit latchkey.RateLimit
	expiresAt time.Time
	email     string
	credits   bool // the snapshot has credits (their state lives in ks)
	// staleAt (Unix nanoseconds) is when the snapshot has been trusted
	// for MaxAge: from then on a verification starts a refresh from the
	// store and goes on with the snapshot meanwhile. A refresh that fails
	// moves it on by refreshRetry.
	staleAt atomic.Int64
}

// newEntry copies a snapshot from the store into one compact entry: the
// rate limit and expiry inside it, and the name, owner email and
// permission names in one string. Fewer, denser objects per cached key
// mean less memory, fewer cache misses on the hot path and less for the
// garbage collector to mark.
func newEntry(vk *latchkey.VerifyKey, ks *keyState) *entry {
	e := &entry{vk: *vk, ks: ks, credits: vk.Credits != nil}
	e.vk.Devices, e.vk.Credits = nil, nil
	switch vk.Kind { // constants instead of the store's copies
	case latchkey.KindAPI:
		e.vk.Kind = latchkey.KindAPI
	case latchkey.KindRoot:
		e.vk.Kind = latchkey.KindRoot
	}
	if vk.RateLimit != nil {
		e.rateLimit = *vk.RateLimit
		e.vk.RateLimit = &e.rateLimit
	}
	if vk.ExpiresAt != nil {
		e.expiresAt = *vk.ExpiresAt
		e.vk.ExpiresAt = &e.expiresAt
	}
	n := len(vk.Name)
	if vk.OwnerEmail != nil {
		n += len(*vk.OwnerEmail)
	}
	for _, p := range vk.Permissions {
		n += len(p)
	}
	var b strings.Builder
	b.Grow(n)
	b.WriteString(vk.Name)
	if vk.OwnerEmail != nil {
		b.WriteString(*vk.OwnerEmail)
	}
	for _, p := range vk.Permissions {
		b.WriteString(p)
	}
	all, off := b.String(), 0
	next := func(l int) string { off += l; return all[off-l : off] }
	e.vk.Name = next(len(vk.Name))
	if vk.OwnerEmail != nil {
		e.email = next(len(*vk.OwnerEmail))
		e.vk.OwnerEmail = &e.email
	}
	if vk.Permissions != nil {
		e.vk.Permissions = make([]string, len(vk.Permissions))
		for i, p := range vk.Permissions {
			e.vk.Permissions[i] = next(len(p))
		}
	}
	return e
}

type entryShard struct {
	mu sync.RWMutex
	m  map[latchkey.SecretHash]*entry
	_  [40]byte // keep shards on separate cache lines
}

// invalLog numbers invalidations and remembers the key of the last
// invalRing of them, so a load can tell whether its key was invalidated
// while it read the store.
type invalLog struct {
	gen  atomic.Uint64
	mu   sync.Mutex
	ring [invalRing]int64
}

// record numbers an invalidation of the key.
func (l *invalLog) record(keyID int64) {
	l.mu.Lock()
	g := l.gen.Load() + 1
	l.ring[g%invalRing] = keyID
	l.gen.Store(g)
	l.mu.Unlock()
}

// recordAll records an invalidation of every key: loads in flight see
// "too many to tell", so none caches what it read.
func (l *invalLog) recordAll() {
	l.mu.Lock()
	l.gen.Store(l.gen.Load() + invalRing)
	l.mu.Unlock()
}

// touched reports whether the key may have been invalidated after since.
func (l *invalLog) touched(since uint64, keyID int64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	g := l.gen.Load()
	if g-since >= invalRing {
		return true // too many to tell
	}
	for i := since + 1; i <= g; i++ {
		if l.ring[i%invalRing] == keyID {
			return true
		}
	}
	return false
}

// negEntry marks a secret hash unknown until expires (Unix nanoseconds),
// while no invalidation has happened since gen.
type negEntry struct {
	expires int64
	gen     uint64
}

type negShard struct {
	mu sync.Mutex
	m  map[latchkey.SecretHash]negEntry
}

// load is one store lookup of a secret hash that concurrent lookups of the
// same hash wait for instead of repeating it.
type load struct {
	done chan struct{}
	e    *entry
	err  error
}

func (v *Verifier) entryShard(h latchkey.SecretHash) *entryShard {
	return &v.entries[h[0]&(entryShards-1)]
}

func (v *Verifier) keyShard(keyID int64) *keyShard {
	return &v.keys[shardOfKey(keyID, keyShards)]
}

// lookup returns the cached entry of a secret hash, loading it on a miss;
// errNotFound when the store does not know it.
func (v *Verifier) lookup(ctx context.Context, h latchkey.SecretHash) (*entry, error) {
	sh := v.entryShard(h)
	sh.mu.RLock()
	e := sh.m[h]
	sh.mu.RUnlock()
	if e != nil {
		return e, nil
	}
	if v.isNegative(h) {
		return nil, errNotFound
	}
	return v.load(ctx, h)
}

// load fetches a hash from the store once for all concurrent callers.
func (v *Verifier) load(ctx context.Context, h latchkey.SecretHash) (*entry, error) {
	for {
		v.loadsMu.Lock()
		if l, ok := v.loads[h]; ok {
			v.loadsMu.Unlock()
			select {
			case <-l.done:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			if ctx.Err() == nil && (errors.Is(l.err, context.Canceled) || errors.Is(l.err, context.DeadlineExceeded)) {
				continue // the caller that loaded gave up; load again
			}
			return l.e, l.err
		}
		l := &load{done: make(chan struct{})}
		v.loads[h] = l
		v.loadsMu.Unlock()
		func() {
			defer func() {
				v.loadsMu.Lock()
				delete(v.loads, h)
				v.loadsMu.Unlock()
				close(l.done)
			}()
			l.e, l.err = v.fetch(ctx, h, false)
		}()
		return l.e, l.err
	}
}

// fetch reads a hash from the store and caches the answer unless its key
// was invalidated during the read, in which case it reads again; reload
// (a refresh past MaxAge) also reloads the key's devices and credits. It
// waits for a flush under way, and gives up after LoadTimeout.
func (v *Verifier) fetch(ctx context.Context, h latchkey.SecretHash, reload bool) (*entry, error) {
	if v.LoadTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, v.LoadTimeout)
		defer cancel()
	}
	if err := v.flushGate.Acquire(ctx, 1); err != nil {
		return nil, latchkey.Errorf(latchkey.EUNAVAILABLE, "the store did not answer in time; try again shortly")
	}
	defer v.flushGate.Release(1)
	for attempt := 1; ; attempt++ {
		g0 := v.inval.gen.Load()
		vk, err := v.store.FindVerifyKey(ctx, h)
		if latchkey.ErrorCode(err) == latchkey.ENOTFOUND {
			v.addNegative(h, g0)
			return nil, errNotFound
		} else if err != nil {
			return nil, fmt.Errorf("find verify key: %w", err)
		}
		if e := v.insert(h, vk, g0, attempt == loadAttempts, reload); e != nil {
			return e, nil
		}
	}
}

// insert caches a snapshot read from the store after invalidation g0 and
// returns its entry. If the key was invalidated since, the snapshot may be
// stale: insert returns nil, unless force, when the entry is returned
// without being cached.
func (v *Verifier) insert(h latchkey.SecretHash, vk *latchkey.VerifyKey, g0 uint64, force, reload bool) *entry {
	ksh := v.keyShard(vk.KeyID)
	ksh.mu.Lock()
	stale := v.inval.gen.Load() != g0 && v.inval.touched(g0, vk.KeyID)
	if stale && !force {
		ksh.mu.Unlock()
		return nil
	}
	ks := ksh.m[vk.KeyID]
	if ks == nil {
		ks = &keyState{id: vk.KeyID}
		ks.hashes = ks.hash1[:0]
		ksh.m[vk.KeyID] = ks
	}
	e := newEntry(vk, ks)
	// ±10% of jitter, so snapshots loaded together do not all go stale,
	// and refresh, in the same second.
	e.staleAt.Store(v.clock().UnixNano() + int64(v.MaxAge) - int64(v.MaxAge)/10 + rand.Int64N(int64(v.MaxAge)/5+1))

	ks.mu.Lock()
	if !ks.loaded || ks.stateGen != ks.gen || reload {
		ks.load(vk)
		if stale {
			ks.stateGen-- // let the next load reset the state again
		}
	}
	ks.mu.Unlock()

	n := 0
	es := v.entryShard(h)
	if !stale {
		es.mu.Lock()
		es.m[h] = e
		n = len(es.m)
		es.mu.Unlock()
		if !containsHash(ks.hashes, h) {
			ks.hashes = append(ks.hashes, h)
		}
	}
	ksh.mu.Unlock()

	if limit := v.MaxEntries / entryShards; limit > 0 && n > limit {
		v.evictOther(es, h)
	}
	return e
}

// containsHash reports whether hs holds h.
func containsHash(hs []latchkey.SecretHash, h latchkey.SecretHash) bool {
	for _, x := range hs {
		if x == h {
			return true
		}
	}
	return false
}

// evictOther evicts an arbitrary entry of a full shard other than keep.
func (v *Verifier) evictOther(es *entryShard, keep latchkey.SecretHash) {
	var (
		victim latchkey.SecretHash
		keyID  int64
		found  bool
	)
	es.mu.RLock()
	for h, e := range es.m {
		if h != keep {
			victim, keyID, found = h, e.vk.KeyID, true
			break
		}
	}
	es.mu.RUnlock()
	if !found {
		return
	}
	ksh := v.keyShard(keyID)
	ksh.mu.Lock()
	defer ksh.mu.Unlock()
	ks := ksh.m[keyID]
	es.mu.Lock()
	if e := es.m[victim]; e != nil && e.ks == ks {
		delete(es.m, victim)
	}
	es.mu.Unlock()
	if ks == nil {
		return
	}
	for i, x := range ks.hashes {
		if x == victim {
			ks.hashes = append(ks.hashes[:i], ks.hashes[i+1:]...)
			break
		}
	}
	if len(ks.hashes) == 0 {
		v.dropIfIdle(ksh, ks)
	}
}

// dropIfIdle forgets a key that has no cached secret and no usage waiting
// to be written. The caller holds ksh.mu.
func (v *Verifier) dropIfIdle(ksh *keyShard, ks *keyState) {
	ks.mu.Lock()
	idle := !ks.dirty && !ks.inFlush
	ks.mu.Unlock()
	if idle && ksh.m[ks.id] == ks {
		delete(ksh.m, ks.id)
	}
}

// Invalidate evicts every cached secret of the key at once (of every key
// for a change with All set), so the next verification reloads it from the
// store, and ends the negative cache. Loads that started before it do not
// cache what they read. Subscribe it to the store's change feed.
func (v *Verifier) Invalidate(c latchkey.KeyChange) {
	if c.All {
		v.invalidateAll()
		return
	}
	v.inval.record(c.KeyID)
	ksh := v.keyShard(c.KeyID)
	ksh.mu.Lock()
	defer ksh.mu.Unlock()
	if ks := ksh.m[c.KeyID]; ks != nil {
		v.evictKey(ksh, ks)
	}
}

// invalidateAll evicts every cached secret.
func (v *Verifier) invalidateAll() {
	v.inval.recordAll()
	for i := range v.keys {
		ksh := &v.keys[i]
		ksh.mu.Lock()
		for _, ks := range ksh.m {
			v.evictKey(ksh, ks)
		}
		ksh.mu.Unlock()
	}
}

// evictKey evicts the key's cached secrets and forgets its devices and
// credits until the next load. The caller holds ksh.mu.
func (v *Verifier) evictKey(ksh *keyShard, ks *keyState) {
	for _, h := range ks.hashes {
		es := v.entryShard(h)
		es.mu.Lock()
		if e := es.m[h]; e != nil && e.ks == ks {
			delete(es.m, h)
		}
		es.mu.Unlock()
	}
	ks.hashes = ks.hash1[:0]
	ks.mu.Lock()
	ks.gen++
	ks.mu.Unlock()
	v.dropIfIdle(ksh, ks)
}

// isNegative reports whether h is known to be unknown.
func (v *Verifier) isNegative(h latchkey.SecretHash) bool {
	sh := &v.neg[h[1]&(negShards-1)]
	sh.mu.Lock()
	ne, ok := sh.m[h]
	sh.mu.Unlock()
	return ok && ne.gen == v.inval.gen.Load() && v.clock().UnixNano() < ne.expires
}

// addNegative remembers that h was unknown to a read that started after
// invalidation g0, unless an invalidation happened since.
func (v *Verifier) addNegative(h latchkey.SecretHash, g0 uint64) {
	if v.NegativeTTL <= 0 || v.NegativeMax <= 0 || v.inval.gen.Load() != g0 {
		return
	}
	now := v.clock().UnixNano()
	sh := &v.neg[h[1]&(negShards-1)]
	limit := max(v.NegativeMax/negShards, 1)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if len(sh.m) >= limit {
		for k, ne := range sh.m {
			if ne.gen != g0 || ne.expires <= now {
				delete(sh.m, k)
			}
		}
		// Still full: drop an arbitrary eighth.
		for k := range sh.m {
			if len(sh.m) < limit-limit/8 {
				break
			}
			delete(sh.m, k)
		}
	}
	sh.m[h] = negEntry{expires: now + int64(v.NegativeTTL), gen: g0}
}

// Stats describes the cache.
type Stats struct {
	Entries  int // cached secrets
	Keys     int // keys with a cached secret or usage not yet written
	Negative int // entries of the negative cache, expired or not
}

// Stats returns the cache's size.
func (v *Verifier) Stats() Stats {
	var s Stats
	for i := range v.entries {
		sh := &v.entries[i]
		sh.mu.RLock()
		s.Entries += len(sh.m)
		sh.mu.RUnlock()
	}
	for i := range v.keys {
		sh := &v.keys[i]
		sh.mu.Lock()
		s.Keys += len(sh.m)
		sh.mu.Unlock()
	}
	for i := range v.neg {
		sh := &v.neg[i]
		sh.mu.Lock()
		s.Negative += len(sh.m)
		sh.mu.Unlock()
	}
	return s
}
