// Command load measures latchkey's POST /v1/keys/verify, and with
// -authorize its gateway endpoint GET /v1/authorize, against a bare
// net/http yardstick (bench/baseline) on this machine, over loopback only.
//
//	go run ./bench/load -duration 10s -conns 32
//	go run ./bench/load -duration 10s -conns 32 -authorize
//	go run ./bench/load -duration 10s -conns 32 -keys 1000000
//	go run ./bench/load -duration 10s -conns 32 -keys 1000 -samples 1000 \
//	  -stores sqlite,postgres+redis \
//	  -postgres-url 'postgres://postgres@127.0.0.1:5432/test?sslmode=disable' \
//	  -redis-url redis://127.0.0.1:6379/0
//
// It builds both binaries into a temporary directory and starts one
// latchkey for each store of -stores (default sqlite), each on a fresh
// store of its own: "sqlite" a new SQLite file, "postgres" a new schema in
// the -postgres-url database (search_path in its DSN, dropped at the end);
// "+redis" adds -redis-url, so rate limits are counted by Redis's script
// instead of in the server's memory. For each, the first start bootstraps
// the store and prints the root key, and the tool creates two keys through
// the API: one without limits and one with a rate limit of 10^9 an hour.
// With -keys N it then stops that latchkey, seeds N more keys straight into
// its store (the same SQL on SQLite and PostgreSQL), and starts it again on
// the seeded store. It starts the baseline with the secrets of the first
// store, then drives POST verify at every server in alternating rounds with
// the same keep-alive client settings and connection count, and prints
// req/s, p50 and p99 for each and the ratio of each store to the baseline
// measured in the same rounds, as lines and as a Markdown table.
//
// Scenarios: "hot" verifies the key without limits; "limited" the key with
// the rate limit, which is never reached, so every verification takes a
// token (in memory, or one Redis round trip with +redis); with -keys,
// "random/S" picks uniformly among S seeded keys, for each size S of
// -samples (capped at -keys), after a "cold" sweep that verifies each of
// the largest sample once (each a store read in latchkey), so the random
// rounds run on a warm cache. The sampled secrets are spread evenly over
// the ids; a smaller sample is a prefix of the larger one. The baseline
// runs every scenario too, on the same bodies, with its one map lookup.
// With -authorize every scenario runs a second time as "authorize/…": the
// same keys, sent to latchkey as a gateway would (GET /v1/authorize, the
// root key in X-Latchkey-Root-Key, the key as Authorization: Bearer, VALID
// read from X-Latchkey-Code), while the yardstick, which has no such
// endpoint, answers them as verifications, so both endpoints stand beside
// the same yardstick in the same run.
//
// -duration is the measured time per target and scenario, split over
// -rounds rounds; each (target, scenario) also gets -warmup first, not
// measured. The order alternates round by round (baseline, then each store
// in -stores order, then the reverse, …) so none always runs first.
//
// CPU per request is read from /proc/PID/stat for each server, and, for a
// postgres store, for the PostgreSQL backends its DSN opened (found in
// pg_stat_activity by an application_name set to its schema), and for a
// +redis store from Redis's INFO cpu (the whole Redis server's).
//
// It reports for each latchkey the time from process start to its listening
// line and its VmRSS after start and after the load. Every child process is
// stopped on exit, on SIGINT/SIGTERM and when the parent process goes away,
// and gets SIGKILL from the kernel if this process dies (a schema is then
// left behind, named lk_bench_…). The whole run is bounded by -max-time.
// Servers under test get no LATCHKEY_* setting from the environment but the
// ones the tool gives them. PostgreSQL and Redis must be on a loopback
// address; Redis is never flushed: each latchkey names its counters under a
// prefix derived from its fresh store's secret key, and they expire within
// an hour and a minute.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/latchkey/latchkey/internal/testenv/binary"
)

type config struct {
	duration, warmup, maxTime time.Duration
	rounds, conns             int
	keys, txKeys              int
	samples                   []int
	host                      string
	keep                      bool
	seed                      uint64
	stores                    []storeSpec
	postgresURL, redisURL     string
	authorize                 bool
}

