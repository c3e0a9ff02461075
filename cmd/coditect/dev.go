package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/coditect/coditect/internal/account"
	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/config"
	"github.com/coditect/coditect/internal/identity"
	"github.com/coditect/coditect/internal/pgserver"
	"github.com/coditect/coditect/internal/postgres"
	"github.com/coditect/coditect/internal/telemetry"
)

const (
	devDatabase  = "coditect"
	devOwnerRole = "coditect_owner"
	devAppRole   = "coditect_app"
	demoEmail    = "demo@coditect.dev"
	demoSlug     = "demo"
)

// runDev is the zero-config local platform: with no DATABASE_URL it runs a private
// PostgreSQL from the machine's binaries in --data-dir, then migrates, seeds a demo
// organization, and serves API + workers on one port until Ctrl-C.
func runDev(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flags("dev", stderr)
	addr := fs.String("addr", "", "listen address (default $CODITECT_ADDR or 127.0.0.1:8080)")
	dataDir := fs.String("data-dir", ".coditect", "where the private PostgreSQL and dev files live")
	if err := fs.Parse(args); err != nil {
		return err
	}
	// A dev server prints demo credentials, so unless told otherwise it listens on
	// loopback only.
	listen := *addr
	if listen == "" {
		listen = getenv("CODITECT_ADDR")
	}
	if listen == "" {
		listen = "127.0.0.1:8080"
	}
	env := func(k string) string {
		if k == "CODITECT_ADDR" {
			return listen
		}
		return getenv(k)
	}
	if err := os.MkdirAll(*dataDir, 0o755); err != nil {
		return fmt.Errorf("--data-dir: %w", err)
	}
	secret, err := devSecret(getenv, *dataDir)
	if err != nil {
		return err
	}
	devEnv := env
	env = func(k string) string {
		switch k {
		case "CODITECT_SECRET_KEY":
			return secret
		case "CODITECT_COOKIE_SECURE":
			if v := devEnv(k); v != "" {
				return v
			}
			return "false" // http://localhost has no TLS
		}
		return devEnv(k)
	}
	cfg, err := config.Load(env, false)
	if err != nil {
		return err
	}
	cfg.Workers = true
	log := newLogger(stderr, cfg.LogLevel)

	if cfg.DatabaseURL == "" {
		fmt.Fprintf(stdout, "coditect dev: starting a private PostgreSQL in %s\n", filepath.Join(*dataDir, "pg"))
		pg, err := pgserver.Start(ctx, pgserver.Options{
			DataDir: filepath.Join(*dataDir, "pg"),
			Logf:    func(f string, a ...any) { fmt.Fprintf(stdout, "coditect dev: "+f+"\n", a...) },
		})
		if err != nil {
			if errors.Is(err, pgserver.ErrBinariesNotFound) {
				return fmt.Errorf("%w\n(or set DATABASE_URL to use an existing PostgreSQL)", err)
			}
			return fmt.Errorf("start PostgreSQL: %w", err)
		}
		defer func() {
			fmt.Fprintln(stdout, "coditect dev: stopping PostgreSQL")
			if err := pg.Stop(context.Background()); err != nil {
				fmt.Fprintln(stderr, "coditect dev: stop PostgreSQL:", err)
			}
		}()
		if err := devDatabaseSetup(ctx, pg.SuperuserURL("postgres")); err != nil {
			return fmt.Errorf("prepare the dev database: %w", err)
		}
		cfg.DatabaseURL = pg.URLFor(devAppRole, devDatabase)
		cfg.DatabaseOwnerURL = pg.URLFor(devOwnerRole, devDatabase)
	}

	if cfg.RedisURL == "" {
		url, stop, err := startDevRedis(filepath.Join(*dataDir, "redis"), stdout)
		if err != nil {
			return err
		}
		defer stop()
		cfg.RedisURL = url
	}

	if err := migrate(ctx, cfg.DatabaseOwnerURL, []string{"up"}, io.Discard); err != nil {
		return err
	}
	email, password, err := seedDemo(ctx, cfg, *dataDir)
	if err != nil {
		return fmt.Errorf("seed the demo organization: %w", err)
	}
	return serve(ctx, cfg, *dataDir, log, stdout, func(url string) {
		fmt.Fprintf(stdout, `
  CODITECT is running at %s
  Demo organization: %q (%s.%s)
  Demo owner: %s
  Password:   %s
  Health:    %s/readyz    API description: %s/v1/openapi.json
  Press Ctrl-C to stop.

`, url, demoSlug, demoSlug, cfg.BaseDomain, email, password, url, url)
	})
}

// devSecret returns CODITECT_SECRET_KEY, or a random one generated once and kept in
// <data-dir>/secret-key (mode 0600) so sessions and MFA survive restarts.
func devSecret(getenv func(string) string, dataDir string) (string, error) {
	if k := getenv("CODITECT_SECRET_KEY"); k != "" {
		return k, nil
	}
	path := filepath.Join(dataDir, "secret-key")
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) >= 32 {
		return strings.TrimSpace(string(b)), nil
	}
	raw := make([]byte, 48)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	k := base64.RawURLEncoding.EncodeToString(raw)
	if err := os.WriteFile(path, []byte(k+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	return k, nil
}

// devDatabaseSetup creates the dev roles and database on a private server, as its
// superuser. It is idempotent, so a second `coditect dev` reuses everything.
func devDatabaseSetup(ctx context.Context, superuserURL string) error {
	conn, err := pgx.Connect(ctx, superuserURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if err := postgres.EnsureRoles(ctx, conn, devOwnerRole, devAppRole); err != nil {
		return err
	}
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", devDatabase).Scan(&exists); err != nil {
		return err
	}
	if !exists {
		_, err = conn.Exec(ctx, "CREATE DATABASE "+devDatabase+" OWNER "+devOwnerRole)
	}
	return err
}

// seedDemo creates the demo owner and organization once, keeping the generated
// password in <data-dir>/demo-credentials (mode 0600) so later runs can print it.
func seedDemo(ctx context.Context, cfg config.Config, dataDir string) (email, password string, err error) {
	pool, store, err := openStore(ctx, cfg, telemetry.Off())
	if err != nil {
		return "", "", err
	}
	defer pool.Close()
	credFile := filepath.Join(dataDir, "demo-credentials")
	_, err = store.AccountByEmail(ctx, demoEmail)
	if err == nil {
		b, rerr := os.ReadFile(credFile)
		if rerr != nil {
			return demoEmail, "(unknown: " + credFile + " is missing)", nil
		}
		return demoEmail, strings.TrimSpace(string(b)), nil
	}
	if !coditect.IsNotFound(err) {
		return "", "", err
	}
	raw := make([]byte, 12)
	if _, err := rand.Read(raw); err != nil {
		return "", "", err
	}
	password = base64.RawURLEncoding.EncodeToString(raw)
	hash, err := identity.HashPassword(password, identity.Argon2Params(cfg.Argon2))
	if err != nil {
		return "", "", err
	}
	_, _, err = account.Onboard(ctx, postgres.AccountStore{Store: store}, account.OnboardParams{
		Email: demoEmail, Name: "Demo Owner", PasswordHash: hash, OrgName: "Demo Organization", Slug: demoSlug, BaseDomain: cfg.BaseDomain,
	})
	if err != nil {
		return "", "", err
	}
	if err := os.WriteFile(credFile, []byte(password+"\n"), 0o600); err != nil {
		return "", "", err
	}
	return demoEmail, password, nil
}
