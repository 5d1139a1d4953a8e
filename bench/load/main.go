// Command load measures latchkey's POST /v1/keys/verify against a bare
// net/http yardstick (bench/baseline) on this machine, over loopback only.
//
//	go run ./bench/load -duration 10s -conns 32
//	go run ./bench/load -duration 10s -conns 32 -keys 1000000
//
// It builds both binaries into a temporary directory, starts latchkey on a
// fresh SQLite file (first start: bootstrap, root key) and creates a key
// through the API. With -keys N it then stops latchkey, seeds N more keys
// straight into the SQLite file, and starts it again on the seeded store.
// It starts the baseline with the same secrets, then drives POST verify at
// each in alternating rounds with the same keep-alive client settings and
// connection count, and prints req/s, p50 and p99 for each and the ratio
// latchkey/baseline.
//
// Scenarios: "hot" verifies the one key created through the API; with
// -keys, "random/S" picks uniformly among S seeded keys, for each size S of
// -samples (capped at -keys), after a "cold" sweep that verifies each of the
// largest sample once (each a store read in latchkey), so the random rounds
// run on a warm cache. The sampled secrets are spread evenly over the ids;
// a smaller sample is a prefix of the larger one.
//
// -duration is the measured time per target and scenario, split over
// -rounds rounds; each (target, scenario) also gets -warmup first, not
// measured. The order alternates round by round (baseline, latchkey, then
// latchkey, baseline, …) so neither always runs first.
//
// It reports for latchkey the time from process start to its listening line
// and its VmRSS after start and after the load. Every child process is
// stopped on exit, on SIGINT/SIGTERM and when the parent process goes away,
// and gets SIGKILL from the kernel if this process dies. The whole run is
// bounded by -max-time.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type config struct {
	duration, warmup, maxTime time.Duration
	rounds, conns             int
	keys, txKeys              int
	samples                   []int
	host                      string
	keep                      bool
	seed                      uint64
}

