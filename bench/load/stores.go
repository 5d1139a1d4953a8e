package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/testenv/binary"
)

// storeSpec is one latchkey configuration under test, named as in -stores:
// "sqlite" (a fresh file) or "postgres" (a fresh schema in -postgres-url),
// with "+redis" when rate limits are counted in -redis-url instead of in
// the server's memory.
type storeSpec struct {
	name     string
	postgres bool
	redis    bool
}

// parseStores reads -stores: comma-separated store names, each once.
func parseStores(s string) ([]storeSpec, error) {
	var specs []storeSpec
	for _, f := range strings.Split(s, ",") {
		name := strings.TrimSpace(f)
		base, redis := strings.CutSuffix(name, "+redis")
		if base != "sqlite" && base != "postgres" {
			return nil, fmt.Errorf("bad -stores %q: %q is not sqlite, postgres, sqlite+redis or postgres+redis", s, name)
		}
		if slices.ContainsFunc(specs, func(o storeSpec) bool { return o.name == name }) {
			return nil, fmt.Errorf("bad -stores %q: %s twice", s, name)
		}
		specs = append(specs, storeSpec{name: name, postgres: base == "postgres", redis: redis})
	}
	return specs, nil
}

// limitedKey is the rate limit of the "limited" scenario's key: never
// reached in a run, so every verification is a granted token, counted in
// memory or by Redis's script.
var limitedKey = map[string]any{
	"name":       "bench limited",
	"rate_limit": map[string]int64{"limit": 1_000_000_000, "window_seconds": 3600},
}

// instance is one latchkey under test, on its own store, serving for the
// whole load.
type instance struct {
	spec       storeSpec
	dsn        string   // its LATCHKEY_DATABASE_URL
	env        []string // its LATCHKEY_* settings
	lk         *child
	rootKey    string
	firstStart time.Duration // start → listening line on the empty store
	memStart   memory
	hot        string // secret of a key without limits, created through the API
	limited    string // secret of the key with limitedKey's rate limit
	seeded     *seedStats
	meters     []cpuMeter // PostgreSQL's and Redis's CPU for its requests
}

// secrets are the secrets the instance's scenarios verify.
func (in *instance) secrets() []string {
	s := []string{in.hot, in.limited}
	if in.seeded != nil {
		s = append(s, in.seeded.sample...)
	}
	return s
}

// harness holds what every instance is started with, and the clean-ups
// (stop a server, drop its schema) that close runs in reverse order.
type harness struct {
	tmp, lkBin, listen string
	pg                 *postgresServer // nil unless a store needs it
	rd                 *redisServer    // nil unless a store needs it
	cleanups           []func()
}

// close runs the clean-ups, then closes the tool's own connections to
// PostgreSQL and Redis, which the clean-ups use.
func (h *harness) close() {
	for i := len(h.cleanups) - 1; i >= 0; i-- {
		h.cleanups[i]()
	}
	h.cleanups = nil
	if h.pg != nil {
		h.pg.Close()
	}
	if h.rd != nil {
		h.rd.Close()
	}
}

