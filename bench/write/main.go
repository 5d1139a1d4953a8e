// Command write measures latchkey's write path, PATCH /v1/keys/{id}
// renaming many distinct keys, on the real binary over loopback, beside
// this machine's own limits measured in the same run:
//
//	go run ./bench/write -duration 10s -conns 32 -keys 500 \
//	  -stores sqlite,postgres \
//	  -postgres-url 'postgres://postgres@127.0.0.1:5432/test?sslmode=disable'
//
// Limits: fdatasync/s from pg_test_fsync (one 8 kB write and fdatasync,
// on a file in the same temporary directory as the SQLite database), and
// the tps of `pgbench -N` (three statements and a commit a transaction) at
// the same concurrency as the load, on the database lk_pgbench, which the
// tool creates if it is missing and initializes (scale 1) on every run; it
// never touches any other database but for a schema of its own in
// -postgres-url's database (lk_write_<random>, dropped at the end).
//
// For each binary of -bin (label=path, comma-separated; default: this tree
// built as "this") and each store, it starts `latchkey serve` on a fresh
// store, creates -keys keys through the API, and drives PATCH with -conns
// keep-alive connections for -warmup, then -duration measured. Each
// request renames the next key in turn. It prints req/s, p50, p99, the
// server's CPU per request (latchkey's process from /proc, and on
// PostgreSQL also the backends of its schema's connections, found by
// application_name), and the ratio to the limit that bounds the store:
// fdatasync/s for SQLite, pgbench tps for PostgreSQL. Every run is bounded
// by -max-time; children die with the tool (Pdeathsig).
package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/latchkey/latchkey/internal/testenv/binary"
)

type config struct {
	duration, warmup, maxTime time.Duration
	conns, keys               int
	stores                    []string
	pgURL                     string
	bins                      []target
	limits                    bool
	env                       []string
}

type target struct{ label, path string }

func main() {
	var c config
	var stores, bins, env string
	flag.DurationVar(&c.duration, "duration", 10*time.Second, "measured time per binary and store")
	flag.DurationVar(&c.warmup, "warmup", 2*time.Second, "unmeasured load before each measurement")
	flag.DurationVar(&c.maxTime, "max-time", 10*time.Minute, "bound on the whole run")
	flag.IntVar(&c.conns, "conns", 32, "concurrent connections (and pgbench clients)")
	flag.IntVar(&c.keys, "keys", 500, "distinct keys renamed in turn")
	flag.StringVar(&stores, "stores", "sqlite", "stores: sqlite, postgres (comma-separated)")
	flag.StringVar(&c.pgURL, "postgres-url", "", "PostgreSQL database for the postgres store (loopback only)")
	flag.StringVar(&bins, "bin", "", "binaries to measure as label=path,… (default: this tree, built)")
	flag.BoolVar(&c.limits, "limits", true, "measure pg_test_fsync and pgbench in the same run")
	flag.StringVar(&env, "env", "", "extra LATCHKEY_* settings for every server, as K=V,…")
	flag.Parse()
	c.stores = strings.Split(stores, ",")
	if env != "" {
		c.env = strings.Split(env, ",")
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.maxTime)
	defer cancel()
	tmp, err := os.MkdirTemp("", "lk-write-")
	check(err)
	defer os.RemoveAll(tmp)
	if bins == "" {
		bin, err := binary.BuildPackage(ctx, tmp, "./cmd/latchkey")
		check(err)
		c.bins = []target{{"this", bin}}
	} else {
		for _, b := range strings.Split(bins, ",") {
			l, p, ok := strings.Cut(b, "=")
			if !ok {
				fatalf("-bin: want label=path, got %q", b)
			}
			c.bins = append(c.bins, target{l, p})
		}
	}
	var pg *sql.DB
	if slices.Contains(c.stores, "postgres") {
		u, err := url.Parse(c.pgURL)
		if err != nil || !isLoopback(u.Hostname()) {
			fatalf("-postgres-url: want a postgres:// URL on a loopback address")
		}
		pg, err = sql.Open("pgx", c.pgURL)
		check(err)
		defer pg.Close()
	}

	var fsyncs, tps float64
	if c.limits {
		fsyncs, err = pgTestFsync(ctx, tmp)
		if err != nil {
			fmt.Fprintln(os.Stderr, "write: pg_test_fsync:", err)
		}
		if c.pgURL != "" {
			tps, err = pgbench(ctx, c)
			if err != nil {
				fmt.Fprintln(os.Stderr, "write: pgbench:", err)
			}
		}
		fmt.Printf("limits: fdatasync %.0f/s (pg_test_fsync, one 8kB write each)", fsyncs)
		if c.pgURL != "" {
			fmt.Printf(", pgbench -N -c %d: %.0f tps", c.conns, tps)
		}
		fmt.Println()
	}

	type row struct {
		bin, store string
		r          result
	}
	var rows []row
	for _, b := range c.bins {
		for _, st := range c.stores {
			r, err := runOne(ctx, c, b, st, tmp, pg)
			if err != nil {
				fatalf("%s on %s: %v", b.label, st, err)
			}
			fmt.Printf("%s %s: %.0f req/s, p50 %s, p99 %s, %d errors, server CPU %.0f µs/req (latchkey %.0f + postgres %.0f)\n",
				b.label, st, r.rps, ms(r.p50), ms(r.p99), r.errors, r.cpuLK+r.cpuPG, r.cpuLK, r.cpuPG)
			rows = append(rows, row{b.label, st, r})
		}
	}
	fmt.Println()
	fmt.Println("| binary | store | PATCH req/s | p50 | p99 | server CPU µs/req (latchkey + PostgreSQL) | limit | ratio |")
	fmt.Println("|---|---|---|---|---|---|---|---|")
	for _, x := range rows {
		limit, name := fsyncs, fmt.Sprintf("fdatasync %.0f/s", fsyncs)
		if x.store == "postgres" {
			limit, name = tps, fmt.Sprintf("pgbench -N -c %d %.0f tps", c.conns, tps)
		}
		ratio := "—"
		if limit > 0 {
			ratio = fmt.Sprintf("**%.2f**", x.r.rps/limit)
		}
		fmt.Printf("| %s | %s | %.0f | %s | %s | %.0f + %.0f | %s | %s |\n",
			x.bin, x.store, x.r.rps, ms(x.r.p50), ms(x.r.p99), x.r.cpuLK, x.r.cpuPG, name, ratio)
	}
}

