package main

import (
	"slices"
	"strings"
	"testing"
)

// TestParseStores checks the -stores syntax.
func TestParseStores(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []storeSpec
		err  string
	}{
		{in: "sqlite", want: []storeSpec{{name: "sqlite"}}},
		{in: "sqlite, postgres+redis", want: []storeSpec{{name: "sqlite"}, {name: "postgres+redis", postgres: true, redis: true}}},
		{in: "postgres,sqlite+redis", want: []storeSpec{{name: "postgres", postgres: true}, {name: "sqlite+redis", redis: true}}},
		{in: "mysql", err: `"mysql" is not`},
		{in: "sqlite,", err: `"" is not`},
		{in: "redis", err: `"redis" is not`},
		{in: "sqlite,sqlite", err: "sqlite twice"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseStores(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %v, want an error with %q", err, tc.err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("got %+v, %v, want %+v", got, err, tc.want)
			}
		})
	}
}

// TestCheckURLs checks that a URL is given exactly when a store needs it.
func TestCheckURLs(t *testing.T) {
	pg, rd := "postgres://postgres@127.0.0.1:5432/test", "redis://127.0.0.1:6379/0"
	for _, tc := range []struct {
		stores, pg, rd string
		ok             bool
	}{
		{"sqlite", "", "", true},
		{"sqlite,postgres+redis", pg, rd, true},
		{"postgres", pg, "", true},
		{"sqlite+redis", "", rd, true},
		{"postgres", "", "", false},
		{"sqlite", pg, "", false},
		{"sqlite,postgres", pg, rd, false}, // Redis set but no store counts in it
		{"postgres+redis", pg, "", false},
	} {
		specs, err := parseStores(tc.stores)
		if err != nil {
			t.Fatal(err)
		}
		err = config{stores: specs, postgresURL: tc.pg, redisURL: tc.rd}.checkURLs()
		if (err == nil) != tc.ok {
			t.Errorf("-stores %s -postgres-url %q -redis-url %q: got %v, want ok %v", tc.stores, tc.pg, tc.rd, err, tc.ok)
		}
	}
}

// TestBind checks the PostgreSQL placeholder rewrite.
func TestBind(t *testing.T) {
	q := `INSERT INTO t (a, b) VALUES (?, 'x', ?), (?, 'x', ?)`
	if got := (&seedDB{}).bind(q); got != q {
		t.Errorf("sqlite: got %q, want it unchanged", got)
	}
	want := `INSERT INTO t (a, b) VALUES ($1, 'x', $2), ($3, 'x', $4)`
	if got := (&seedDB{postgres: true}).bind(q); got != want {
		t.Errorf("postgres: got %q, want %q", got, want)
	}
}

// TestIsLoopbackHost checks which hosts count as this machine.
func TestIsLoopbackHost(t *testing.T) {
	for host, want := range map[string]bool{
		"127.0.0.1": true, "::1": true, "localhost": true, "127.0.0.2": true,
		"10.0.0.1": false, "db.example.com": false, "": false,
	} {
		if got := isLoopbackHost(host); got != want {
			t.Errorf("isLoopbackHost(%q): got %v, want %v", host, got, want)
		}
	}
}

// TestThousands checks the rate format.
func TestThousands(t *testing.T) {
	for in, want := range map[float64]string{0: "0", 999.4: "999", 1000: "1,000", 26085.2: "26,085", 1234567: "1,234,567"} {
		if got := thousands(in); got != want {
			t.Errorf("thousands(%v): got %q, want %q", in, got, want)
		}
	}
}
