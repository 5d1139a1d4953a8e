package sqldb_test

import (
	"testing"

	"github.com/latchkey/latchkey/internal/sqldb"
)

// TestRebind checks ? placeholders become $n on PostgreSQL, outside quotes only, and SQLite keeps them.
func TestRebind(t *testing.T) {
	tests := []struct{ in, want string }{
		{"SELECT 1", "SELECT 1"},
		{"a = ? AND b IN (?, ?)", "a = $1 AND b IN ($2, $3)"},
		{`x LIKE ? ESCAPE '\'`, `x LIKE $1 ESCAPE '\'`},
		{"'?' = ? OR 'it''s ?' = ?", "'?' = $1 OR 'it''s ?' = $2"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			pg, lite := sqldb.Rebind(tt.in)
			if pg != tt.want {
				t.Errorf("postgres: got %q, want %q", pg, tt.want)
			}
			if lite != tt.in {
				t.Errorf("sqlite: got %q, want it unchanged", lite)
			}
		})
	}
}
