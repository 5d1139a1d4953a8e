package sqldb_test

import (
	"path/filepath"
	"sync"
	"testing"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/sqldb"
)

// TestSQLiteConcurrentOpen opens one new SQLite file from several stores at
// once, as several instances started together on an empty store do: the
// switch to WAL that the first connection makes must not fail the others
// with SQLITE_BUSY.
func TestSQLiteConcurrentOpen(t *testing.T) {
	for round := 0; round < 5; round++ {
		path := filepath.Join(t.TempDir(), "lk.db")
		const n = 6
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s, err := sqldb.Open(ctx, path, latchkey.SystemClock)
				if err == nil {
					err = s.Migrate(ctx)
					s.Close()
				}
				errs[i] = err
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d, store %d: %v", round, i, err)
			}
		}
	}
}
