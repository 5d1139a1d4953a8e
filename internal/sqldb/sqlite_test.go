package sqldb_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/sqldb"
)

// SQLite-only checks: connection settings and what lands in the file.

// TestSQLiteSettings checks the PRAGMAs each of SQLite's two pools runs with.
func TestSQLiteSettings(t *testing.T) {
	s := MustOpen(t, filepath.Join(t.TempDir(), "lk.db"), nil)
	tests := []struct {
		pragma    string
		write     string
		read      string
		reasonWhy string
	}{
		{"journal_mode", "wal", "wal", "readers beside the writer"},
		{"synchronous", "2", "2", "FULL: an acknowledged write survives power loss"},
		{"foreign_keys", "1", "1", "cascades and integrity"},
		{"busy_timeout", "10000", "10000", "wait for another process's lock instead of failing"},
		{"query_only", "0", "1", "the read pool cannot write"},
	}
	for _, tt := range tests {
		t.Run(tt.pragma, func(t *testing.T) {
			w, r, err := sqldb.Pragma(ctx, s, tt.pragma)
			if err != nil {
				t.Fatalf("PRAGMA %s: %v", tt.pragma, err)
			}
			if w != tt.write || r != tt.read {
				t.Errorf("got write %s read %s, want %s and %s (%s)", w, r, tt.write, tt.read, tt.reasonWhy)
			}
		})
	}
}

// TestOpenRefuses checks Open refuses an in-memory or unreachable database instead of serving it.
func TestOpenRefuses(t *testing.T) {
	for _, dsn := range []string{"", ":memory:", "file::memory:?mode=memory"} {
		if s, err := sqldb.Open(ctx, dsn, nil); err == nil {
			s.Close()
			t.Errorf("Open(%q): got nil error, want a refusal", dsn)
		}
	}
	if s, err := sqldb.Open(ctx, filepath.Join(t.TempDir(), "missing-dir", "lk.db"), nil); err == nil {
		s.Close()
		t.Error("Open in a missing directory: got nil error, want one")
	}
	if s, err := sqldb.Open(ctx, "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=2", nil); err == nil {
		s.Close()
		t.Error("Open(unreachable postgres): got nil error, want one")
	}
}

// TestSQLiteFilesArePrivate checks the database and its WAL files are readable by their owner only.
func TestSQLiteFilesArePrivate(t *testing.T) {
	dir := t.TempDir()
	s := MustOpen(t, filepath.Join(dir, "lk.db"), nil)
	if _, err := s.SecretKey(ctx); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "lk.db*"))
	if len(files) < 2 {
		t.Fatalf("files: got %v, want the database and its WAL", files)
	}
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			t.Errorf("%s: got mode %v, want no access for group and others", filepath.Base(f), perm)
		}
	}
}

// TestSQLiteStoresNoSecret checks that the database files hold a key's
// hash and start, never its secret.
func TestSQLiteStoresNoSecret(t *testing.T) {
	dir := t.TempDir()
	s := MustOpen(t, filepath.Join(dir, "lk.db"), nil)
	a := MustCreateAccount(t, s, "acme")
	_, secret := MustCreateKey(t, s, a.ID, nil)
	_, rotated, err := s.RotateKey(ctx, a.ID, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	all := MustCloseAndRead(t, s, dir)
	for _, sec := range []string{secret, rotated} {
		body := sec[strings.IndexByte(sec, '_')+1:]
		if bytes.Contains(all, []byte(body[8:])) {
			t.Errorf("the database files contain a secret")
		}
		h := latchkey.HashSecret(sec)
		if !bytes.Contains(all, h[:]) {
			t.Errorf("the database files do not contain the secret's hash")
		}
	}
}
