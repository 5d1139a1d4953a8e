// Warm-up: loading the most recently used keys into the cache at start.

package inmem

import (
	"context"
	"errors"
	"sync"

	"github.com/latchkey/latchkey"
)

// DefaultWarmKeys is how many recently used secrets a server warms its
// cache with at start unless told otherwise (LATCHKEY_WARM_KEYS).
const DefaultWarmKeys = 10_000

// warmWorkers is how many store reads a warm-up has under way at once: a
// few, so the warm-up does not crowd out the requests it runs beside.
const warmWorkers = 2

// Warm loads the secrets of hashes into the cache, most important first, as
// a cold verification would (a hash already cached or being loaded is not
// read twice), and returns how many it cached. It stops when ctx ends, when
// the cache holds MaxEntries/2 secrets, or at the first unavailable store,
// leaving the rest to be loaded on first use. It is meant to run in the
// background after the server is ready:
//
//	go func() {
//		hashes, err := store.RecentSecretHashes(ctx, inmem.DefaultWarmKeys)
//		if err == nil {
//			verifier.Warm(ctx, hashes)
//		}
//	}()
func (v *Verifier) Warm(ctx context.Context, hashes []latchkey.SecretHash) int {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan latchkey.SecretHash)
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		cached int
	)
	for range warmWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for h := range work {
				_, err := v.lookup(ctx, h)
				switch {
				case err == nil:
					mu.Lock()
					cached++
					mu.Unlock()
				case errors.Is(err, errNotFound):
				default: // the store did not answer: first use will load
					cancel()
				}
			}
		}()
	}
	limit := v.MaxEntries / 2
feed:
	for i, h := range hashes {
		if limit > 0 && i%256 == 0 && v.Stats().Entries >= limit {
			break
		}
		select {
		case work <- h:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	return cached
}
