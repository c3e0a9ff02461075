// Package postgrestest gives tests a fresh, migrated database of their own on the
// private PostgreSQL that `make test` starts (CODITECT_TEST_PG_URL, a superuser URL).
// A migrated template is built once per schema version and cloned per test, which is
// far faster than migrating every time.
package postgrestest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/coditect/coditect/internal/postgres"
)

// EnvAdminURL names the variable with a superuser URL to the test server.
const EnvAdminURL = "CODITECT_TEST_PG_URL"

// The roles tests connect as, mirroring production: an owner that runs migrations and
// an application role that owns nothing and cannot bypass row-level security.
const (
	OwnerRole = "coditect_owner"
	AppRole   = "coditect_app"
)

// DB is one test's database.
type DB struct {
	Name     string
	AdminURL string // superuser, same database
	OwnerURL string // the owner role
	AppURL   string // the application role
}

var template struct {
	once sync.Once
	name string
	err  error
}

// AdminURL returns the superuser URL from the environment or fails the test with how
// to get one.
func AdminURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(EnvAdminURL)
	if u == "" {
		t.Fatalf("%s is not set: run the tests with `make test`, which starts a private PostgreSQL", EnvAdminURL)
	}
	return u
}

// WithDatabase replaces the database name in a postgres URL.
func WithDatabase(raw, db string) string {
	u, err := url.Parse(raw)
	if err != nil {
		panic(err)
	}
	u.Path = "/" + db
	return u.String()
}

// WithUser replaces the user in a postgres URL (trust auth on the test server).
func WithUser(raw, user string) string {
	u, err := url.Parse(raw)
	if err != nil {
		panic(err)
	}
	u.User = url.User(user)
	return u.String()
}

// New creates a fresh migrated database for t, dropped when t ends.
func New(t testing.TB) DB {
	t.Helper()
	admin := AdminURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	template.once.Do(func() { template.name, template.err = ensureTemplate(ctx, admin) })
	if template.err != nil {
		t.Fatalf("postgrestest: template: %v", template.err)
	}
	name := "t_" + randomHex(8)
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("postgrestest: %v", err)
	}
	defer conn.Close(ctx)
	// Concurrent clones of one template can collide briefly; retry.
	for i := 0; ; i++ {
		_, err = conn.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s OWNER %s", name, template.name, OwnerRole))
		if err == nil || i == 50 || !strings.Contains(err.Error(), "being accessed by other users") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("postgrestest: create database: %v", err)
	}
	t.Cleanup(func() { Drop(admin, name) })
	db := WithDatabase(admin, name)
	return DB{Name: name, AdminURL: db, OwnerURL: WithUser(db, OwnerRole), AppURL: WithUser(db, AppRole)}
}

// Drop removes a database, disconnecting anyone still on it.
func Drop(admin, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return
	}
	defer conn.Close(ctx)
	_, _ = conn.Exec(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", name))
}

// Pool opens a pool for url, closed when t ends.
func Pool(t testing.TB, url string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatalf("postgrestest: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// NewStore returns a Store on a fresh database, connected as the application role.
func NewStore(t testing.TB) (*postgres.Store, DB) {
	t.Helper()
	db := New(t)
	pool, err := postgres.Connect(context.Background(), db.AppURL, 8)
	if err != nil {
		t.Fatalf("postgrestest: %v", err)
	}
	t.Cleanup(pool.Close)
	store, err := postgres.NewStore(pool)
	if err != nil {
		t.Fatalf("postgrestest: %v", err)
	}
	return store, db
}

// ensureTemplate builds (once per schema version, across processes) a database with
// every migration applied, marked as a template.
func ensureTemplate(ctx context.Context, admin string) (string, error) {
	migs, err := postgres.Migrations()
	if err != nil {
		return "", err
	}
	h := sha256.New()
	for _, m := range migs {
		h.Write([]byte(m.Up))
		h.Write([]byte(m.Down))
	}
	name := "tmpl_" + hex.EncodeToString(h.Sum(nil))[:16]

	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	if err := postgres.EnsureRoles(ctx, conn, OwnerRole, AppRole); err != nil {
		return "", err
	}
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock(7041992003)"); err != nil {
		return "", err
	}
	defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(7041992003)") //nolint:errcheck
	var ready bool
	err = conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1 AND datistemplate)", name).Scan(&ready)
	if err != nil || ready {
		return name, err
	}
	// A half-built template from a crashed run is rebuilt.
	if _, err := conn.Exec(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", name)); err != nil {
		return "", err
	}
	if _, err := conn.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s OWNER %s", name, OwnerRole)); err != nil {
		return "", err
	}
	m, err := postgres.NewMigrator(ctx, WithUser(WithDatabase(admin, name), OwnerRole), nil)
	if err != nil {
		return "", err
	}
	err = m.Up(ctx)
	m.Close(ctx)
	if err != nil {
		return "", err
	}
	_, err = conn.Exec(ctx, fmt.Sprintf("ALTER DATABASE %s IS_TEMPLATE true", name))
	return name, err
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
