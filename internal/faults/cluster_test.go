package faults

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/testenv"
	"github.com/latchkey/latchkey/internal/testenv/binary"
)

// The suite's harness: the latchkey binary built once, a fresh PostgreSQL
// schema per test, three `latchkey serve` processes on it (the third
// reaching PostgreSQL and Redis through its own Proxy), HTTP helpers, and
// a ledger that counts wrong VALID answers and acknowledged writes lost.

// bin is the latchkey binary TestMain built ("" when the suite's
// services are not configured, so every cluster test skips or fails).
var bin string

// Tallies over the whole run, printed by TestMain.
var (
	totalWrongValid atomic.Int64
	totalLost       atomic.Int64
	totalWrites     atomic.Int64
	totalVerifies   atomic.Int64
)

const (
	// adminSecret is the operator secret every instance is started with.
	adminSecret = "faults-operator-secret-0123456789"
	// obeyWithin is the bound the README's "Running several instances"
	// promises: a change made while an instance was cut off is obeyed
	// there this long after the link returns, at the latest.
	obeyWithin = 2 * time.Second
	// clientTimeout is how long the suite waits for any answer: past the
	// 10 s an answer is promised in, so a hang is told from a slow 503.
	clientTimeout = 12 * time.Second
)

// TestMain builds the latchkey binary once for the cluster suite, when PostgreSQL and Redis are there to run it against.
func TestMain(m *testing.M) {
	var tmp string
	if os.Getenv("LATCHKEY_TEST_POSTGRES_URL") != "" && os.Getenv("LATCHKEY_TEST_REDIS_URL") != "" {
		var err error
		tmp, err = os.MkdirTemp("", "latchkey-faults-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "faults:", err)
			os.Exit(1)
		}
		if b := os.Getenv("LATCHKEY_FAULTS_BINARY"); b != "" {
			// A binary built elsewhere, e.g. from an older commit, to see
			// what the suite finds in it.
			bin = b
		} else {
			bin, err = binary.Build(tmp)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "faults: build latchkey:", err)
			os.RemoveAll(tmp)
			os.Exit(1)
		}
	}
	code := m.Run()
	if bin != "" {
		fmt.Printf("faults: %d verifications, %d acknowledged writes checked; wrong VALID answers: %d, acknowledged writes lost: %d\n",
			totalVerifies.Load(), totalWrites.Load(), totalWrongValid.Load(), totalLost.Load())
	}
	if tmp != "" {
		os.RemoveAll(tmp)
	}
	os.Exit(code)
}

// MustServices returns the PostgreSQL and Redis URLs of the suite. It
// skips the test when either is unset, and fails it under CI=true.
func MustServices(tb testing.TB) (pgURL, redisURL string) {
	tb.Helper()
	pgURL, redisURL = testenv.PostgresURL(tb), testenv.RedisURL(tb)
	if bin == "" {
		tb.Fatal("the latchkey binary was not built")
	}
	return pgURL, redisURL
}

// hostPort is the host:port of a postgres:// or redis:// URL, with the
// scheme's default port.
func hostPort(tb testing.TB, raw string, defaultPort string) string {
	tb.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		tb.Fatalf("parse service URL: %v", err)
	}
	if u.Port() == "" {
		return net.JoinHostPort(u.Hostname(), defaultPort)
	}
	return u.Host
}

// viaProxy returns raw with its host:port replaced by addr.
func viaProxy(tb testing.TB, raw, addr string) string {
	tb.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		tb.Fatal(err)
	}
	u.Host = addr
	return u.String()
}

// instance is one running `latchkey serve` process.
type instance struct {
	n      int // 1, 2 or 3
	URL    string
	proc   *binary.Proc
	stderr *testenv.Buffer
	client *http.Client
}

