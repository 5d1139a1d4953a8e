package sqldb

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
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
	bin := filepath.Join(t.TempDir(), "latchkey")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/latchkey/latchkey/cmd/latchkey").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	db := filepath.Join(t.TempDir(), "kill.db")
	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

	var mu sync.Mutex
	acked := map[int64]int{} // key id → highest acknowledged version
	root := ""
	for round := 0; round < 3; round++ {
		url, r, kill := startServe(t, bin, db)
		if round == 0 {
			root = r
		}
		// Keys to patch this round, created before the load.
		var ids []int64
		for i := 0; i < 32; i++ {
			var k struct{ ID int64 }
			if st, ok := call(client, "POST", url+"/v1/keys", root, map[string]any{"name": "v0"}, &k); !ok || st != http.StatusCreated {
				kill()
				t.Fatalf("create: %d %v", st, ok)
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
					st, ok := call(client, "PATCH", fmt.Sprintf("%s/v1/keys/%d", url, id), root, map[string]any{"name": "v" + strconv.Itoa(v)}, nil)
					if !ok {
						return // killed
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

// startServe starts `latchkey serve` on db and returns its URL, the root key
// of a first start ("" later) and a function killing it with SIGKILL.
func startServe(t *testing.T, bin, db string) (url, root string, kill func()) {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--listen", "127.0.0.1:0", "--database-url", db, "--log-level", "warn")
	cmd.Env = append(os.Environ(), "LATCHKEY_ADMIN_SECRET=")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	kill = func() { cmd.Process.Signal(syscall.SIGKILL); cmd.Wait() }
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			if i := strings.Index(line, "listening on "); i >= 0 {
				url = strings.Fields(line[i+len("listening on "):])[0]
			}
			if f := strings.Fields(line); len(f) == 1 && strings.HasPrefix(f[0], "lk_") {
				root = f[0]
			} else if len(f) == 1 && strings.HasSuffix(f[0], "first-start.txt") {
				root = rootKeyFromFile(f[0])
			}
			if strings.HasPrefix(line, "Stop with Ctrl-C") {
				break
			}
		}
		close(ready)
		io.Copy(io.Discard, stdout)
	}()
	select {
	case <-ready:
	case <-time.After(60 * time.Second):
		kill()
		t.Fatal("binary did not start")
	}
	if url == "" {
		kill()
		t.Fatal("binary printed no address")
	}
	return url, root, kill
}

// call sends one JSON request; ok is false when no answer came back.
func call(client *http.Client, method, url, root string, body, out any) (status int, ok bool) {
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, url, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+root)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, false
	}
	if out != nil {
		json.Unmarshal(data, out)
	}
	return resp.StatusCode, true
}

// rootKeyFromFile reads the root key from the file a first start writes it
// to (instead of printing it), and removes the file.
func rootKeyFromFile(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	os.Remove(path)
	for _, line := range strings.Split(string(b), "\n") {
		if t := strings.TrimSpace(line); strings.HasPrefix(t, "lk_") && !strings.ContainsAny(t, " \t") {
			return t
		}
	}
	return ""
}