type result struct {
	rps, cpuLK, cpuPG float64 // cpu: µs a request
	p50, p99          time.Duration
	errors            int64
}

// runOne starts bin on a fresh store, creates the keys, and measures.
func runOne(ctx context.Context, c config, b target, store, tmp string, pg *sql.DB) (result, error) {
	var dsn, schema string
	switch store {
	case "sqlite":
		dsn = filepath.Join(tmp, fmt.Sprintf("%s-%d.db", b.label, time.Now().UnixNano()))
	case "postgres":
		var rb [6]byte
		rand.Read(rb[:])
		schema = "lk_write_" + hex.EncodeToString(rb[:])
		if _, err := pg.ExecContext(ctx, `CREATE SCHEMA `+schema); err != nil {
			return result{}, err
		}
		defer func() {
			dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			pg.ExecContext(dctx, `DROP SCHEMA `+schema+` CASCADE`)
		}()
		u, _ := url.Parse(c.pgURL)
		q := u.Query()
		q.Set("search_path", schema)
		q.Set("application_name", schema)
		u.RawQuery = q.Encode()
		dsn = u.String()
	default:
		return result{}, fmt.Errorf("unknown store %q", store)
	}
	logPath := filepath.Join(tmp, b.label+"-"+store+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		return result{}, err
	}
	defer logf.Close()
	srv, err := binary.Start(ctx, binary.Options{Bin: b.path, Env: c.env, Stderr: logf,
		Args: []string{"serve", "--listen", "127.0.0.1:0", "--database-url", dsn, "--log-level", "warn"}})
	if err != nil {
		return result{}, err
	}
	defer srv.Stop()
	if srv.RootKey == "" {
		return result{}, fmt.Errorf("latchkey printed no root key on its first start; see %s", logPath)
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		MaxIdleConns: c.conns, MaxIdleConnsPerHost: c.conns, IdleConnTimeout: time.Minute}}
	ids := make([]int64, c.keys)
	for i := range ids {
		var k struct{ ID int64 }
		st, err := binary.Call(client, "POST", srv.URL+"/v1/keys", srv.RootKey, map[string]string{"name": fmt.Sprint("k", i)}, &k)
		if err != nil || st != http.StatusCreated {
			return result{}, fmt.Errorf("create key: %d %v", st, err)
		}
		ids[i] = k.ID
	}
	var seq atomic.Int64
	load := func(d time.Duration) ([]time.Duration, int64) {
		var mu sync.Mutex
		var all []time.Duration
		var errs atomic.Int64
		end := time.Now().Add(d)
		var wg sync.WaitGroup
		for w := 0; w < c.conns; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				lat := make([]time.Duration, 0, 4096)
				for time.Now().Before(end) && ctx.Err() == nil {
					n := seq.Add(1)
					id := ids[int(n)%len(ids)]
					t0 := time.Now()
					st, err := binary.Call(client, "PATCH", fmt.Sprintf("%s/v1/keys/%d", srv.URL, id), srv.RootKey,
						map[string]string{"name": fmt.Sprint("n", n)}, nil)
					if err != nil || st != http.StatusOK {
						errs.Add(1)
						continue
					}
					lat = append(lat, time.Since(t0))
				}
				mu.Lock()
				all = append(all, lat...)
				mu.Unlock()
			}()
		}
		wg.Wait()
		return all, errs.Load()
	}
	load(c.warmup)
	lk0 := procCPU(srv.Pid())
	pg0 := pgCPU(ctx, pg, schema)
	t0 := time.Now()
	lat, errs := load(c.duration)
	el := time.Since(t0)
	lk1 := procCPU(srv.Pid())
	pg1 := pgCPU(ctx, pg, schema)
	if len(lat) == 0 {
		return result{}, fmt.Errorf("no request succeeded (%d errors); see %s", errs, logPath)
	}
	slices.Sort(lat)
	n := float64(len(lat))
	return result{
		rps:    n / el.Seconds(),
		p50:    lat[len(lat)/2],
		p99:    lat[len(lat)*99/100],
		errors: errs,
		cpuLK:  float64((lk1 - lk0).Microseconds()) / n,
		cpuPG:  float64((pg1 - pg0).Microseconds()) / n,
	}, nil
}

