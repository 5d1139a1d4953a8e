// Write-behind: the usage of a key not yet written to the store, the lists
// of keys with usage, and the flushes (Flush, Run, Close).

package inmem

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/latchkey/latchkey"
)

// numCodes is len(latchkey.VerifyCodes), as a constant so that a key's
// counts of a minute fit in an array; init checks that it still is.
const numCodes = 9

// codeByIndex is latchkey.VerifyCodes as an array: usage counts are kept
// by a code's index in it.
var codeByIndex = func() (a [numCodes]latchkey.VerifyCode) {
	if len(latchkey.VerifyCodes) != numCodes {
		panic(fmt.Sprintf("inmem: numCodes is %d but latchkey.VerifyCodes has %d codes", numCodes, len(latchkey.VerifyCodes)))
	}
	copy(a[:], latchkey.VerifyCodes)
	return a
}()

// codeIndex returns the index of a verification code in codeByIndex. It
// scans from the end, where VALID, the usual code, is. A code missing from
// latchkey.VerifyCodes, which lists every code, is counted as the last one
// (VALID) rather than panicking under a key's lock.
func codeIndex(c latchkey.VerifyCode) int {
	for i := numCodes - 1; i >= 0; i-- {
		if codeByIndex[i] == c {
			return i
		}
	}
	return numCodes - 1
}

// pending is a key's usage not yet written to the store: last use, credits
// spent (since refilledAt, when set), and verification counts by code of
// the current minute and, in older, of earlier minutes.
type pending struct {
	lastUsed   time.Time
	method     string // of the last use a gateway told, with path
	path       string
	spent      int64
	refilledAt *time.Time
	base       *time.Time // with shared counters: the baseline spent is counted against
	minute     int64      // Unix minute of counts
	counts     [numCodes]int64
	older      []latchkey.UsageCount // KeyID unset
}

// count adds one verification with the code at now.
func (p *pending) count(code latchkey.VerifyCode, now time.Time) {
	m := now.Unix() / 60
	if m != p.minute {
		p.roll(m)
	}
	p.counts[codeIndex(code)]++
}

// roll moves the current minute's counts to older and starts minute m.
func (p *pending) roll(m int64) {
	for i, n := range p.counts {
		if n != 0 {
			p.older = append(p.older, latchkey.UsageCount{
				Minute: time.Unix(p.minute*60, 0).UTC(), Code: codeByIndex[i], Count: n,
			})
		}
	}
	p.minute, p.counts = m, [numCodes]int64{}
}

// add adds n verifications with the code in minute m.
func (p *pending) add(m int64, code latchkey.VerifyCode, n int64) {
	if m == p.minute {
		p.counts[codeIndex(code)] += n
		return
	}
	for i := range p.older {
		c := &p.older[i]
		if c.Code == code && c.Minute.Unix()/60 == m {
			c.Count += n
			return
		}
	}
	p.older = append(p.older, latchkey.UsageCount{Minute: time.Unix(m*60, 0).UTC(), Code: code, Count: n})
}

// merge adds old, usage taken out for a flush that failed, into p, which
// holds what happened since.
func (p *pending) merge(old *pending) {
	if old.lastUsed.After(p.lastUsed) {
		p.lastUsed = old.lastUsed
	}
	if p.method == "" {
		p.method, p.path = old.method, old.path
	}
	switch {
	case p.refilledAt == nil && p.base == nil:
		p.spent += old.spent
		p.refilledAt, p.base = old.refilledAt, old.base
	case sameTime(p.base, old.base) && sameTime(p.refilledAt, old.refilledAt):
		p.spent += old.spent
	} // else a refill or a new balance since then makes the old spend moot
	for i, n := range old.counts {
		if n != 0 {
			p.add(old.minute, codeByIndex[i], n)
		}
	}
	for _, c := range old.older {
		p.add(c.Minute.Unix()/60, c.Code, c.Count)
	}
}

// sameTime reports whether a and b are both nil or the same instant.
func sameTime(a, b *time.Time) bool {
	return (a == nil) == (b == nil) && (a == nil || a.Equal(*b))
}