// start runs one latchkey on a fresh store as the tool always has: migrate,
// a first start (bootstrap, root key), a hot and a limited key created
// through the API; with -keys, stop, seed the store, start again.
func (h *harness) start(ctx context.Context, c config, spec storeSpec) (*instance, error) {
	in := &instance{spec: spec}
	file := strings.ReplaceAll(spec.name, "+", "-")
	if spec.postgres {
		schema, dsn, err := h.pg.newSchema(ctx)
		if err != nil {
			return nil, err
		}
		h.cleanups = append(h.cleanups, func() {
			if err := h.pg.dropSchema(schema); err != nil {
				fmt.Fprintln(os.Stderr, "load:", err)
			}
		})
		in.dsn = dsn
		in.meters = append(in.meters, h.pg.meter(schema))
		logf("%s: fresh schema %s in %s (dropped at the end)", spec.name, schema, h.pg.base.Redacted())
	} else {
		in.dsn = filepath.Join(h.tmp, file+".db")
	}
	// Each store's first start writes its root key in a directory of its own.
	dataDir := filepath.Join(h.tmp, file+"-data")
	if err := os.Mkdir(dataDir, 0o700); err != nil {
		return nil, err
	}
	in.env = []string{"LATCHKEY_DATABASE_URL=" + in.dsn, "LATCHKEY_DATA_DIR=" + dataDir}
	if spec.redis {
		in.env = append(in.env, "LATCHKEY_REDIS_URL="+h.rd.url)
		in.meters = append(in.meters, h.rd.meter())
	}
	// Registered after the schema's drop, so it runs before it.
	h.cleanups = append(h.cleanups, func() {
		if in.lk != nil {
			if err := in.lk.stop(); err != nil {
				fmt.Fprintln(os.Stderr, "load:", err)
			}
		}
	})
	if err := runCmd(ctx, h.tmp, binary.Environ(in.env...), h.lkBin, "migrate"); err != nil {
		return nil, err
	}
	args := []string{"serve", "--listen", h.listen}

	// First start: empty store, bootstrap, root key.
	lk, err := h.startLatchkey(ctx, in, args, file+"-1.log")
	if err != nil {
		return nil, err
	}
	if lk.RootKey == "" {
		return nil, fmt.Errorf("%s: latchkey printed no root key on its first start", spec.name)
	}
	in.rootKey, in.firstStart = lk.RootKey, lk.Startup
	logf("%s: latchkey first start (empty store): listening after %s at %s", spec.name, lk.Startup.Round(time.Microsecond), lk.URL)
	if in.hot, err = createKey(ctx, lk.URL, in.rootKey, map[string]string{"name": "bench"}); err != nil {
		return nil, err
	}
	if in.limited, err = createKey(ctx, lk.URL, in.rootKey, limitedKey); err != nil {
		return nil, err
	}

	if c.keys > 0 {
		if err := lk.stop(); err != nil {
			return nil, err
		}
		logf("%s: seeding %d keys …", spec.name, c.keys)
		if in.seeded, err = seedKeys(ctx, in.dsn, c.keys, c.samples[len(c.samples)-1], c.txKeys); err != nil {
			return nil, fmt.Errorf("%s: seed: %w", spec.name, err)
		}
		size := ""
		if fi, err := os.Stat(in.dsn); err == nil {
			size = fmt.Sprintf("; database file %.1f MiB", float64(fi.Size())/(1<<20))
		}
		logf("%s: seeded %d keys in %s (%.0f keys/s)%s", spec.name,
			c.keys, in.seeded.elapsed.Round(time.Millisecond), float64(c.keys)/in.seeded.elapsed.Seconds(), size)
		if lk, err = h.startLatchkey(ctx, in, args, file+"-2.log"); err != nil {
			return nil, err
		}
		logf("%s: latchkey restart on %d+3 keys: listening after %s at %s", spec.name, c.keys, lk.Startup.Round(time.Microsecond), lk.URL)
	}
	time.Sleep(200 * time.Millisecond) // let start-up garbage settle before reading RSS
	if in.memStart, err = readMemory(lk.Pid()); err != nil {
		return nil, err
	}
	logf("%s: latchkey after start: %s", spec.name, in.memStart)
	return in, nil
}

// startLatchkey starts in's server and makes it in.lk.
func (h *harness) startLatchkey(ctx context.Context, in *instance, args []string, log string) (*child, error) {
	lk, err := startChild(ctx, "latchkey "+in.spec.name, h.lkBin, args, in.env, filepath.Join(h.tmp, log), true)
	if err != nil {
		return nil, err
	}
	in.lk = lk
	if err := checkLoopback(lk.URL); err != nil {
		return nil, err
	}
	return lk, nil
}