func main() {
	var c config
	flag.DurationVar(&c.duration, "duration", 10*time.Second, "measured time per target and scenario, split over -rounds")
	flag.DurationVar(&c.warmup, "warmup", 2*time.Second, "unmeasured load per target and scenario before its first round")
	flag.DurationVar(&c.maxTime, "max-time", 30*time.Minute, "hard bound on the whole run")
	flag.IntVar(&c.rounds, "rounds", 2, "rounds per target and scenario, alternating targets")
	flag.IntVar(&c.conns, "conns", 32, "concurrent keep-alive connections per target")
	flag.IntVar(&c.keys, "keys", 0, "seed this many keys into the store before the load (0: only the API-created key)")
	samples := flag.String("samples", "1000,100000", "with -keys, comma-separated sizes of the sets of seeded keys to pick from at random")
	flag.IntVar(&c.txKeys, "seed-tx", 100_000, "keys per seeding transaction")
	flag.StringVar(&c.host, "host", "127.0.0.1", "loopback address the servers listen on (127.0.0.1 or ::1)")
	flag.BoolVar(&c.keep, "keep", false, "keep the temporary directory (binaries, database, server logs)")
	flag.Uint64Var(&c.seed, "seed", uint64(time.Now().UnixNano()), "seed of the random key picks")
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

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	ctx, cancel := context.WithTimeout(ctx, c.maxTime)
	go watchParent(ctx, cancel)
	err := run(ctx, c)
	stopAll()
	cancel()
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
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

	root, err := moduleRoot(ctx)
	if err != nil {
		return err
	}
	logf("go %s, GOMAXPROCS %d, %d CPUs; conns %d, duration %s per target and scenario in %d rounds, warmup %s",
		runtime.Version(), runtime.GOMAXPROCS(0), runtime.NumCPU(), c.conns, c.duration, c.rounds, c.warmup)
	logf("load average at start: %s (the machine is shared: other processes compete for the same cores)", loadavg())
	defer func() { logf("load average at end: %s", loadavg()) }()
	lkBin, baseBin := filepath.Join(tmp, "latchkey"), filepath.Join(tmp, "baseline")
	t0 := time.Now()
	if err := runCmd(ctx, root, "go", "build", "-o", lkBin, "./cmd/latchkey"); err != nil {
		return err
	}
	if err := runCmd(ctx, root, "go", "build", "-o", baseBin, "./bench/baseline"); err != nil {
		return err
	}
	logf("built latchkey and baseline in %s", time.Since(t0).Round(time.Millisecond))

	dbPath := filepath.Join(tmp, "latchkey.db")
	if err := runCmd(ctx, tmp, lkBin, "migrate", "--database-url", dbPath); err != nil {
		return err
	}
	listen := net.JoinHostPort(c.host, "0")
	lkArgs := []string{"serve", "--listen", listen, "--database-url", dbPath}

	// First start: empty store, bootstrap, root key.
	lk, err := startChild(ctx, "latchkey", lkBin, lkArgs, filepath.Join(tmp, "latchkey-1.log"), true)
	if err != nil {
		return err
	}
	if lk.rootKey == "" {
		return fmt.Errorf("latchkey printed no root key on its first start")
	}
	if err := checkLoopback(lk.addr); err != nil {
		return err
	}
	firstStart := lk.startup
	logf("latchkey first start (empty store): listening after %s at %s", firstStart.Round(time.Microsecond), lk.addr)
	hot, err := createKey(ctx, lk.addr, lk.rootKey, "bench")
	if err != nil {
		return err
	}
	rootKey := lk.rootKey

	var seeded *seedStats
	if c.keys > 0 {
		if err := lk.stop(); err != nil {
			return err
		}
		logf("seeding %d keys into %s …", c.keys, dbPath)
		if seeded, err = seedKeys(ctx, dbPath, c.keys, c.samples[len(c.samples)-1], c.txKeys); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
		fi, _ := os.Stat(dbPath)
		logf("seeded %d keys in %s (%.0f keys/s); database file %.1f MiB",
			c.keys, seeded.elapsed.Round(time.Millisecond), float64(c.keys)/seeded.elapsed.Seconds(), float64(fi.Size())/(1<<20))
		if lk, err = startChild(ctx, "latchkey", lkBin, lkArgs, filepath.Join(tmp, "latchkey-2.log"), true); err != nil {
			return err
		}
		if err := checkLoopback(lk.addr); err != nil {
			return err
		}
		logf("latchkey restart on %d+2 keys: listening after %s at %s", c.keys, lk.startup.Round(time.Microsecond), lk.addr)
	}
	time.Sleep(200 * time.Millisecond) // let start-up garbage settle before reading RSS
	memStart, err := readMemory(lk.cmd.Process.Pid)
	if err != nil {
		return err
	}
	logf("latchkey after start: %s", memStart)

	// Baseline: knows the hot key and the sample.
	secrets := []string{hot}
	if seeded != nil {
		secrets = append(secrets, seeded.sample...)
	}
	keysFile := filepath.Join(tmp, "secrets.txt")
	if err := os.WriteFile(keysFile, []byte(strings.Join(secrets, "\n")+"\n"), 0o600); err != nil {
		return err
	}
	base, err := startChild(ctx, "baseline", baseBin, []string{"-listen", listen, "-keys-file", keysFile}, filepath.Join(tmp, "baseline.log"), false)
	if err != nil {
		return err
	}
	if err := checkLoopback(base.addr); err != nil {
		return err
	}
	logf("baseline listening after %s at %s", base.startup.Round(time.Microsecond), base.addr)

	targets := []*target{
		{name: "baseline", pid: base.cmd.Process.Pid, url: base.addr + "/v1/keys/verify", root: rootKey, client: newClient(c.conns)},
		{name: "latchkey", pid: lk.cmd.Process.Pid, url: lk.addr + "/v1/keys/verify", root: rootKey, client: newClient(c.conns)},
	}
	hotBody := [][]byte{verifyBody(hot)}
	for _, t := range targets {
		if err := verifyOnce(ctx, t, hotBody[0]); err != nil {
			return fmt.Errorf("sanity check: %w", err)
		}
	}

	scenarios := []scenario{{name: "hot", bodies: hotBody}}
	var sample [][]byte
	if seeded != nil {
		sample = make([][]byte, len(seeded.sample))
		for i, s := range seeded.sample {
			sample[i] = verifyBody(s)
		}
		for _, n := range c.samples {
			scenarios = append(scenarios, scenario{name: fmt.Sprintf("random/%d", n), bodies: sample[:n], random: true})
		}
	}

	results := map[string][]*result{} // scenario/target → rounds
	for i, sc := range scenarios {
		if i == 1 {
			// Cold sweep: every sampled key once (in latchkey, each a store
			// read), so the random rounds run on a cache holding them all.
			for _, t := range targets {
				r := sweep(ctx, t, c.conns, sample)
				if err := ctx.Err(); err != nil {
					return err
				}
				srv, cli := r.cpuPerReq()
				logf("cold sweep %-8s %d keys once each: %.0f req/s, p50 %s, p99 %s, cpu/req server %s client %s, errors %d%s",
					t.name, len(sample), r.rate(), fmtDur(r.pct(0.50)), fmtDur(r.pct(0.99)), fmtDur(srv), fmtDur(cli), r.errors, errNote(r))
				if r.errors > 0 {
					return fmt.Errorf("cold sweep of %s failed", t.name)
				}
			}
		}
		if err := runScenario(ctx, c, targets, sc, uint64(i), results); err != nil {
			return err
		}
	}

	memAfter, err := readMemory(lk.cmd.Process.Pid)
	if err != nil {
		return err
	}
	baseMem, _ := readMemory(base.cmd.Process.Pid)

	fmt.Println()
	fmt.Printf("== summary: conns %d, %s per target and scenario, %d rounds ==\n", c.conns, c.duration, c.rounds)
	failed := false
	for _, sc := range scenarios {
		b := merge(results[sc.name+"/baseline"])
		l := merge(results[sc.name+"/latchkey"])
		ratio := l.rate() / b.rate()
		verdict := "meets"
		if ratio < 0.6 {
			verdict = "MISSES"
		}
		for _, x := range []struct {
			name string
			r    *result
		}{{"baseline", b}, {"latchkey", l}} {
			srv, cli := x.r.cpuPerReq()
			fmt.Printf("%-14s %s %8.0f req/s  p50 %8s  p99 %8s  cpu/req server %6s client %6s\n",
				sc.name, x.name, x.r.rate(), fmtDur(x.r.pct(0.50)), fmtDur(x.r.pct(0.99)), fmtDur(srv), fmtDur(cli))
		}
		fmt.Printf("%-14s ratio latchkey/baseline %.2f req/s (%s the 0.6 target); per round:", sc.name, ratio, verdict)
		for i := range results[sc.name+"/latchkey"] {
			fmt.Printf(" %.2f", results[sc.name+"/latchkey"][i].rate()/results[sc.name+"/baseline"][i].rate())
		}
		bs, _ := b.cpuPerReq()
		ls, _ := l.cpuPerReq()
		if ls > 0 {
			fmt.Printf("; server CPU per request baseline/latchkey %.2f", float64(bs)/float64(ls))
		}
		fmt.Println()
		if b.errors+l.errors > 0 {
			failed = true
		}
	}
	if seeded != nil {
		fmt.Printf("store: %d seeded keys (+ root and hot key), seeded in %s\n", c.keys, seeded.elapsed.Round(time.Millisecond))
	}
	fmt.Printf("latchkey start → listening line: %s (first start on an empty store: %s)\n",
		lk.startup.Round(time.Microsecond), firstStart.Round(time.Microsecond))
	fmt.Printf("latchkey memory after start: %s\n", memStart)
	fmt.Printf("latchkey memory after load:  %s\n", memAfter)
	fmt.Printf("baseline memory after load:  %s\n", baseMem)

	if err := lk.stop(); err != nil {
		return err
	}
	if err := base.stop(); err != nil {
		return err
	}
	if failed {
		return fmt.Errorf("some requests failed (see the error counts above)")
	}
	return nil
}

