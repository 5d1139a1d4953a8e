package sqldb

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/testenv/binary"
)

// TestGroupCommitSurvivesSIGKILL drives the real binary with 32 concurrent
// writers (so group commit batches them), kills it with SIGKILL mid-load
// three times, and then finds every acknowledged write: each key's name is
// at least the last acknowledged one. After the last kill it opens the file
// and checks the change log is gapless.
func TestGroupCommitSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the real binary; skipped with -short")
	}
	bin, err := binary.Build(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(t.TempDir(), "kill.db")
	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

	var mu sync.Mutex
	acked := map[int64]int{} // key id → highest acknowledged version
	root := ""
	for round := 0; round < 3; round++ {
		p, err := binary.Start(context.Background(), binary.Options{Bin: bin,
			Args: []string{"serve", "--listen", "127.0.0.1:0", "--database-url", db, "--log-level", "warn"}})
		if err != nil {
			t.Fatal(err)
		}
		url, kill := p.URL, p.Kill
		if round == 0 {
			root = p.RootKey
		}
		// Keys to patch this round, created before the load.
		var ids []int64
		for i := 0; i < 32; i++ {
			var k struct{ ID int64 }
			if st, err := binary.Call(client, "POST", url+"/v1/keys", root, map[string]any{"name": "v0"}, &k); err != nil || st != http.StatusCreated {
				kill()
				t.Fatalf("create: %d %v", st, err)
			}
			mu.Lock()
			acked[k.ID] = 0
			mu.Unlock()
			ids = append(ids, k.ID)
		}
		var wg sync.WaitGroup
		for _, id := range ids {
			wg.Add(1)
			go func(id int64) {
				defer wg.Done()
				for v := 1; ; v++ {
					st, err := binary.Call(client, "PATCH", fmt.Sprintf("%s/v1/keys/%d", url, id), root, map[string]any{"name": "v" + strconv.Itoa(v)}, nil)
					if st == 0 {
						return // killed
					} else if err != nil {
						t.Errorf("patch: %d %v", st, err)
						return
					}
					if st != http.StatusOK {
						t.Errorf("patch: got %d, want 200", st)
						return
					}
					mu.Lock()
					acked[id] = v
					mu.Unlock()
				}
			}(id)
		}
		time.Sleep(time.Duration(400+round*200) * time.Millisecond)
		kill()
		wg.Wait()
	}

	s, err := Open(context.Background(), db, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	total := 0
	for id, want := range acked {
		total += want
		var name string
		if err := s.rdb.QueryRow(`SELECT name FROM keys WHERE id = ?`, id).Scan(&name); err != nil {
			t.Errorf("key %d: %v (acknowledged create lost)", id, err)
			continue
		}
		if v, _ := strconv.Atoi(strings.TrimPrefix(name, "v")); v < want {
			t.Errorf("key %d: name %q, want at least v%d (acknowledged patch lost)", id, name, want)
		}
	}
	if total < 100 {
		t.Fatalf("only %d patches acknowledged; too few to mean anything", total)
	}
	var n, lo, hi int64
	if err := s.rdb.QueryRow(`SELECT count(*), min(seq), max(seq) FROM change_log`).Scan(&n, &lo, &hi); err != nil {
		t.Fatal(err)
	}
	if n != hi-lo+1 {
		t.Errorf("change log: %d rows numbered %d..%d, want gapless", n, lo, hi)
	}
	t.Logf("%d acknowledged patches of %d keys all present after 3 SIGKILLs; change log %d..%d gapless", total, len(acked), lo, hi)
}
