// Migrate and the embedded migration files it applies.

package sqldb

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrations embed.FS

// Migrate applies, in one transaction, every embedded migration of the
// store's dialect not yet recorded in schema_migrations. It is idempotent
// and safe to run from several processes at once.
func (s *Store) Migrate(ctx context.Context) error {
	tx, err := s.beginLong(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := s.dialect.lock(ctx, tx, lockMigrate); err != nil {
		return err
	}
	if _, err := tx.exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    BIGINT NOT NULL PRIMARY KEY,
		name       TEXT   NOT NULL,
		applied_at BIGINT NOT NULL
	)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	applied := make(map[int64]string) // version → name
	rows, err := tx.query(ctx, `SELECT version, name FROM schema_migrations`)
	if err != nil {
		return fmt.Errorf("read schema_migrations: %w", err)
	}
	for rows.Next() {
		var v int64
		var name string
		if err := rows.Scan(&v, &name); err != nil {
			rows.Close()
			return fmt.Errorf("read schema_migrations: %w", err)
		}
		applied[v] = name
	}
	rows.Close()
	if err := rowsErr(rows); err != nil {
		return fmt.Errorf("read schema_migrations: %w", err)
	}

	list, err := migrationFiles(s.dialect.name)
	if err != nil {
		return err
	}
	for _, m := range list {
		if name, ok := applied[m.version]; ok {
			// Migrations are append-only: an applied one never changes.
			if name != m.name {
				return fmt.Errorf("migration %d was applied as %s but is now %s: migrations are append-only", m.version, name, m.name)
			}
			continue
		}
		body, err := migrations.ReadFile(m.path)
		if err != nil {
			return fmt.Errorf("read migration %s: %w", m.name, err)
		}
		if _, err := tx.tx.ExecContext(tx.ctx, string(body)); err != nil {
			return fmt.Errorf("apply migration %s: %w", m.name, err)
		}
		if _, err := tx.exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
			m.version, m.name, micros(tx.now)); err != nil {
			return fmt.Errorf("record migration %s: %w", m.name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	if err := s.prepareHot(ctx); err != nil {
		return err
	}
	return s.startFeedOnce(ctx)
}

type migration struct {
	version    int64
	name, path string
}

// migrationFiles lists a dialect's migrations, named NNNN_what.sql, in order.
func migrationFiles(dir string) ([]migration, error) {
	dir = path.Join("migrations", dir)
	entries, err := fs.ReadDir(migrations, dir)
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	var list []migration
	seen := make(map[int64]string)
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.ParseInt(num, 10, 64)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must start with a positive number and _", name)
		}
		if prev, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrations %s and %s share version %d", prev, name, v)
		}
		seen[v] = name
		list = append(list, migration{version: v, name: name, path: path.Join(dir, name)})
	}
	sort.Slice(list, func(i, j int) bool { return list[i].version < list[j].version })
	return list, nil
}
