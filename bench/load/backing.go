package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// postgresServer is the PostgreSQL server of -postgres-url. Each postgres
// store of the run gets a fresh schema of its own there, dropped at the end.
type postgresServer struct {
	base *url.URL
	db   *sql.DB // the tool's own connection: schemas and CPU meters
}

// openPostgresServer connects to the PostgreSQL the postgres stores get
// their schemas in.
func openPostgresServer(ctx context.Context, base string) (*postgresServer, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, fmt.Errorf("-postgres-url: want a URL like postgres://user@127.0.0.1:5432/db?sslmode=disable")
	}
	if !isLoopbackHost(u.Hostname()) || u.Query().Has("host") {
		return nil, fmt.Errorf("-postgres-url: %q is not a loopback address; this tool only loads servers on this machine", u.Hostname())
	}
	db, err := sql.Open("pgx", base)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to postgres at %s: %w", u.Host, err)
	}
	return &postgresServer{base: u, db: db}, nil
}

func (p *postgresServer) Close() error { return p.db.Close() }

// newSchema creates a schema named lk_bench_<random> and returns its name
// and a DSN whose search_path selects it. The DSN also sets
// application_name to the schema's name, which tells this run's backends
// apart in pg_stat_activity (see meter).
func (p *postgresServer) newSchema(ctx context.Context) (schema, dsn string, err error) {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", err
	}
	schema = "lk_bench_" + hex.EncodeToString(b[:])
	if _, err := p.db.ExecContext(ctx, `CREATE SCHEMA `+schema); err != nil {
		return "", "", fmt.Errorf("create schema: %w", err)
	}
	u := *p.base
	q := u.Query()
	q.Set("search_path", schema)
	q.Set("application_name", schema)
	u.RawQuery = q.Encode()
	return schema, u.String(), nil
}

// dropSchema drops a schema newSchema made, with everything in it. It runs
// at the end of the run, also a cancelled one, so it has a context of its
// own.
func (p *postgresServer) dropSchema(schema string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := p.db.ExecContext(ctx, `DROP SCHEMA `+schema+` CASCADE`); err != nil {
		return fmt.Errorf("drop schema %s: %w", schema, err)
	}
	return nil
}

// meter reads the CPU time of the backends serving a schema's DSN (its
// latchkey's pool and change feed), from /proc: PostgreSQL runs on this
// machine, as its address is a loopback one.
func (p *postgresServer) meter(schema string) cpuMeter {
	return cpuMeter{name: "postgres", read: func(ctx context.Context) (map[int]time.Duration, error) {
		rows, err := p.db.QueryContext(ctx, `SELECT pid FROM pg_stat_activity WHERE application_name = $1`, schema)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		cpu := map[int]time.Duration{}
		for rows.Next() {
			var pid int
			if err := rows.Scan(&pid); err != nil {
				return nil, err
			}
			t, err := processCPU(pid)
			if err != nil {
				continue // the backend exited since
			}
			cpu[pid] = t
		}
		return cpu, rows.Err()
	}}
}

// redisServer is the Redis server of -redis-url, which stores named with
// "+redis" count their rate limits in. Each latchkey names its counters
// under a prefix derived from its store's secret key, fresh in every run,
// so runs never touch each other's counters; the tool itself only reads
// INFO.
type redisServer struct {
	url string
	rdb *goredis.Client
}

// openRedisServer connects to the Redis the +redis stores count in.
func openRedisServer(ctx context.Context, rawURL string) (*redisServer, error) {
	opts, err := goredis.ParseURL(rawURL)
	if err != nil || opts.Network != "tcp" {
		return nil, fmt.Errorf("-redis-url: want a URL like redis://127.0.0.1:6379/0")
	}
	host, _, err := net.SplitHostPort(opts.Addr)
	if err != nil || !isLoopbackHost(host) {
		return nil, fmt.Errorf("-redis-url: %q is not a loopback address; this tool only loads servers on this machine", host)
	}
	rdb := goredis.NewClient(opts)
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := rdb.Ping(pctx).Err(); err != nil {
		rdb.Close()
		return nil, fmt.Errorf("connect to redis at %s: %w", opts.Addr, err)
	}
	return &redisServer{url: rawURL, rdb: rdb}, nil
}

func (r *redisServer) Close() error { return r.rdb.Close() }

// meter reads the Redis server's CPU time (used_cpu_user + used_cpu_sys of
// INFO cpu): the whole server's, so another client of the same Redis would
// count too.
func (r *redisServer) meter() cpuMeter {
	return cpuMeter{name: "redis", read: func(ctx context.Context) (map[int]time.Duration, error) {
		info, err := r.rdb.Info(ctx, "cpu").Result()
		if err != nil {
			return nil, err
		}
		var total time.Duration
		found := 0
		for _, line := range strings.Split(info, "\n") {
			k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
			if !ok || (k != "used_cpu_user" && k != "used_cpu_sys") {
				continue
			}
			s, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return nil, fmt.Errorf("redis INFO cpu: odd %s %q", k, v)
			}
			total += time.Duration(s * float64(time.Second))
			found++
		}
		if found != 2 {
			return nil, fmt.Errorf("redis INFO cpu: no used_cpu_user and used_cpu_sys")
		}
		return map[int]time.Duration{0: total}, nil
	}}
}

// isLoopbackHost reports whether host is a loopback address or localhost.
func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