// reset empties p for reuse, keeping older's array.
func (p *pending) reset() {
	older := p.older[:0]
	*p = pending{older: older}
}

// dirtyShard lists the keys with usage since the last flush, so a flush
// visits only them.
type dirtyShard struct {
	mu    sync.Mutex
	list  []*keyState
	spare []*keyState
	_     [16]byte
}

// markDirty lists ks for the next flush. The caller holds ks.mu.
func (v *Verifier) markDirty(ks *keyState) {
	d := &v.dirty[shardOfKey(ks.id, keyShards)]
	d.mu.Lock()
	d.list = append(d.list, ks)
	d.mu.Unlock()
}

// record counts the outcome of a verification at now in the key's usage p
// and lists the key for the next flush. The caller holds ks.mu.
func (v *Verifier) record(ks *keyState, p *pending, code latchkey.VerifyCode, now time.Time, b *resultBox) {
	p.count(code, now)
	if code == latchkey.CodeValid && now.After(p.lastUsed) {
		p.lastUsed = now
		if b.method != "" { // a gateway's request; a plain verify keeps the last one
			p.method, p.path = b.method, b.path
		}
	}
	if !ks.dirty {
		ks.dirty = true
		v.markDirty(ks)
	}
}

type flushItem struct {
	ks *keyState
	p  *pending
}

// Flush writes the usage buffered since the last flush, in store.FlushUsage
// calls of at most FlushBatch keys each. Loads from the store wait only for
// the chunk being written, not the whole flush, and a slow or failing store
// keeps what earlier chunks wrote. When a chunk fails, its usage is kept,
// merged with what comes next, and written by a later flush.
func (v *Verifier) Flush(ctx context.Context) error {
	limit := v.FlushBatch
	if limit <= 0 {
		limit = DefaultFlushBatch
	}
	// The keys each shard lists now are the ones this flush owes: new ones
	// are appended after them and wait for the next flush, so a flush ends
	// under a steady stream of verifications and writes everything that
	// was buffered when it began.
	var owed [keyShards]int
	for i := range v.dirty {
		d := &v.dirty[i]
		d.mu.Lock()
		owed[i] = len(d.list)
		d.mu.Unlock()
	}
	for {
		taken, err := v.flushChunk(ctx, limit, &owed)
		if err != nil || taken == 0 {
			return err
		}
	}
}

// flushChunk collects up to limit of the owed dirty keys and writes their
// usage with one store.FlushUsage call. It returns how many dirty keys it
// took.
func (v *Verifier) flushChunk(ctx context.Context, limit int, owed *[keyShards]int) (int, error) {
	if err := v.flushGate.Acquire(ctx, flushWeight); err != nil {
		return 0, fmt.Errorf("wait for loads to finish: %w", err)
	}
	defer v.flushGate.Release(flushWeight)
	items, taken := v.collect(limit, owed)
	if len(items) == 0 {
		return taken, nil
	}
	b := batch(items)
	if err := v.store.FlushUsage(ctx, b); err != nil {
		for _, it := range items {
			v.putBack(it)
		}
		return taken, fmt.Errorf("flush usage of %d keys (%d counts): %w", len(items), len(b.Counts), err)
	}
	for _, it := range items {
		v.finish(it)
	}
	return taken, nil
}

// collect takes the buffered usage out of up to limit dirty keys, from the
// front of each shard's list and no more than owed of each, and counts
// them off owed. It returns the usage and how many dirty keys it took (some
// may have had nothing left to write). The caller holds the flushGate.
func (v *Verifier) collect(limit int, owed *[keyShards]int) ([]flushItem, int) {
	var items []flushItem
	taken := 0
	for i := range v.dirty {
		if taken >= limit {
			break
		}
		d := &v.dirty[i]
		d.mu.Lock()
		n := min(owed[i], len(d.list), limit-taken)
		if n == 0 {
			d.mu.Unlock()
			continue
		}
		var list []*keyState
		if n < len(d.list) {
			list = append([]*keyState(nil), d.list[:n]...)
			rest := copy(d.list, d.list[n:])
			clear(d.list[rest:]) // let dropped keys go
			d.list = d.list[:rest]
		} else {
			list = d.list
			d.list, d.spare = d.spare, nil
		}
		d.mu.Unlock()
		owed[i] -= n
		taken += n
		for j, ks := range list {
			ks.mu.Lock()
			p := ks.p
			ks.p, ks.dirty = nil, false
			if p != nil {
				ks.inFlush = true
			}
			ks.mu.Unlock()
			if p != nil {
				items = append(items, flushItem{ks: ks, p: p})
			}
			list[j] = nil
		}
		d.mu.Lock()
		if d.spare == nil {
			d.spare = list[:0]
		}
		d.mu.Unlock()
	}
	return items, taken
}