// main parses the flags, checks them and runs the measurement.
func main() {
	var c config
	flag.DurationVar(&c.duration, "duration", 10*time.Second, "measured time per target and scenario, split over -rounds")
	flag.DurationVar(&c.warmup, "warmup", 2*time.Second, "unmeasured load per target and scenario before its first round")
	flag.DurationVar(&c.maxTime, "max-time", 30*time.Minute, "hard bound on the whole run")
	flag.IntVar(&c.rounds, "rounds", 2, "rounds per target and scenario, alternating targets")
	flag.IntVar(&c.conns, "conns", 32, "concurrent keep-alive connections per target")
	flag.IntVar(&c.keys, "keys", 0, "seed this many keys into each store before the load (0: only the API-created keys)")
	samples := flag.String("samples", "1000,100000", "with -keys, comma-separated sizes of the sets of seeded keys to pick from at random")
	flag.IntVar(&c.txKeys, "seed-tx", 100_000, "keys per seeding transaction")
	flag.StringVar(&c.host, "host", "127.0.0.1", "loopback address the servers listen on (127.0.0.1 or ::1)")
	flag.BoolVar(&c.keep, "keep", false, "keep the temporary directory (binaries, SQLite files, server logs)")
	flag.Uint64Var(&c.seed, "seed", uint64(time.Now().UnixNano()), "seed of the random key picks")
	stores := flag.String("stores", "sqlite", "comma-separated latchkey stores to measure beside the yardstick: sqlite, postgres, sqlite+redis, postgres+redis")
	flag.StringVar(&c.postgresURL, "postgres-url", "", "for postgres stores: a loopback PostgreSQL URL like postgres://postgres@127.0.0.1:5432/test?sslmode=disable; each store gets a fresh schema there, dropped at the end")
	flag.StringVar(&c.redisURL, "redis-url", "", "for +redis stores: a loopback Redis URL like redis://127.0.0.1:6379/0")
	flag.BoolVar(&c.authorize, "authorize", false, "also run every scenario through latchkey's gateway endpoint, GET /v1/authorize (root key in X-Latchkey-Root-Key, the key as the bearer), in the same rounds")
	flag.Parse()
	for _, f := range strings.Split(*samples, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "load: bad -samples %q\n", *samples)
			os.Exit(2)
		}
		if n = min(n, c.keys); n > 0 && !slices.Contains(c.samples, n) {
			c.samples = append(c.samples, n)
		}
	}
	slices.Sort(c.samples)
	if flag.NArg() > 0 || c.duration <= 0 || c.rounds < 1 || c.conns < 1 || c.keys < 0 || c.txKeys < 1 {
		flag.Usage()
		os.Exit(2)
	}
	if ip := net.ParseIP(c.host); ip == nil || !ip.IsLoopback() {
		fmt.Fprintf(os.Stderr, "load: -host %q is not a loopback address; this tool only loads its own local servers\n", c.host)
		os.Exit(2)
	}
	var err error
	if c.stores, err = parseStores(*stores); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(2)
	}
	if err := c.checkURLs(); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	ctx, cancel := context.WithTimeout(ctx, c.maxTime)
	go watchParent(ctx, cancel)
	err = run(ctx, c)
	stopAll()
	cancel()
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

// checkURLs requires -postgres-url exactly when a postgres store is named,
// and -redis-url exactly when a +redis one is: a URL no store uses is a
// mistake in the command, not something to ignore.
func (c config) checkURLs() error {
	pg := slices.ContainsFunc(c.stores, func(s storeSpec) bool { return s.postgres })
	rd := slices.ContainsFunc(c.stores, func(s storeSpec) bool { return s.redis })
	switch {
	case pg && c.postgresURL == "":
		return fmt.Errorf("-stores names a postgres store: set -postgres-url")
	case !pg && c.postgresURL != "":
		return fmt.Errorf("-postgres-url is set but -stores names no postgres store (e.g. -stores sqlite,postgres+redis)")
	case rd && c.redisURL == "":
		return fmt.Errorf("-stores names a +redis store: set -redis-url")
	case !rd && c.redisURL != "":
		return fmt.Errorf("-redis-url is set but -stores names no +redis store (e.g. -stores sqlite,postgres+redis)")
	}
	return nil
}

// watchParent cancels the run when the parent (go run, a shell) goes away.
func watchParent(ctx context.Context, cancel context.CancelFunc) {
	ppid := os.Getppid()
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if os.Getppid() != ppid {
				fmt.Fprintln(os.Stderr, "load: parent process went away; stopping")
				cancel()
				return
			}
		}
	}
}

func logf(format string, args ...any) {
	fmt.Printf("# "+format+"\n", args...)
}

