package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationLock is the advisory lock key that serializes concurrent `migrate` runs
// (several pods starting at once).
const migrationLock = 7_041_992_001

// Migration is one numbered schema change with its up and down SQL.
type Migration struct {
	Version int
	Name    string
	Up      string
	Down    string
}

// MigrationState is a migration and when it was applied (nil = pending).
type MigrationState struct {
	Migration
	AppliedAt *time.Time
}

// Migrations returns the embedded migrations in order. File names are
// NNNN_name.up.sql / NNNN_name.down.sql.
func Migrations() ([]Migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	byVersion := map[int]*Migration{}
	for _, e := range entries {
		name := e.Name()
		base, dir, ok := strings.Cut(strings.TrimSuffix(name, ".sql"), ".")
		num, title, ok2 := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || !ok2 || err != nil || (dir != "up" && dir != "down") {
			return nil, fmt.Errorf("migration %q: want NNNN_name.up.sql or NNNN_name.down.sql", name)
		}
		body, err := migrationFiles.ReadFile("migrations/" + name)
		if err != nil {
			return nil, err
		}
		m := byVersion[v]
		if m == nil {
			m = &Migration{Version: v, Name: title}
			byVersion[v] = m
		}
		if dir == "up" {
			m.Up = string(body)
		} else {
			m.Down = string(body)
		}
	}
	out := make([]Migration, 0, len(byVersion))
	for _, m := range byVersion {
		if m.Up == "" || m.Down == "" {
			return nil, fmt.Errorf("migration %04d_%s needs both an up and a down file", m.Version, m.Name)
		}
		out = append(out, *m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// Migrator applies the platform's migrations and River's, as the owner role.
type Migrator struct {
	url  string
	conn *pgx.Conn // holds the advisory lock and runs the platform's migrations
	log  func(format string, args ...any)
}

// NewMigrator connects to ownerURL. logf reports each step; Close releases it.
func NewMigrator(ctx context.Context, ownerURL string, logf func(format string, args ...any)) (*Migrator, error) {
	conn, err := pgx.Connect(ctx, ownerURL)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_OWNER_URL: connect: %w", err)
	}
	if logf == nil {
		logf = func(string, ...any) {}
	}
	return &Migrator{url: ownerURL, conn: conn, log: logf}, nil
}

// Close closes the connection.
func (m *Migrator) Close(ctx context.Context) error { return m.conn.Close(ctx) }

func (m *Migrator) locked(ctx context.Context, fn func() error) error {
	if _, err := m.conn.Exec(ctx, "SELECT pg_advisory_lock($1)", migrationLock); err != nil {
		return err
	}
	defer func() {
		_, _ = m.conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrationLock)
	}()
	if _, err := m.conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return err
	}
	return fn()
}

func (m *Migrator) applied(ctx context.Context) (map[int]time.Time, error) {
	rows, err := m.conn.Query(ctx, "SELECT version, applied_at FROM schema_migrations")
	if err != nil {
		return nil, err
	}
	out := map[int]time.Time{}
	var v int
	var at time.Time
	_, err = pgx.ForEachRow(rows, []any{&v, &at}, func() error { out[v] = at; return nil })
	return out, err
}

// river runs fn with River's migrator. River applies each of its migrations in its own
// transaction (one adds an enum value that the next uses), so it gets a small pool.
func (m *Migrator) river(ctx context.Context, fn func(*rivermigrate.Migrator[pgx.Tx]) error) error {
	pool, err := pgxpool.New(ctx, m.url)
	if err != nil {
		return err
	}
	defer pool.Close()
	rm, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{})
	if err != nil {
		return err
	}
	return fn(rm)
}

