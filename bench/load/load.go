package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// target is a server under load.
type target struct {
	name   string
	pid    int    // the server process, for its CPU time
	base   string // the server's address, http://host:port
	root   string // the root key (sent to all, so the requests are the same bytes)
	client *http.Client
	meters []cpuMeter       // other processes its requests cost CPU in
	loads  map[string]*load // scenario name → what to send
	sample *load            // the cold sweep's verifications (every sampled seeded key)
}

// load is what one scenario sends one target: requests picked from n
// secrets, each a POST /v1/keys/verify with the secret in the body, or a
// GET /v1/authorize (the gateway endpoint) with the root key in
// X-Latchkey-Root-Key and the secret as the bearer.
type load struct {
	authorize bool
	bodies    [][]byte   // verify: the JSON bodies
	bearers   [][]string // authorize: the Authorization headers
}

// newLoad is the load of secrets, verified or authorized.
func newLoad(secrets []string, authorize bool) *load {
	l := &load{authorize: authorize}
	for _, s := range secrets {
		if authorize {
			l.bearers = append(l.bearers, []string{"Bearer " + s})
		} else {
			l.bodies = append(l.bodies, verifyBody(s))
		}
	}
	return l
}

// n is how many secrets l picks from.
func (l *load) n() int { return len(l.bodies) + len(l.bearers) }

// prefix is l for its first n secrets.
func (l *load) prefix(n int) *load {
	return &load{authorize: l.authorize, bodies: l.bodies[:min(n, len(l.bodies))], bearers: l.bearers[:min(n, len(l.bearers))]}
}

// cpuMeter reads the CPU time of processes that serve a target's requests
// beside the server itself (PostgreSQL's backends, Redis), by process id.
type cpuMeter struct {
	name string
	read func(ctx context.Context) (map[int]time.Duration, error)
}

// cpuSnap is a target's CPU times at one instant.
type cpuSnap struct {
	srv    time.Duration
	cli    time.Duration
	meters []map[int]time.Duration // nil where a meter could not be read
}

// cpu reads the CPU times of t's server, its meters and this process.
func (t *target) cpu(ctx context.Context) cpuSnap {
	s := cpuSnap{meters: make([]map[int]time.Duration, len(t.meters))}
	for i, m := range t.meters {
		mctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		s.meters[i], _ = m.read(mctx)
		cancel()
	}
	s.srv, _ = processCPU(t.pid)
	s.cli = selfCPU()
	return s
}

// setCPU records in r the CPU spent between snapshots a and b. A meter's
// time is summed over the processes b holds (one that started in between
// counts from zero; one that exited in between is lost), and is -1 when a
// snapshot could not read it.
func (r *result) setCPU(a, b cpuSnap) {
	r.srvCPU, r.cliCPU = b.srv-a.srv, b.cli-a.cli
	r.meterCPU = make([]time.Duration, len(a.meters))
	for i := range a.meters {
		if a.meters[i] == nil || b.meters[i] == nil {
			r.meterCPU[i] = -1
			continue
		}
		for pid, t := range b.meters[i] {
			r.meterCPU[i] += t - a.meters[i][pid]
		}
	}
}

// newClient is the keep-alive HTTP client every target is driven with.
func newClient(conns int) *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			Proxy:               nil,
			MaxIdleConns:        2 * conns,
			MaxIdleConnsPerHost: 2 * conns,
			MaxConnsPerHost:     conns,
			IdleConnTimeout:     5 * time.Minute,
			DisableCompression:  true,
			ForceAttemptHTTP2:   false,
		},
	}
}

// verifyBody is the JSON body verifying secret.
func verifyBody(secret string) []byte {
	b, _ := json.Marshal(map[string]string{"key": secret})
	return b
}

var validMark = []byte(`"valid":true`)

// worker keeps one connection's request buffers.
type worker struct {
	t                         *target
	resp                      bytes.Buffer
	verifyURL, gwURL          string
	contentType, root, gwRoot []string // header values: JSON, the root key as bearer and bare
}

// newWorker is a worker for t, with its URLs and headers made once.
func newWorker(t *target) *worker {
	return &worker{t: t, verifyURL: t.base + "/v1/keys/verify", gwURL: t.base + "/v1/authorize",
		contentType: []string{"application/json"}, root: []string{"Bearer " + t.root}, gwRoot: []string{t.root}}
}

// do sends l's i-th request and reports whether it answered VALID: 200
// with "valid":true from verify, 200 with X-Latchkey-Code VALID from
// authorize.
func (w *worker) do(ctx context.Context, l *load, i int) error {
	var req *http.Request
	var err error
	if l.authorize {
		if req, err = http.NewRequestWithContext(ctx, http.MethodGet, w.gwURL, nil); err != nil {
			return err
		}
		req.Header["X-Latchkey-Root-Key"] = w.gwRoot
		req.Header["Authorization"] = l.bearers[i]
	} else {
		if req, err = http.NewRequestWithContext(ctx, http.MethodPost, w.verifyURL, bytes.NewReader(l.bodies[i])); err != nil {
			return err
		}
		req.Header["Content-Type"] = w.contentType
		req.Header["Authorization"] = w.root
	}
	res, err := w.t.client.Do(req)
	if err != nil {
		return err
	}
	w.resp.Reset()
	_, err = w.resp.ReadFrom(res.Body)
	res.Body.Close()
	if err != nil {
		return err
	}
	ok := res.StatusCode == http.StatusOK && bytes.Contains(w.resp.Bytes(), validMark)
	if l.authorize {
		ok = res.StatusCode == http.StatusOK && res.Header.Get("X-Latchkey-Code") == "VALID"
	}
	if !ok {
		return fmt.Errorf("%s: status %d %s: %.200s", w.t.name, res.StatusCode, res.Header.Get("X-Latchkey-Code"), w.resp.Bytes())
	}
	return nil
}