// MustStart starts `latchkey serve` on 127.0.0.1:0 with env (LATCHKEY_*
// variables of the test process are not passed on) and waits for its
// welcome. The process is stopped when the test ends, and its log is
// shown if the test failed.
func MustStart(tb testing.TB, n int, env map[string]string) *instance {
	tb.Helper()
	env["LATCHKEY_LISTEN"] = "127.0.0.1:0"
	var kvs []string
	for k, v := range env {
		kvs = append(kvs, k+"="+v)
	}
	in := &instance{n: n, stderr: &testenv.Buffer{}}
	// Dir: whatever the server writes next to itself (the first start's
	// file with its root key) stays out of the repo.
	p, err := binary.Start(context.Background(), binary.Options{Bin: bin, Env: kvs, Dir: tb.TempDir(), Stderr: in.stderr,
		StartTimeout: 30 * time.Second, StopTimeout: 3 * time.Second})
	if err != nil {
		tb.Fatalf("instance %d: %v:\n%s", n, err, in.stderr.String())
	}
	in.proc, in.URL = p, p.URL
	tb.Cleanup(func() {
		if d, killed := in.stop(); killed {
			tb.Logf("instance %d did not stop %v after SIGTERM: killed; its log ends:\n%s", n, d.Round(time.Millisecond), tail(in.stderr.String(), 2<<10))
		}
		if tb.Failed() {
			tb.Logf("--- instance %d log ---\n%s", n, tail(in.stderr.String(), 16<<10))
		}
	})
	in.client = &http.Client{
		Timeout:   clientTimeout,
		Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true},
	}
	return in
}

// stop sends SIGTERM and, if the process has not ended 3 s later, kills
// it; it reports how long it waited and whether it killed.
func (in *instance) stop() (waited time.Duration, killed bool) {
	start := time.Now()
	killed = errors.Is(in.proc.Stop(), binary.ErrKilled)
	if in.client != nil {
		in.client.CloseIdleConnections()
	}
	return time.Since(start), killed
}

// tail is the last n bytes of s, to quote a long log in a failure.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// answer is one HTTP exchange.
type answer struct {
	status   int // 0 when no answer came (err says why)
	header   http.Header
	body     []byte
	err      error
	sent     time.Time
	answered time.Time
}

func (a answer) took() time.Duration { return a.answered.Sub(a.sent) }

// String is a one-line summary for failure messages.
func (a answer) String() string {
	if a.err != nil {
		return fmt.Sprintf("no answer after %v: %v", a.took().Round(time.Millisecond), a.err)
	}
	b := a.body
	if len(b) > 300 {
		b = append(b[:300:300], "…"...)
	}
	ra := ""
	if v := a.header.Get("Retry-After"); v != "" {
		ra = " Retry-After: " + v
	}
	return fmt.Sprintf("%d%s %s", a.status, ra, bytes.TrimSpace(b))
}

// do sends one request with a bearer credential (or X-Admin-Secret when
// bearer is "operator") and a JSON body (nil for none).
func (in *instance) do(method, path, bearer string, body any) answer {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			panic(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, in.URL+path, rd)
	if err != nil {
		panic(err)
	}
	if bearer == "operator" {
		req.Header.Set("X-Admin-Secret", adminSecret)
	} else if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	a := answer{sent: time.Now()}
	resp, err := in.client.Do(req)
	if err != nil {
		a.err, a.answered = err, time.Now()
		return a
	}
	defer resp.Body.Close()
	a.body, a.err = io.ReadAll(resp.Body)
	a.status, a.header, a.answered = resp.StatusCode, resp.Header, time.Now()
	if a.err != nil {
		a.status = 0
	}
	return a
}

// wantUnavailable reports what is wrong with a, which should be 503 with a
// Retry-After header; "" when nothing is.
func wantUnavailable(a answer) string {
	switch {
	case a.err != nil || a.status == 0:
		return "got " + a.String() + ", want 503 with Retry-After"
	case a.status != http.StatusServiceUnavailable:
		return "got " + a.String() + ", want 503 with Retry-After"
	case !validRetryAfter(a.header.Get("Retry-After")):
		return fmt.Sprintf("got 503 with Retry-After %q, want a Retry-After header of seconds or a date", a.header.Get("Retry-After"))
	}
	return ""
}