// Up applies every pending migration, each in its own transaction, then River's.
func (m *Migrator) Up(ctx context.Context) error {
	all, err := Migrations()
	if err != nil {
		return err
	}
	return m.locked(ctx, func() error {
		done, err := m.applied(ctx)
		if err != nil {
			return err
		}
		// River's tables come right after 0001 (which sets the app role's default
		// privileges they inherit), so later migrations can index or alter them.
		riverUp := func() error {
			return m.river(ctx, func(rm *rivermigrate.Migrator[pgx.Tx]) error {
				res, err := rm.Migrate(ctx, rivermigrate.DirectionUp, nil)
				if err != nil {
					return fmt.Errorf("river migrations up: %w", err)
				}
				for _, v := range res.Versions {
					m.log("applied river %03d_%s", v.Version, v.Name)
				}
				return nil
			})
		}
		riverDone := false
		for _, mg := range all {
			if mg.Version > 1 && !riverDone {
				if err := riverUp(); err != nil {
					return err
				}
				riverDone = true
			}
			if _, ok := done[mg.Version]; ok {
				continue
			}
			err := pgx.BeginFunc(ctx, m.conn, func(tx pgx.Tx) error {
				if _, err := tx.Exec(ctx, mg.Up); err != nil {
					return err
				}
				_, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", mg.Version, mg.Name)
				return err
			})
			if err != nil {
				return fmt.Errorf("migration %04d_%s up: %w", mg.Version, mg.Name, err)
			}
			m.log("applied %04d_%s", mg.Version, mg.Name)
		}
		if !riverDone {
			return riverUp()
		}
		return nil
	})
}

// Down rolls back the last steps migrations of the platform; all removes every
// platform migration and River's tables too, leaving an empty schema.
func (m *Migrator) Down(ctx context.Context, steps int, all bool) error {
	list, err := Migrations()
	if err != nil {
		return err
	}
	return m.locked(ctx, func() error {
		done, err := m.applied(ctx)
		if err != nil {
			return err
		}
		if all {
			err := m.river(ctx, func(rm *rivermigrate.Migrator[pgx.Tx]) error {
				res, err := rm.Migrate(ctx, rivermigrate.DirectionDown, &rivermigrate.MigrateOpts{TargetVersion: -1})
				if err != nil {
					return fmt.Errorf("river migrations down: %w", err)
				}
				for _, v := range res.Versions {
					m.log("reverted river %03d_%s", v.Version, v.Name)
				}
				return nil
			})
			if err != nil {
				return err
			}
			steps = len(list)
		}
		for i := len(list) - 1; i >= 0 && steps > 0; i-- {
			mg := list[i]
			if _, ok := done[mg.Version]; !ok {
				continue
			}
			err := pgx.BeginFunc(ctx, m.conn, func(tx pgx.Tx) error {
				if _, err := tx.Exec(ctx, mg.Down); err != nil {
					return err
				}
				_, err := tx.Exec(ctx, "DELETE FROM schema_migrations WHERE version = $1", mg.Version)
				return err
			})
			if err != nil {
				return fmt.Errorf("migration %04d_%s down: %w", mg.Version, mg.Name, err)
			}
			m.log("reverted %04d_%s", mg.Version, mg.Name)
			steps--
		}
		if all {
			_, err := m.conn.Exec(ctx, "DROP TABLE schema_migrations")
			return err
		}
		return nil
	})
}

// Status lists every platform migration with when it was applied, and River's schema
// version.
func (m *Migrator) Status(ctx context.Context) (states []MigrationState, riverVersion, riverLatest int, err error) {
	all, err := Migrations()
	if err != nil {
		return nil, 0, 0, err
	}
	err = m.locked(ctx, func() error {
		done, err := m.applied(ctx)
		if err != nil {
			return err
		}
		for _, mg := range all {
			st := MigrationState{Migration: mg}
			if at, ok := done[mg.Version]; ok {
				st.AppliedAt = &at
			}
			states = append(states, st)
		}
		return m.river(ctx, func(rm *rivermigrate.Migrator[pgx.Tx]) error {
			versions := rm.AllVersions()
			riverLatest = versions[len(versions)-1].Version
			existing, err := rm.ExistingVersions(ctx)
			if err != nil {
				return err
			}
			if len(existing) > 0 {
				riverVersion = existing[len(existing)-1].Version
			}
			return nil
		})
	})
	return states, riverVersion, riverLatest, err
}
