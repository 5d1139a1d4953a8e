package faults

import (
	"fmt"
	"net/http"
	"os"
	"sort"
	"sync"
	"testing"
	"time"
)

// propagationCommand runs TestRevokePropagation.
const propagationCommand = "LATCHKEY_BENCH_PROPAGATION=1 LATCHKEY_TEST_POSTGRES_URL='postgres://postgres@127.0.0.1:5432/test?sslmode=disable' LATCHKEY_TEST_REDIS_URL=redis://127.0.0.1:6379/0 go test -count=1 -v -run TestRevokePropagation ./internal/faults/"

// TestRevokePropagation measures, over 200 keys, how long after instance 1
// acknowledges a revoke instances 2 and 3 answer REVOKED. It is a
// measurement for BENCHMARKS.md, not a check: it runs only with
// LATCHKEY_BENCH_PROPAGATION=1 and asserts nothing about time.
func TestRevokePropagation(t *testing.T) {
	if os.Getenv("LATCHKEY_BENCH_PROPAGATION") != "1" {
		t.Skip("a measurement, not a check: run it with " + propagationCommand)
	}
	const keys = 200
	c := MustCluster(t)
	ks := make([]createdKey, keys)
	for i := range ks {
		ks[i] = c.mustCreate(1, map[string]any{"name": fmt.Sprintf("propagation %d", i)})
		for _, in := range []int{2, 3} {
			if code, a := c.verify(in, ks[i].Secret, nil); code != "VALID" {
				t.Fatalf("instance %d verifies key %d: %v", in, i, a)
			}
		}
	}

	var fromAck, fromSend, revokeTook []time.Duration
	for _, k := range ks {
		a := c.mutate(1, k.ID, "revoke")
		if a.status != http.StatusOK {
			t.Fatalf("revoke on instance 1: %v", a)
		}
		revokeTook = append(revokeTook, a.took())
		var mu sync.Mutex
		var wg sync.WaitGroup
		for _, in := range []int{2, 3} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				deadline := a.answered.Add(10 * time.Second)
				for time.Now().Before(deadline) {
					if code, _ := c.verify(in, k.Secret, nil); code == "REVOKED" {
						now := time.Now()
						mu.Lock()
						fromAck = append(fromAck, now.Sub(a.answered))
						fromSend = append(fromSend, now.Sub(a.sent))
						mu.Unlock()
						return
					}
				}
				t.Errorf("instance %d still accepts key %d 10 s after its revoke", in, k.ID)
			}()
		}
		wg.Wait()
	}
	p50, p99, max := summarize(fromAck)
	s50, s99, smax := summarize(fromSend)
	r50, r99, rmax := summarize(revokeTook)
	t.Logf("revoke propagation to instances 2 and 3, %d revokes (%d observations), from the revoke's 200:", keys, len(fromAck))
	t.Logf("  p50 %v  p99 %v  max %v", p50, p99, max)
	t.Logf("  from the revoke's send: p50 %v  p99 %v  max %v", s50, s99, smax)
	t.Logf("  the revoke itself: p50 %v  p99 %v  max %v", r50, r99, rmax)
	t.Logf("command: %s", propagationCommand)
}

// summarize returns p50, p99 and max of ds (nearest rank), rounded to
// 10 µs; it sorts ds.
func summarize(ds []time.Duration) (p50, p99, worst time.Duration) {
	if len(ds) == 0 {
		return 0, 0, 0
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	rank := func(q float64) time.Duration {
		i := int(q*float64(len(ds))+0.999999) - 1
		i = min(max(i, 0), len(ds)-1)
		return ds[i].Round(10 * time.Microsecond)
	}
	return rank(0.50), rank(0.99), ds[len(ds)-1].Round(10 * time.Microsecond)
}