// validRetryAfter reports whether v is a Retry-After value: delay-seconds
// or an HTTP date.
func validRetryAfter(v string) bool {
	if v == "" {
		return false
	}
	if _, err := http.ParseTime(v); err == nil {
		return true
	}
	for _, r := range v {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// cluster is three instances on one fresh schema and one Redis; instance
// 3 reaches both through its own proxy.
type cluster struct {
	t       *testing.T
	in      [3]*instance // in[0] is instance 1
	dbProxy *Proxy       // instance 3's link to PostgreSQL
	rdProxy *Proxy       // instance 3's link to Redis
	root    string       // a root key holding every permission
	ledger  *ledger
}

// rootPermissions are every root-key permission.
var rootPermissions = []string{"keys:read", "keys:write", "keys:verify", "account:admin", "audit:read"}

// MustCluster starts a cluster for the test. The first instance starts
// alone, so that it is the one that bootstraps the store, then the other
// two. The root key the suite uses is created by the operator, so the
// suite does not depend on where the first start shows its own.
func MustCluster(t *testing.T) *cluster {
	t.Helper()
	pgURL, redisURL := MustServices(t)
	dsn := testenv.PostgresSchema(t, pgURL)
	c := &cluster{t: t, ledger: newLedger()}
	var err error
	if c.dbProxy, err = NewProxy(hostPort(t, pgURL, "5432")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.dbProxy.Close() })
	if c.rdProxy, err = NewProxy(hostPort(t, redisURL, "6379")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.rdProxy.Close() })

	env := func(db, rd string) map[string]string {
		return map[string]string{
			"LATCHKEY_DATABASE_URL": db,
			"LATCHKEY_REDIS_URL":    rd,
			"LATCHKEY_ADMIN_SECRET": adminSecret,
			"LATCHKEY_LOG_LEVEL":    "info",
		}
	}
	c.in[0] = MustStart(t, 1, env(dsn, redisURL))
	c.in[1] = MustStart(t, 2, env(dsn, redisURL))
	c.in[2] = MustStart(t, 3, env(viaProxy(t, dsn, c.dbProxy.Addr()), viaProxy(t, redisURL, c.rdProxy.Addr())))

	var k createdKey
	a := c.in[0].do("POST", "/v1/keys", "operator", map[string]any{"kind": "root", "name": "faults root", "permissions": rootPermissions})
	if a.status != http.StatusCreated || json.Unmarshal(a.body, &k) != nil || k.Secret == "" {
		t.Fatalf("operator creates a root key on instance 1: %v", a)
	}
	c.root = k.Secret
	// Registered last, so it runs first: while every instance still runs.
	t.Cleanup(c.audit)
	return c
}

// createdKey is the part of a create answer the suite reads.
type createdKey struct {
	ID     int64  `json:"id"`
	Secret string `json:"secret"`
	Name   string `json:"name"`
	Kind   string `json:"kind"`
}

// create sends POST /v1/keys to instance i (1-based) and records an
// acknowledged create in the ledger.
func (c *cluster) create(i int, body map[string]any) (createdKey, answer) {
	a := c.in[i-1].do("POST", "/v1/keys", c.root, body)
	var k createdKey
	if a.status == http.StatusCreated {
		if err := json.Unmarshal(a.body, &k); err != nil || k.ID == 0 || k.Secret == "" {
			c.t.Errorf("instance %d: create answered 201 with %q", i, a.body)
		} else {
			c.ledger.created(k)
		}
	}
	return k, a
}