// batch turns collected usage into a store batch.
func batch(items []flushItem) *latchkey.UsageBatch {
	b := &latchkey.UsageBatch{Keys: make([]latchkey.KeyUsage, 0, len(items))}
	for _, it := range items {
		p, id := it.p, it.ks.id
		if !p.lastUsed.IsZero() || p.spent != 0 || p.refilledAt != nil {
			b.Keys = append(b.Keys, latchkey.KeyUsage{KeyID: id, LastUsedAt: p.lastUsed, LastRequest: latchkey.LastRequest(p.method, p.path),
				CreditsSpent: p.spent, RefilledAt: p.refilledAt, CreditsBase: p.base})
		}
		for i, n := range p.counts {
			if n != 0 {
				b.Counts = append(b.Counts, latchkey.UsageCount{KeyID: id, Minute: time.Unix(p.minute*60, 0).UTC(), Code: codeByIndex[i], Count: n})
			}
		}
		for _, c := range p.older {
			c.KeyID = id
			b.Counts = append(b.Counts, c)
		}
	}
	return b
}

// putBack returns the usage of a failed flush to its key.
func (v *Verifier) putBack(it flushItem) {
	ks := it.ks
	ks.mu.Lock()
	ks.inFlush = false
	if ks.p == nil {
		ks.p = it.p
	} else {
		ks.p.merge(it.p)
		it.p.reset()
		v.pool.Put(it.p)
	}
	if !ks.dirty {
		ks.dirty = true
		v.markDirty(ks)
	}
	ks.mu.Unlock()
}

// finish ends the flush of a key: it forgets the key if nothing refers to
// it any more and recycles its buffer.
func (v *Verifier) finish(it flushItem) {
	ks := it.ks
	ksh := v.keyShard(ks.id)
	ksh.mu.Lock()
	ks.mu.Lock()
	ks.inFlush = false
	ks.mu.Unlock()
	if len(ks.hashes) == 0 {
		v.dropIfIdle(ksh, ks)
	}
	ksh.mu.Unlock()
	it.p.reset()
	v.pool.Put(it.p)
}

// Run flushes the write-behind buffers every FlushInterval until ctx is
// done, logging failed flushes (their usage is kept for the next one).
// Call Close after Run returns for the final flush.
func (v *Verifier) Run(ctx context.Context) {
	interval := v.FlushInterval
	if interval <= 0 {
		interval = DefaultFlushInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	failures := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// Not derived from ctx: a flush under way when Run is stopped
		// finishes, and Close writes what is left.
		fctx, cancel := context.WithTimeout(context.Background(), v.flushTimeout())
		err := v.Flush(fctx)
		cancel()
		switch {
		case err != nil:
			failures++
			v.logger.Error("usage flush failed; keeping the usage for the next flush", "err", err, "failures", failures)
		case failures > 0:
			v.logger.Info("usage flush recovered", "after_failures", failures)
			failures = 0
		}
	}
}

// flushTimeout is FlushTimeout, or its default.
func (v *Verifier) flushTimeout() time.Duration {
	if v.FlushTimeout <= 0 {
		return DefaultFlushTimeout
	}
	return v.FlushTimeout
}

// Close writes the buffered usage a last time; call it once at shutdown,
// after Run has returned. Verifications after Close are still answered
// but their usage is not written.
func (v *Verifier) Close(ctx context.Context) error {
	if err := v.Flush(ctx); err != nil {
		return fmt.Errorf("final %w", err)
	}
	return nil
}