// procCPU is a process's user + system time, from /proc/PID/stat.
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ
}

// pgCPU sums procCPU over the backends of a schema's connections.
func pgCPU(ctx context.Context, pg *sql.DB, schema string) time.Duration {
	if pg == nil || schema == "" {
		return 0
	}
	rows, err := pg.QueryContext(ctx, `SELECT pid FROM pg_stat_activity WHERE application_name = $1`, schema)
	if err != nil {
		return 0
	}
	defer rows.Close()
	var total time.Duration
	for rows.Next() {
		var pid int
		if rows.Scan(&pid) == nil {
			total += procCPU(pid)
		}
	}
	return total
}

// pgBin finds a PostgreSQL program in /usr/lib/postgresql/*/bin or PATH.
func pgBin(name string) string {
	if m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/" + name); len(m) > 0 {
		slices.Sort(m)
		return m[len(m)-1]
	}
	return name
}

var fdatasyncRE = regexp.MustCompile(`(?m)^\s*fdatasync\s+([\d.]+) ops/sec`)

// pgTestFsync runs pg_test_fsync for 2 s a test on a file in dir and
// returns its fdatasync ops/s for one 8 kB write.
func pgTestFsync(ctx context.Context, dir string) (float64, error) {
	out, err := exec.CommandContext(ctx, pgBin("pg_test_fsync"), "-s", "2", "-f", filepath.Join(dir, "pg_test_fsync.out")).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("%v\n%s", err, out)
	}
	m := fdatasyncRE.FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("no fdatasync line in:\n%s", out)
	}
	return strconv.ParseFloat(string(m[1]), 64)
}

var tpsRE = regexp.MustCompile(`tps = ([\d.]+)`)

// pgbench runs `pgbench -N` at -conns clients for -duration on the
// database lk_pgbench of -postgres-url's server, creating and
// initializing it first.
func pgbench(ctx context.Context, c config) (float64, error) {
	u, err := url.Parse(c.pgURL)
	if err != nil {
		return 0, err
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "5432"
	}
	user := u.User.Username()
	conn := []string{"-h", host, "-p", port, "-U", user}
	// createdb fails when the database exists, which is fine.
	exec.CommandContext(ctx, pgBin("createdb"), append(conn, "lk_pgbench")...).Run()
	if out, err := exec.CommandContext(ctx, pgBin("pgbench"), append(conn, "-i", "-q", "-s", "1", "lk_pgbench")...).CombinedOutput(); err != nil {
		return 0, fmt.Errorf("pgbench -i: %v\n%s", err, out)
	}
	args := append(conn, "-N", "-c", strconv.Itoa(c.conns), "-j", "2", "-T", strconv.Itoa(int(c.duration.Seconds())), "lk_pgbench")
	out, err := exec.CommandContext(ctx, pgBin("pgbench"), args...).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("%v\n%s", err, out)
	}
	m := tpsRE.FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("no tps line in:\n%s", out)
	}
	return strconv.ParseFloat(string(m[1]), 64)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

func check(err error) {
	if err != nil {
		fatalf("%v", err)
	}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "write: "+format+"\n", args...)
	os.Exit(1)
}