// mustCreate creates a key on instance i and fails the test otherwise.
func (c *cluster) mustCreate(i int, body map[string]any) createdKey {
	c.t.Helper()
	k, a := c.create(i, body)
	if a.status != http.StatusCreated {
		c.t.Fatalf("create on instance %d: %v", i, a)
	}
	return k
}

// mustCreateRoot creates a root key with every permission on instance i.
func (c *cluster) mustCreateRoot(i int, name string) createdKey {
	c.t.Helper()
	return c.mustCreate(i, map[string]any{"kind": "root", "name": name, "permissions": rootPermissions})
}

// mutate sends a revoke, disable, rename or delete of key id to
// instance i and records it in the ledger when acknowledged. op is
// "revoke", "disable", "delete" or "rename:<new name>".
func (c *cluster) mutate(i int, id int64, op string) answer {
	var a answer
	path := fmt.Sprintf("/v1/keys/%d", id)
	switch {
	case op == "revoke":
		a = c.in[i-1].do("POST", path+"/revoke", c.root, map[string]any{"reason": "fault suite"})
	case op == "disable":
		a = c.in[i-1].do("PATCH", path, c.root, map[string]any{"enabled": false})
	case op == "delete":
		a = c.in[i-1].do("DELETE", path, c.root, nil)
	case strings.HasPrefix(op, "rename:"):
		a = c.in[i-1].do("PATCH", path, c.root, map[string]any{"name": strings.TrimPrefix(op, "rename:")})
	default:
		panic("unknown op " + op)
	}
	if a.status >= 200 && a.status < 300 {
		c.ledger.mutated(id, op, i, a.answered)
	} else if strings.HasPrefix(op, "rename:") {
		// An unanswered or refused write may still land later (a
		// partition that heals delivers it): the name is not known.
		c.ledger.uncertain(id)
	}
	return a
}

// mustMutate is mutate that fails the test unless the write is acknowledged.
func (c *cluster) mustMutate(i int, id int64, op string) answer {
	c.t.Helper()
	a := c.mutate(i, id, op)
	if a.status < 200 || a.status >= 300 {
		c.t.Fatalf("%s key %d on instance %d: %v", op, id, i, a)
	}
	return a
}

// verifyAnswer is the part of a verify answer the suite reads.
type verifyAnswer struct {
	Valid            bool   `json:"valid"`
	Code             string `json:"code"`
	CreditsRemaining *int64 `json:"credits_remaining"`
}

// verify sends POST /v1/keys/verify to instance i with the key's secret
// and extra fields, and checks a VALID answer against the ledger. code is
// the answer's code, or "" when it was not a 200.
func (c *cluster) verify(i int, secret string, extra map[string]any) (code string, a answer) {
	body := map[string]any{"key": secret}
	for k, v := range extra {
		body[k] = v
	}
	a = c.in[i-1].do("POST", "/v1/keys/verify", c.root, body)
	totalVerifies.Add(1)
	if a.status != http.StatusOK {
		return "", a
	}
	var v verifyAnswer
	if err := json.Unmarshal(a.body, &v); err != nil {
		c.t.Errorf("instance %d: verify answered 200 with %q", i, a.body)
		return "", a
	}
	if v.Valid != (v.Code == "VALID") {
		c.t.Errorf("instance %d: verify answered valid=%v with code %s", i, v.Valid, v.Code)
	}
	if v.Valid {
		c.ledger.accepted(i, secret, a.sent, "VALID")
	}
	return v.Code, a
}

// listWith sends GET /v1/keys to instance i with a root key as the
// credential, and checks a 2xx answer against the ledger.
func (c *cluster) listWith(i int, rootSecret string) answer {
	a := c.in[i-1].do("GET", "/v1/keys?limit=1", rootSecret, nil)
	if a.status >= 200 && a.status < 300 {
		c.ledger.accepted(i, rootSecret, a.sent, fmt.Sprintf("%d on GET /v1/keys", a.status))
	}
	return a
}

