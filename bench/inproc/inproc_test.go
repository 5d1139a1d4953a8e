package inproc_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/bench/internal/yardstick"
	lkhttp "github.com/latchkey/latchkey/internal/http"
	"github.com/latchkey/latchkey/internal/inmem"
	"github.com/latchkey/latchkey/internal/sqldb"
)

// latchkeyHandler wires the server as cmd/latchkey serve does, on a fresh
// SQLite file, and returns its handler, the root key and one api key.
func latchkeyHandler(b *testing.B) (h http.Handler, root, key string) {
	b.Helper()
	ctx := context.Background()
	store, err := sqldb.Open(ctx, filepath.Join(b.TempDir(), "latchkey.db"), latchkey.SystemClock)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Close() })
	if err := store.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	boot, err := store.Bootstrap(ctx)
	if err != nil || boot == nil {
		b.Fatalf("bootstrap: %v, %v", boot, err)
	}
	_, key, err = store.CreateKey(ctx, boot.Account.ID, &latchkey.KeyCreate{Kind: latchkey.KindAPI, Name: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	verifier := inmem.NewVerifier(store, inmem.NewRateLimiter(), latchkey.SystemClock, nil)
	cancelFeed := store.Subscribe(verifier.Invalidate)
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); verifier.Run(runCtx) }()
	b.Cleanup(func() {
		stop()
		<-done
		cancelFeed()
		_ = verifier.Close(context.Background())
	})
	api := &lkhttp.Server{
		Keys:        store,
		Permissions: store,
		Audit:       store,
		Accounts:    store,
		Verifier:    verifier,
		Checks:      []lkhttp.Check{{Name: "store", Check: store.Ping}},
		Clock:       latchkey.SystemClock,
	}
	return api.Handler(), boot.Secret, key
}

// sink is a ResponseWriter that keeps the status and body for a check and
// reuses its header map.
type sink struct {
	hdr    http.Header
	status int
	body   bytes.Buffer
}

func (s *sink) Header() http.Header         { return s.hdr }
func (s *sink) WriteHeader(code int)        { s.status = code }
func (s *sink) Write(p []byte) (int, error) { return s.body.Write(p) }

// measure runs run once and checks it, then times b.N runs, then checks
// the last.
func measure(b *testing.B, run, check func()) {
	run()
	check()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		run()
	}
	b.StopTimer()
	check()
}

// serve runs b.N verifications of key through h with the same request:
// the one allocation-free body reader and request rebuilt each time.
func serve(b *testing.B, h http.Handler, root, key string) {
	body := []byte(`{"key":"` + key + `"}`)
	base := httptest.NewRequest(http.MethodPost, "/v1/keys/verify", nil)
	base.Header.Set("Content-Type", "application/json")
	base.Header.Set("Authorization", "Bearer "+root)
	base.RemoteAddr = "127.0.0.1:5555"
	w := &sink{hdr: http.Header{}}
	rd := bytes.NewReader(body)
	check := func() {
		if w.status != 0 && w.status != http.StatusOK || !bytes.Contains(w.body.Bytes(), []byte(`"valid":true`)) {
			b.Fatalf("status %d: %s", w.status, w.body.Bytes())
		}
	}
	run := func() {
		rd.Reset(body)
		r := *base
		r.Body = io.NopCloser(rd)
		clear(w.hdr)
		w.status = 0
		w.body.Reset()
		h.ServeHTTP(w, &r)
	}
	measure(b, run, check)
}

// BenchmarkVerifyHandler compares one VALID verification through the
// baseline yardstick handler and through latchkey's full handler
// (authentication of the root key, strict decoding, checksum, cache,
// rate-limit and usage bookkeeping, metrics, JSON answer).
func BenchmarkVerifyHandler(b *testing.B) {
	b.Run("baseline", func(b *testing.B) {
		key, _, _ := latchkey.NewSecret("lk")
		serve(b, yardstick.New([]string{key}), "unused", key)
	})
	b.Run("latchkey", func(b *testing.B) {
		h, root, key := latchkeyHandler(b)
		if !strings.HasPrefix(key, "lk_") {
			b.Fatalf("odd key %q", key)
		}
		serve(b, h, root, key)
	})
}

// BenchmarkAuthorizeHandler is the gateway endpoint's answer for a valid
// key, beside BenchmarkVerifyHandler/latchkey in the same run: GET
// /v1/authorize with the gateway's root key and the end user's key in
// headers, an empty 200 with the key's headers.
func BenchmarkAuthorizeHandler(b *testing.B) {
	h, root, key := latchkeyHandler(b)
	base := httptest.NewRequest(http.MethodGet, "/v1/authorize", nil)
	base.Header.Set("X-Latchkey-Root-Key", root)
	base.Header.Set("X-API-Key", key)
	base.RemoteAddr = "127.0.0.1:5555"
	w := &sink{hdr: http.Header{}}
	run := func() {
		r := *base
		clear(w.hdr)
		w.status = 0
		w.body.Reset()
		h.ServeHTTP(w, &r)
	}
	check := func() {
		if w.status != 0 && w.status != http.StatusOK || w.hdr.Get("X-Latchkey-Code") != "VALID" {
			b.Fatalf("status %d %v: %s", w.status, w.hdr, w.body.Bytes())
		}
	}
	measure(b, run, check)
}

// BenchmarkUpdateKeyHandler is the write path in process: PATCH
// /v1/keys/{id} renaming one of 64 keys, from 16 goroutines per CPU, through
// the full handler (authentication, strict decoding, the store's group
// commit with its fsync, the JSON answer). For profiling the write path
// with -cpuprofile; bench/write measures it over HTTP.
func BenchmarkUpdateKeyHandler(b *testing.B) {
	h, root, _ := latchkeyHandler(b)
	var paths []string
	for i := 0; i < 64; i++ {
		req := httptest.NewRequest(http.MethodPost, "/v1/keys", strings.NewReader(`{"kind":"api","name":"k"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+root)
		req.RemoteAddr = "127.0.0.1:5555"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		var k struct {
			ID int64 `json:"id"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &k); err != nil || w.Code != http.StatusCreated {
			b.Fatalf("create key: %d %s", w.Code, w.Body.Bytes())
		}
		paths = append(paths, "/v1/keys/"+strconv.FormatInt(k.ID, 10))
	}
	var n atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		w := &sink{hdr: http.Header{}}
		for pb.Next() {
			i := n.Add(1)
			body := `{"name":"n` + strconv.FormatInt(i, 10) + `"}`
			r := httptest.NewRequest(http.MethodPatch, paths[int(i)%len(paths)], strings.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("Authorization", "Bearer "+root)
			r.RemoteAddr = "127.0.0.1:5555"
			clear(w.hdr)
			w.status = 0
			w.body.Reset()
			h.ServeHTTP(w, r)
			if w.status != 0 && w.status != http.StatusOK {
				b.Errorf("PATCH: %d %s", w.status, w.body.Bytes())
				return
			}
		}
	})
}