// run builds the binaries, starts the servers, drives every scenario at
// every target and prints the summary.
func run(ctx context.Context, c config) error {
	tmp, err := os.MkdirTemp("", "latchkey-bench-")
	if err != nil {
		return err
	}
	if c.keep {
		logf("temporary directory kept: %s", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}

	logf("go %s, GOMAXPROCS %d, %d CPUs; conns %d, duration %s per target and scenario in %d rounds, warmup %s",
		runtime.Version(), runtime.GOMAXPROCS(0), runtime.NumCPU(), c.conns, c.duration, c.rounds, c.warmup)
	logf("load average at start: %s (the machine is shared: other processes compete for the same cores)", loadavg())
	defer func() { logf("load average at end: %s", loadavg()) }()
	t0 := time.Now()
	lkBin, err := binary.BuildPackage(ctx, tmp, "./cmd/latchkey")
	if err != nil {
		return err
	}
	baseBin, err := binary.BuildPackage(ctx, tmp, "./bench/baseline")
	if err != nil {
		return err
	}
	logf("built latchkey and baseline in %s", time.Since(t0).Round(time.Millisecond))

	listen := net.JoinHostPort(c.host, "0")
	h := &harness{tmp: tmp, lkBin: lkBin, listen: listen}
	defer h.close()
	if c.postgresURL != "" {
		if h.pg, err = openPostgresServer(ctx, c.postgresURL); err != nil {
			return err
		}
	}
	if c.redisURL != "" {
		if h.rd, err = openRedisServer(ctx, c.redisURL); err != nil {
			return err
		}
	}
	var insts []*instance
	for _, spec := range c.stores {
		in, err := h.start(ctx, c, spec)
		if err != nil {
			return err
		}
		insts = append(insts, in)
	}

	// Baseline: knows the first store's keys, and is driven with them.
	first := insts[0]
	keysFile := filepath.Join(tmp, "secrets.txt")
	if err := os.WriteFile(keysFile, []byte(strings.Join(first.secrets(), "\n")+"\n"), 0o600); err != nil {
		return err
	}
	base, err := startChild(ctx, "baseline", baseBin, []string{"-listen", listen, "-keys-file", keysFile}, nil, filepath.Join(tmp, "baseline.log"), false)
	if err != nil {
		return err
	}
	if err := checkLoopback(base.URL); err != nil {
		return err
	}
	logf("baseline listening after %s at %s", base.Startup.Round(time.Microsecond), base.URL)

	scenarios := []scenario{{name: "hot", key: "hot"}, {name: "limited", key: "limited"}}
	for _, n := range c.samples {
		scenarios = append(scenarios, scenario{name: fmt.Sprintf("random/%d", n), random: true, size: n})
	}
	if c.authorize {
		for _, sc := range slices.Clone(scenarios) {
			sc.name, sc.authorize = "authorize/"+sc.name, true
			scenarios = append(scenarios, sc)
		}
	}
	// newTarget is a server with the loads of every scenario: latchkey's
	// authorize scenarios call the gateway endpoint; the yardstick, which
	// has none, answers them as verifications.
	newTarget := func(name string, pid int, addr string, in *instance, yardstick bool) *target {
		t := &target{name: name, pid: pid, base: addr, root: in.rootKey, client: newClient(c.conns),
			meters: in.meters, loads: map[string]*load{}}
		var sample []string
		if in.seeded != nil {
			sample = in.seeded.sample
		}
		t.sample = newLoad(sample, false)
		for _, sc := range scenarios {
			secrets := sample
			switch sc.key {
			case "hot":
				secrets = []string{in.hot}
			case "limited":
				secrets = []string{in.limited}
			}
			t.loads[sc.name] = newLoad(secrets, sc.authorize && !yardstick).prefix(max(sc.size, 1))
		}
		return t
	}
	// The yardstick gets the first store's requests, byte for byte (it
	// ignores the root key and has no limits); it has no store, so nothing
	// but its own process to measure.
	yard := *first
	yard.meters = nil
	targets := []*target{newTarget("baseline", base.Pid(), base.URL, &yard, true)}
	for _, in := range insts {
		targets = append(targets, newTarget(in.spec.name, in.lk.Pid(), in.lk.URL, in, false))
	}
	for _, t := range targets {
		for _, sc := range scenarios {
			if sc.key == "" {
				continue
			}
			if err := checkOnce(ctx, t, t.loads[sc.name]); err != nil {
				return fmt.Errorf("sanity check: %w", err)
			}
		}
	}

	results := map[string][]*result{} // scenario/target → rounds
	swept := false
	for i, sc := range scenarios {
		if sc.random && !swept {
			// Cold sweep: every sampled key once (in latchkey, each a store
			// read), so the random rounds run on a cache holding them all.
			for _, t := range targets {
				r := sweep(ctx, t, c.conns, t.sample)
				if err := ctx.Err(); err != nil {
					return err
				}
				logf("cold sweep %-14s %d keys once each: %.0f req/s, p50 %s, p99 %s, cpu/req server %s%s client %s, errors %d%s",
					t.name, t.sample.n(), r.rate(), fmtDur(r.pct(0.50)), fmtDur(r.pct(0.99)), fmtDur(r.srvPerReq()), meterNote(t, r), fmtDur(r.cliPerReq()), r.errors, errNote(r))
				if r.errors > 0 {
					return fmt.Errorf("cold sweep of %s failed", t.name)
				}
			}
			swept = true
		}
		if err := runScenario(ctx, c, targets, sc, uint64(i), results); err != nil {
			return err
		}
	}

	memAfter := make([]memory, len(insts))
	for i, in := range insts {
		if memAfter[i], err = readMemory(in.lk.Pid()); err != nil {
			return err
		}
	}
	baseMem, _ := readMemory(base.Pid())

	fmt.Println()
	fmt.Printf("== summary: conns %d, %s per target and scenario, %d rounds ==\n", c.conns, c.duration, c.rounds)
	failed := false
	for _, sc := range scenarios {
		b := merge(results[sc.name+"/baseline"])
		for _, t := range targets {
			r := merge(results[sc.name+"/"+t.name])
			fmt.Printf("%-14s %-14s %8.0f req/s  p50 %8s  p99 %8s  cpu/req server %6s%s client %6s\n",
				sc.name, t.name, r.rate(), fmtDur(r.pct(0.50)), fmtDur(r.pct(0.99)), fmtDur(r.srvPerReq()), meterNote(t, r), fmtDur(r.cliPerReq()))
			if r.errors > 0 {
				failed = true
			}
		}
		for _, t := range targets[1:] {
			l := merge(results[sc.name+"/"+t.name])
			ratio := l.rate() / b.rate()
			verdict := "meets"
			if ratio < 0.6 {
				verdict = "MISSES"
			}
			fmt.Printf("%-14s ratio %s/baseline %.2f req/s (%s the 0.6 target); per round:", sc.name, t.name, ratio, verdict)
			for i, r := range results[sc.name+"/"+t.name] {
				fmt.Printf(" %.2f", r.rate()/results[sc.name+"/baseline"][i].rate())
			}
			if ls := l.srvPerReq(); ls > 0 {
				fmt.Printf("; server CPU per request baseline/%s %.2f", t.name, float64(b.srvPerReq())/float64(ls))
			}
			fmt.Println()
		}
	}
	fmt.Println()
	printTable(scenarios, targets, results)
	fmt.Println()
	for i, in := range insts {
		if in.seeded != nil {
			fmt.Printf("%s: store of %d seeded keys (+ root, hot and limited keys), seeded in %s\n", in.spec.name, c.keys, in.seeded.elapsed.Round(time.Millisecond))
		}
		fmt.Printf("%s: latchkey start → listening line: %s (first start on an empty store: %s)\n",
			in.spec.name, in.lk.Startup.Round(time.Microsecond), in.firstStart.Round(time.Microsecond))
		fmt.Printf("%s: latchkey memory after start: %s\n", in.spec.name, in.memStart)
		fmt.Printf("%s: latchkey memory after load:  %s\n", in.spec.name, memAfter[i])
	}
	fmt.Printf("baseline memory after load:  %s\n", baseMem)

	for _, in := range insts {
		if err := in.lk.stop(); err != nil {
			return err
		}
	}
	if err := base.stop(); err != nil {
		return err
	}
	if failed {
		return fmt.Errorf("some requests failed (see the error counts above)")
	}
	return nil
}

// scenario is one kind of traffic, the same for every target: "hot"
// verifies one key without limits, "limited" one key with a rate limit
// (limitedKey), "random/N" one of N seeded keys picked at random; with
// -authorize, "authorize/…" sends the same keys to latchkey's gateway
// endpoint instead (GET /v1/authorize, the key as the bearer).
type scenario struct {
	name      string
	key       string // "hot" or "limited": the one key; "" for random
	random    bool
	size      int // random: how many of the sample to pick from
	authorize bool
}

// runScenario warms each target up, then runs c.rounds measured rounds of
// each, in the order of targets on even rounds and the reverse on odd ones.
func runScenario(ctx context.Context, c config, targets []*target, sc scenario, salt uint64, results map[string][]*result) error {
	for _, t := range targets {
		if c.warmup > 0 {
			drive(ctx, t, c.conns, c.warmup, t.loads[sc.name], sc.random, c.seed^salt)
		}
	}
	per := c.duration / time.Duration(c.rounds)
	for round := range c.rounds {
		order := slices.Clone(targets)
		if round%2 == 1 {
			slices.Reverse(order)
		}
		for _, t := range order {
			r := drive(ctx, t, c.conns, per, t.loads[sc.name], sc.random, c.seed^salt+uint64(round+1))
			if err := ctx.Err(); err != nil {
				return err
			}
			key := sc.name + "/" + t.name
			results[key] = append(results[key], r)
			fmt.Printf("round %d %-14s %-14s %8.0f req/s  p50 %8s  p99 %8s  cpu/req server %6s%s client %6s  (%d requests, %d errors)%s\n",
				round+1, sc.name, t.name, r.rate(), fmtDur(r.pct(0.50)), fmtDur(r.pct(0.99)), fmtDur(r.srvPerReq()), meterNote(t, r), fmtDur(r.cliPerReq()), r.requests, r.errors, errNote(r))
		}
	}
	return nil
}

// meterNote is " + postgres 3.1µs + redis 12µs": the CPU per request of
// r's target's meters, "?" where unknown.
func meterNote(t *target, r *result) string {
	var b strings.Builder
	for i, m := range t.meters {
		if d, ok := r.meterPerReq(i); ok {
			fmt.Fprintf(&b, " + %s %s", m.name, fmtDur(d))
		} else {
			fmt.Fprintf(&b, " + %s ?", m.name)
		}
	}
	return b.String()
}

// printTable prints the summary as a Markdown table: every target beside
// the yardstick measured in the same rounds, CPU per request in µs.
func printTable(scenarios []scenario, targets []*target, results map[string][]*result) {
	var meters []string // every meter name, in order of first appearance
	for _, t := range targets {
		for _, m := range t.meters {
			if !slices.Contains(meters, m.name) {
				meters = append(meters, m.name)
			}
		}
	}
	fmt.Print("| scenario | target | req/s | ratio to yardstick | p50 | p99 | server CPU µs/req |")
	for _, m := range meters {
		fmt.Printf(" + %s CPU µs/req |", m)
	}
	fmt.Print("\n|---|---|---|---|---|---|---|")
	fmt.Println(strings.Repeat("---|", len(meters)))
	us := func(d time.Duration) string {
		return strconv.FormatFloat(float64(d)/float64(time.Microsecond), 'f', 1, 64)
	}
	for _, sc := range scenarios {
		b := merge(results[sc.name+"/baseline"])
		for _, t := range targets {
			r := merge(results[sc.name+"/"+t.name])
			name, ratio := t.name, fmt.Sprintf("%.2f", r.rate()/b.rate())
			if t.name == "baseline" {
				name, ratio = "yardstick", "1"
			}
			fmt.Printf("| %s | %s | %s | %s | %s | %s | %s |", sc.name, name, thousands(r.rate()), ratio, fmtDur(r.pct(0.50)), fmtDur(r.pct(0.99)), us(r.srvPerReq()))
			for _, m := range meters {
				cell := "—"
				for i, tm := range t.meters {
					if tm.name != m {
						continue
					}
					cell = "?"
					if d, ok := r.meterPerReq(i); ok {
						cell = us(d)
					}
				}
				fmt.Printf(" %s |", cell)
			}
			fmt.Println()
		}
	}
}

// thousands formats a rate as 12,345.
func thousands(x float64) string {
	s := strconv.FormatInt(int64(x+0.5), 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// loadavg is the first three fields of /proc/loadavg.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// errNote is " first error: …" when r has one.
func errNote(r *result) string {
	if r.firstErr == nil {
		return ""
	}
	return fmt.Sprintf(" first error: %v", r.firstErr)
}

// fmtDur formats a latency with a precision that suits its size.
func fmtDur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2fs", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	case d >= 100*time.Microsecond:
		return fmt.Sprintf("%.0fµs", float64(d)/float64(time.Microsecond))
	default:
		return fmt.Sprintf("%.1fµs", float64(d)/float64(time.Microsecond))
	}
}

// checkLoopback refuses to load anything but a loopback address.
func checkLoopback(base string) error {
	u, err := url.Parse(base)
	if err != nil {
		return err
	}
	ip := net.ParseIP(u.Hostname())
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("refusing to load %s: not a loopback address", base)
	}
	return nil
}