// cutDB switches instance 3's PostgreSQL link to mode; changes made
// while it is cut are owed to instance 3 only once it heals.
func (c *cluster) cutDB(mode Mode) time.Time {
	c.t.Helper()
	c.ledger.setCut(3, true, time.Time{})
	if err := c.dbProxy.SetMode(mode); err != nil {
		c.t.Fatal(err)
	}
	return time.Now()
}

// healDB heals instance 3's PostgreSQL link and starts the clock of what
// instance 3 owes.
func (c *cluster) healDB() time.Time {
	c.t.Helper()
	if err := c.dbProxy.Heal(); err != nil {
		c.t.Fatal(err)
	}
	now := time.Now()
	c.ledger.setCut(3, false, now)
	return now
}

// metric reads one unlabelled gauge or counter from instance i's
// /metrics; ok is false when it is absent or /metrics did not answer.
func (c *cluster) metric(i int, name string) (v string, ok bool) {
	a := c.in[i-1].do("GET", "/metrics", "", nil)
	if a.status != http.StatusOK {
		return "", false
	}
	for _, line := range strings.Split(string(a.body), "\n") {
		if rest, found := strings.CutPrefix(line, name); found && (strings.HasPrefix(rest, " ") || strings.HasPrefix(rest, "{")) {
			if f := strings.Fields(rest); len(f) > 0 {
				return f[len(f)-1], true
			}
		}
	}
	return "", false
}

// audit is the check of item f, run when every test ends: zero wrong
// VALID answers, and every acknowledged write readable from instance 1.
func (c *cluster) audit() {
	t := c.t
	lost, checked := c.ledger.checkWrites(c.in[0], c.root)
	n, wrong := c.ledger.wrongValid()
	totalLost.Add(int64(len(lost)))
	totalWrites.Add(int64(checked))
	totalWrongValid.Add(int64(n))
	t.Logf("ledger: %d acknowledged writes checked on instance 1, %d lost; %d wrong VALID answers", checked, len(lost), n)
	for _, l := range lost {
		t.Errorf("acknowledged write lost: %s", l)
	}
	for _, w := range wrong {
		t.Errorf("wrong VALID answers: %s", w)
	}
}

// farFuture stands for "not owed yet": a change an instance cannot know
// while it is cut off.
var farFuture = time.Unix(1<<40, 0)

// ledger is what the suite knows the cluster acknowledged: each key's
// state after its last acknowledged write, and from when each instance
// owes obedience to it.
type ledger struct {
	mu    sync.Mutex
	keys  map[int64]*record
	bySec map[string]*record
	cut   map[int]bool // instances whose store link is cut
	wrong map[wrongKey]*wrongCount
}

// wrongKey groups wrong answers: one instance, one key, one kind of answer.
type wrongKey struct {
	instance int
	id       int64
	state    string
	what     string
}

// wrongCount is how many wrong answers a group had, and how long after
// the key was owed the first and the last were sent.
type wrongCount struct {
	n           int
	first, last time.Duration
}

// record is one key as acknowledged.
type record struct {
	id            int64
	secret, kind  string
	name          string
	nameUncertain bool
	state         string       // active, revoked, disabled or deleted
	obeyBy        [4]time.Time // by instance; zero: nothing owed
}

func newLedger() *ledger {
	return &ledger{keys: map[int64]*record{}, bySec: map[string]*record{}, cut: map[int]bool{}, wrong: map[wrongKey]*wrongCount{}}
}

// created records a key the cluster acknowledged creating, as active.
func (l *ledger) created(k createdKey) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := &record{id: k.ID, secret: k.Secret, kind: k.Kind, name: k.Name, state: "active"}
	l.keys[k.ID], l.bySec[k.Secret] = r, r
}

