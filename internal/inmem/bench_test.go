// Benchmarks of the verify hot path and the rate limiter, with memory per
// cached key.

package inmem_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/inmem"
	"github.com/latchkey/latchkey/internal/mock"
)

// benchFixture is a verifier with n keys cached, built once per size
// because b.Run calls a benchmark several times.
type benchFixture struct {
	v           *inmem.Verifier
	reqs        []latchkey.VerifyRequest
	bytesPerKey float64
}

var (
	fixturesMu sync.Mutex
	fixtures   = map[int]*benchFixture{}
)

// benchKey has permissions, a rate limit and credits that never run out.
func benchKey(id int64) *latchkey.VerifyKey {
	vk := baseKey(id)
	vk.Name = fmt.Sprintf("customer %d prod", id)
	vk.RateLimit = &latchkey.RateLimit{Limit: 1 << 62, WindowSeconds: 3600}
	vk.Credits = &latchkey.Credits{Remaining: 1 << 62}
	return vk
}

func fixture(b *testing.B, n int) *benchFixture {
	b.Helper()
	fixturesMu.Lock()
	defer fixturesMu.Unlock()
	if f := fixtures[n]; f != nil {
		return f
	}
	store := newFakeStore()
	f := &benchFixture{reqs: make([]latchkey.VerifyRequest, n)}
	perms := []string{"readApplications"}
	secrets := make([]string, n)
	var all strings.Builder
	for i := range n {
		secret, hash := MustSecret(b)
		store.put(hash, benchKey(int64(i+1)))
		secrets[i] = secret
		all.WriteString(secret)
	}
	// The secrets in one string, as the requests would not keep a million
	// small strings alive.
	s := all.String()
	for i := range n {
		f.reqs[i] = latchkey.VerifyRequest{Key: s[:len(secrets[i])], Permissions: perms}
		s = s[len(secrets[i]):]
	}
	// Usage is written nowhere: the fake's tables would grow with it.
	writeNothing := &mock.VerifyStore{
		FindVerifyKeyFn: store.FindVerifyKey,
		FlushUsageFn:    func(context.Context, *latchkey.UsageBatch) error { return nil },
	}
	f.v = inmem.NewVerifier(writeNothing, inmem.NewRateLimiter(), latchkey.SystemClock, nil)
	f.v.MaxEntries = max(2*n, inmem.DefaultMaxEntries)
	// The fake's keys are dropped below, so a snapshot must not go stale
	// (and be read again) while a slow machine is still timing the loop.
	f.v.MaxAge = 24 * time.Hour

	// Memory the cache holds per key: entries, key states, rate-limit
	// counters and the key data loaded from the store.
	before := heapAfterGC()
	ctx := context.Background()
	for i := range f.reqs {
		res, err := f.v.Verify(ctx, 1, &f.reqs[i])
		if err != nil || res.Code != latchkey.CodeValid {
			b.Fatalf("warm up: got %v, %v", res, err)
		}
	}
	if err := f.v.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	f.bytesPerKey = float64(heapAfterGC()-before) / float64(n)
	if st := f.v.Stats(); st.Entries != n {
		b.Fatalf("got %d cached, want %d", st.Entries, n)
	}
	// A real store keeps its keys on disk, not on the Go heap the garbage
	// collector scans: drop the fake's, every key being cached now.
	store.mu.Lock()
	store.keys, store.byID = nil, nil
	store.mu.Unlock()
	runtime.GC()
	fixtures[n] = f
	return f
}

func heapAfterGC() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkVerify measures a VALID verification of a cached key with
// permissions, a rate limit and credits, among 1, 1,000 and 1,000,000
// cached keys.
func BenchmarkVerify(b *testing.B) {
	for _, n := range []int{1, 1000, 1_000_000} {
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			f := fixture(b, n)
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				res, err := f.v.Verify(ctx, 1, &f.reqs[i%n])
				if err != nil || !res.Valid {
					b.Fatalf("got %v, %v", res, err)
				}
			}
			b.StopTimer()
			b.ReportMetric(f.bytesPerKey, "bytes/key")
		})
	}
}

// BenchmarkVerifyParallel is BenchmarkVerify from every core at once.
func BenchmarkVerifyParallel(b *testing.B) {
	for _, n := range []int{1, 1000} {
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			f := fixture(b, n)
			ctx := context.Background()
			var next atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := int(next.Add(7919)) // each goroutine starts elsewhere
				for pb.Next() {
					res, err := f.v.Verify(ctx, 1, &f.reqs[i%n])
					if err != nil || !res.Valid {
						b.Errorf("got %v, %v", res, err)
						return
					}
					i++
				}
			})
		})
	}
}

// BenchmarkVerifyNotFound measures the answers that need no key: a bad
// checksum, and a well-formed unknown secret from the negative cache.
func BenchmarkVerifyNotFound(b *testing.B) {
	good, _ := MustSecret(b)
	bad := good[:len(good)-1] + "!"
	v := inmem.NewVerifier(newFakeStore(), inmem.NewRateLimiter(), latchkey.SystemClock, nil)
	for name, key := range map[string]string{"checksum": bad, "unknown": good} {
		b.Run(name, func(b *testing.B) {
			req := latchkey.VerifyRequest{Key: key}
			ctx := context.Background()
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if res, _ := v.Verify(ctx, 1, &req); res.Valid {
					b.Fatal("valid")
				}
			}
		})
	}
}

// BenchmarkRateLimiter measures one Take.
func BenchmarkRateLimiter(b *testing.B) {
	l := inmem.NewRateLimiter()
	rl := latchkey.RateLimit{Limit: 1 << 62, WindowSeconds: 60}
	now := latchkey.SystemClock()
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		l.Take(ctx, int64(i&1023), rl, 1, now)
	}
}