// result is one measured run of conns workers against one target.
type result struct {
	requests int64
	errors   int64
	firstErr error
	elapsed  time.Duration
	lat      []time.Duration // sorted
	srvCPU   time.Duration   // the server's CPU time during the run
	cliCPU   time.Duration   // this process's CPU time during the run
	meterCPU []time.Duration // by the target's meters; -1 unknown
}

// srvPerReq is the server's CPU time per request.
func (r *result) srvPerReq() time.Duration {
	if r.requests == 0 {
		return 0
	}
	return r.srvCPU / time.Duration(r.requests)
}

// cliPerReq is the load generator's CPU time per request.
func (r *result) cliPerReq() time.Duration {
	if r.requests == 0 {
		return 0
	}
	return r.cliCPU / time.Duration(r.requests)
}

// meterPerReq is the CPU time per request in the target's i-th meter, and
// false when it is unknown.
func (r *result) meterPerReq(i int) (time.Duration, bool) {
	if r.requests == 0 || r.meterCPU[i] < 0 {
		return 0, false
	}
	return r.meterCPU[i] / time.Duration(r.requests), true
}

func (r *result) rate() float64 { return float64(r.requests) / r.elapsed.Seconds() }

// record sends body through w and counts the answer in r: a latency, or an
// error (the first one kept). An error after ctx is done is the run
// stopping, not the server failing: it is not counted, and record reports
// false so the worker stops.
func (r *result) record(ctx context.Context, w *worker, l *load, i int) bool {
	t0 := time.Now()
	if err := w.do(ctx, l, i); err != nil {
		if ctx.Err() != nil {
			return false
		}
		r.errors++
		if r.firstErr == nil {
			r.firstErr = err
		}
		return true
	}
	r.lat = append(r.lat, time.Since(t0))
	r.requests++
	return true
}

// add counts o's requests, errors and latencies into r, keeping r's first
// error (the latencies are sorted by the caller once all are in).
func (r *result) add(o *result) {
	r.requests += o.requests
	r.errors += o.errors
	r.lat = append(r.lat, o.lat...)
	if r.firstErr == nil {
		r.firstErr = o.firstErr
	}
}

// pct is the p-th latency quantile (p in [0, 1]).
func (r *result) pct(p float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	i := int(p * float64(len(r.lat)-1))
	return r.lat[i]
}

// merge sums a target's rounds into one result.
func merge(rs []*result) *result {
	m := &result{}
	for _, r := range rs {
		if m.meterCPU == nil {
			m.meterCPU = make([]time.Duration, len(r.meterCPU))
		}
		for i, t := range r.meterCPU {
			if t < 0 || m.meterCPU[i] < 0 {
				m.meterCPU[i] = -1
			} else {
				m.meterCPU[i] += t
			}
		}
		m.add(r)
		m.elapsed += r.elapsed
		m.srvCPU += r.srvCPU
		m.cliCPU += r.cliCPU
	}
	slices.Sort(m.lat)
	return m
}

// drive runs conns workers against t for d, each request l's first, or
// one of l's picked uniformly at random. Requests in flight at the
// deadline finish and count.
func drive(ctx context.Context, t *target, conns int, d time.Duration, l *load, random bool, seed uint64) *result {
	var stop atomic.Bool
	timer := time.AfterFunc(d, func() { stop.Store(true) })
	defer timer.Stop()
	parts := make([]result, conns)
	var wg sync.WaitGroup
	cpu0 := t.cpu(ctx)
	start := time.Now()
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := newWorker(t)
			p := &parts[i]
			p.lat = make([]time.Duration, 0, 1<<14)
			rng := rand.New(rand.NewPCG(seed, uint64(i)))
			for !stop.Load() && ctx.Err() == nil {
				i := 0
				if random {
					i = rng.IntN(l.n())
				}
				if !p.record(ctx, w, l, i) {
					return
				}
			}
		}()
	}
	wg.Wait()
	r := &result{elapsed: time.Since(start)}
	r.setCPU(cpu0, t.cpu(ctx))
	for i := range parts {
		r.add(&parts[i])
	}
	slices.Sort(r.lat)
	return r
}

// sweep sends each of l's requests once, spread over conns workers: the
// first verification of each key, which the server must read from its
// store.
func sweep(ctx context.Context, t *target, conns int, l *load) *result {
	var next atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	r := &result{}
	cpu0 := t.cpu(ctx)
	start := time.Now()
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := newWorker(t)
			part := &result{lat: make([]time.Duration, 0, l.n()/conns+1)}
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if i >= int64(l.n()) || !part.record(ctx, w, l, int(i)) {
					break
				}
			}
			mu.Lock()
			r.add(part)
			mu.Unlock()
		}()
	}
	wg.Wait()
	r.elapsed = time.Since(start)
	r.setCPU(cpu0, t.cpu(ctx))
	slices.Sort(r.lat)
	return r
}

// checkOnce checks that t answers VALID to l's first request.
func checkOnce(ctx context.Context, t *target, l *load) error {
	return newWorker(t).do(ctx, l, 0)
}

// createKey creates a key through latchkey's API from the JSON body and
// returns its secret.
func createKey(ctx context.Context, base, root string, body any) (string, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/keys", bytes.NewReader(b))
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+root)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	b, _ = io.ReadAll(res.Body)
	if res.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("POST /v1/keys: %d %s", res.StatusCode, b)
	}
	var k struct {
		Secret string `json:"secret"`
	}
	if err := json.Unmarshal(b, &k); err != nil || k.Secret == "" {
		return "", fmt.Errorf("POST /v1/keys: no secret in %s", b)
	}
	return k.Secret, nil
}