// mutated records an acknowledged write of key id by instance by at ack:
// that instance owes it at once, a connected one within obeyWithin, a cut
// off one from obeyWithin after its link returns.
func (l *ledger) mutated(id int64, op string, by int, ack time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.keys[id]
	if r == nil {
		return
	}
	switch {
	case op == "revoke":
		r.state = "revoked"
	case op == "disable":
		if r.state == "active" {
			r.state = "disabled"
		}
	case op == "delete":
		r.state = "deleted"
	case strings.HasPrefix(op, "rename:"):
		r.name, r.nameUncertain = strings.TrimPrefix(op, "rename:"), false
		return
	}
	for i := 1; i <= 3; i++ {
		switch {
		case i == by:
			r.obeyBy[i] = ack
		case l.cut[i]:
			r.obeyBy[i] = farFuture
		default:
			r.obeyBy[i] = ack.Add(obeyWithin)
		}
	}
}

// uncertain marks a key's name unknown: a rename whose answer was lost may or may not have happened.
func (l *ledger) uncertain(id int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if r := l.keys[id]; r != nil {
		r.nameUncertain = true
	}
}

// setCut marks instance i cut off, or healed at healedAt: what it was
// not owed while cut becomes owed obeyWithin after healedAt.
func (l *ledger) setCut(i int, cut bool, healedAt time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cut[i] = cut
	if cut {
		return
	}
	for _, r := range l.keys {
		if r.obeyBy[i] == farFuture {
			r.obeyBy[i] = healedAt.Add(obeyWithin)
		}
	}
}

// accepted checks that instance i may accept secret for a request sent
// at sent, and counts a wrong answer otherwise.
func (l *ledger) accepted(i int, secret string, sent time.Time, what string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.bySec[secret]
	if r == nil || r.state == "active" {
		return
	}
	if by := r.obeyBy[i]; !by.IsZero() && sent.After(by) {
		k := wrongKey{i, r.id, r.state, what}
		w := l.wrong[k]
		if w == nil {
			w = &wrongCount{first: sent.Sub(by)}
			l.wrong[k] = w
		}
		w.n++
		w.last = sent.Sub(by)
	}
}

// wrongValid returns the number of wrong answers and a line per group.
func (l *ledger) wrongValid() (n int, lines []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, w := range l.wrong {
		n += w.n
		lines = append(lines, fmt.Sprintf("instance %d answered %s for %s key %d %d times, sent from %v to %v after it was owed",
			k.instance, k.what, k.state, k.id, w.n, w.first.Round(time.Millisecond), w.last.Round(time.Millisecond)))
	}
	sort.Strings(lines)
	return n, lines
}

// checkWrites reads every key the ledger holds from instance in and
// returns what does not match its last acknowledged write.
func (l *ledger) checkWrites(in *instance, root string) (lost []string, checked int) {
	l.mu.Lock()
	recs := make([]record, 0, len(l.keys))
	for _, r := range l.keys {
		recs = append(recs, *r)
	}
	l.mu.Unlock()
	for _, r := range recs {
		checked++
		a := in.do("GET", fmt.Sprintf("/v1/keys/%d", r.id), root, nil)
		if r.state == "deleted" {
			if a.status != http.StatusNotFound {
				lost = append(lost, fmt.Sprintf("key %d was deleted, instance 1 answers %v", r.id, a))
			}
			continue
		}
		var k struct {
			Name   string `json:"name"`
			Status string `json:"status"`
		}
		if a.status != http.StatusOK || json.Unmarshal(a.body, &k) != nil {
			lost = append(lost, fmt.Sprintf("key %d (%s): instance 1 answers %v", r.id, r.state, a))
			continue
		}
		if k.Status != r.state {
			lost = append(lost, fmt.Sprintf("key %d: status %s, want %s", r.id, k.Status, r.state))
		}
		if !r.nameUncertain && k.Name != r.name {
			lost = append(lost, fmt.Sprintf("key %d: name %q, want %q", r.id, k.Name, r.name))
		}
	}
	return lost, checked
}