type scenario struct {
	name   string
	bodies [][]byte
	random bool
}

// runScenario warms each target up, then runs c.rounds measured rounds of
// each, alternating which goes first.
func runScenario(ctx context.Context, c config, targets []*target, sc scenario, salt uint64, results map[string][]*result) error {
	for _, t := range targets {
		if c.warmup > 0 {
			drive(ctx, t, c.conns, c.warmup, sc.bodies, sc.random, c.seed^salt)
		}
	}
	per := c.duration / time.Duration(c.rounds)
	for round := range c.rounds {
		order := targets
		if round%2 == 1 {
			order = []*target{targets[1], targets[0]}
		}
		for _, t := range order {
			r := drive(ctx, t, c.conns, per, sc.bodies, sc.random, c.seed^salt+uint64(round+1))
			if err := ctx.Err(); err != nil {
				return err
			}
			key := sc.name + "/" + t.name
			results[key] = append(results[key], r)
			srv, cli := r.cpuPerReq()
			fmt.Printf("round %d %-14s %-8s %8.0f req/s  p50 %8s  p99 %8s  cpu/req server %6s client %6s  (%d requests, %d errors)%s\n",
				round+1, sc.name, t.name, r.rate(), fmtDur(r.pct(0.50)), fmtDur(r.pct(0.99)), fmtDur(srv), fmtDur(cli), r.requests, r.errors, errNote(r))
		}
	}
	return nil
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

func errNote(r *result) string {
	if r.firstErr == nil {
		return ""
	}
	return fmt.Sprintf(" first error: %v", r.firstErr)
}

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

// moduleRoot is the directory of the latchkey module's go.mod.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("run this from inside the latchkey module")
	}
	b, err := os.ReadFile(gomod)
	if err != nil {
		return "", err
	}
	if !strings.Contains(string(b), "module github.com/latchkey/latchkey\n") {
		return "", fmt.Errorf("%s is not the latchkey module", gomod)
	}
	return filepath.Dir(gomod), nil
}
