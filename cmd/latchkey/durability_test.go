package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/testenv/binary"
)

// MustBuildBinary builds cmd/latchkey into a temp dir and returns its path.
func MustBuildBinary(tb testing.TB) string {
	tb.Helper()
	bin, err := binary.Build(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	return bin
}

// startBinary runs `latchkey serve` on port 0 on db and reads its welcome.
func startBinary(tb testing.TB, bin, db string) *binary.Proc {
	tb.Helper()
	p, err := binary.Start(context.Background(), binary.Options{Bin: bin, Stderr: os.Stderr,
		Args: []string{"serve", "--listen", "127.0.0.1:0", "--database-url", db, "--log-level", "warn"}})
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// acked is what the server acknowledged for one key.
type acked struct {
	version int  // highest acknowledged "v<N>" name
	revoked bool // revoke acknowledged
}

// TestDurabilityUnderSIGKILL makes acknowledged writes (create, patch,
// revoke) while killing the real binary with SIGKILL several times, then
// restarts it and finds every acknowledged write.
func TestDurabilityUnderSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the real binary; skipped with -short")
	}
	bin := MustBuildBinary(t)
	db := filepath.Join(t.TempDir(), "durable.db")
	client := &http.Client{Timeout: 10 * time.Second}

	var mu sync.Mutex
	state := map[int64]*acked{}
	root := ""
	for round := 0; round < 4; round++ {
		p := startBinary(t, bin, db)
		switch {
		case round == 0 && p.RootKey == "":
			p.Kill()
			t.Fatal("first start printed no root key")
		case round == 0:
			root = p.RootKey
		case p.RootKey != "":
			p.Kill()
			t.Fatalf("start %d printed a root key again; it is shown once, at the first start", round+1)
		}
		// ack sends one write and records it with record once the server
		// acknowledged it with want; false ends the worker: no answer (the
		// process was killed mid-request) or another status (reported).
		ack := func(want int, method, path string, body, out any, record func()) bool {
			st, _ := binary.Call(client, method, p.URL+path, root, body, out)
			if st == 0 {
				return false
			}
			if st != want {
				t.Errorf("%s %s: got %d, want %d", method, path, st, want)
				return false
			}
			mu.Lock()
			record()
			mu.Unlock()
			return true
		}
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					var k struct{ ID int64 }
					if !ack(http.StatusCreated, "POST", "/v1/keys", map[string]any{"name": "v0"}, &k, func() { state[k.ID] = &acked{} }) {
						return
					}
					path := fmt.Sprintf("/v1/keys/%d", k.ID)
					for v := 1; v <= 3; v++ {
						if !ack(http.StatusOK, "PATCH", path, map[string]any{"name": "v" + strconv.Itoa(v)}, nil, func() { state[k.ID].version = v }) {
							return
						}
					}
					if i%2 == 0 && !ack(http.StatusOK, "POST", path+"/revoke", map[string]any{"reason": "r"}, nil, func() { state[k.ID].revoked = true }) {
						return
					}
				}
			}(w)
		}
		time.Sleep(time.Duration(300+round*150) * time.Millisecond)
		p.Kill() // mid-write, no warning
		close(stop)
		wg.Wait()
	}

	p := startBinary(t, bin, db)
	defer p.Kill()
	mu.Lock()
	defer mu.Unlock()
	if len(state) < 8 {
		t.Fatalf("only %d keys acknowledged; the test made too few writes to mean anything", len(state))
	}
	for id, want := range state {
		var k struct {
			Name   string `json:"name"`
			Status string `json:"status"`
		}
		st, _ := binary.Call(client, "GET", fmt.Sprintf("%s/v1/keys/%d", p.URL, id), root, nil, &k)
		if st != http.StatusOK {
			t.Errorf("key %d: got status %d after restart, want 200 (acknowledged create lost)", id, st)
			continue
		}
		v, _ := strconv.Atoi(strings.TrimPrefix(k.Name, "v"))
		if v < want.version {
			t.Errorf("key %d: got name %q, want at least v%d (acknowledged patch lost)", id, k.Name, want.version)
		}
		if want.revoked && k.Status != "revoked" {
			t.Errorf("key %d: got status %q, want revoked (acknowledged revoke lost)", id, k.Status)
		}
	}
	t.Logf("%d acknowledged keys all present after 4 SIGKILLs", len(state))
}
