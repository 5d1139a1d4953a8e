package sqldb_test

import (
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkWrite measures the writes that change a key's verifiable state
// (and so write the change log) on each store: a PATCH renaming one of 64
// keys, and a revoke/un-revoke, from 8 goroutines. Run before and after a
// change to the write path, in one session:
//
//	LATCHKEY_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test?sslmode=disable \
//	  go test -run XXX -bench BenchmarkWrite -benchtime 3s ./internal/sqldb/
func BenchmarkWrite(b *testing.B) {
	stores := map[string]func(b *testing.B) string{
		"sqlite": func(b *testing.B) string { return filepath.Join(b.TempDir(), "bench.db") },
	}
	if url := os.Getenv("LATCHKEY_TEST_POSTGRES_URL"); url != "" {
		stores["postgres"] = func(b *testing.B) string { return newPostgresSchema(b, url) }
	}
	for _, name := range []string{"sqlite", "postgres"} {
		dsn, ok := stores[name]
		if !ok {
			continue
		}
		b.Run(name+"/update", func(b *testing.B) {
			s := MustOpen(b, dsn(b), nil)
			a := MustCreateAccount(b, s, "bench")
			benchRenames(b, s, a.ID)
		})
	}
}
