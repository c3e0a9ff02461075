package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/config"
	"github.com/coditect/coditect/internal/export"
	"github.com/coditect/coditect/internal/postgres"
	"github.com/coditect/coditect/internal/telemetry"
)

// runTenant is `coditect tenant export ORG FILE` and `coditect tenant import FILE`:
// an operator's copy of one organization's data, in the format of the API's exports.
// Both connect as DATABASE_URL (the application role): the export reads, and the
// import writes, through the normal tenant-scoped store.
func runTenant(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	const want = "tenant: want export ORG FILE or import FILE"
	if len(args) == 0 {
		return errors.New(want)
	}
	action, rest := args[0], args[1:]
	switch action {
	case "export":
		if len(rest) != 2 {
			return errors.New("tenant export: want ORG (slug or id) and FILE")
		}
	case "import":
		if len(rest) != 1 {
			return errors.New("tenant import: want FILE")
		}
	default:
		return fmt.Errorf("tenant: unknown action %q (%s)", action, want[len("tenant: "):])
	}
	cfg, err := config.Load(getenv, false)
	if err != nil {
		return err
	}
	if cfg.DatabaseURL == "" {
		return errors.New("DATABASE_URL: is required (a postgres:// URL of the application role)")
	}
	pool, store, err := openStore(ctx, cfg, telemetry.Off())
	if err != nil {
		return err
	}
	defer pool.Close()
	if action == "export" {
		return tenantExport(ctx, store, rest[0], rest[1], stdout)
	}
	return tenantImport(ctx, store, cfg.BaseDomain, rest[0], stdout)
}

// tenantExport writes the archive of org (a slug or an organization id) to the new
// file path, mode 0600. It never overwrites a file, and leaves none behind when it
// fails.
func tenantExport(ctx context.Context, store *postgres.Store, org, path string, stdout io.Writer) (err error) {
	tenant, err := coditect.ParseID[coditect.TenantID](org)
	if err != nil {
		if tenant, err = store.TenantBySlug(ctx, strings.ToLower(strings.TrimSpace(org))); err != nil {
			if coditect.IsNotFound(err) {
				return fmt.Errorf("tenant export: no organization %q", org)
			}
			return err
		}
	}
	tctx := coditect.WithActor(ctx, coditect.SystemActor(tenant))
	o, err := store.OrganizationGet(tctx)
	if err != nil {
		if coditect.IsNotFound(err) {
			return fmt.Errorf("tenant export: no organization %q", org)
		}
		return err
	}

	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("tenant export: %s already exists; it is not overwritten (choose another name or remove it)", path)
		}
		return fmt.Errorf("tenant export: %w", err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(path)
		}
	}()
	// ExportTo streams the archive straight into w; it needs no Files store.
	svc := export.NewService(postgres.ExportStore{Store: store}, nil, export.Config{})
	m, err := svc.ExportTo(tctx, f)
	if err != nil {
		return fmt.Errorf("tenant export: %w", err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("tenant export: %w", err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("tenant export: %w", err)
	}
	counts := make([]string, 0, len(m.Files))
	for _, fe := range m.Files {
		counts = append(counts, fmt.Sprintf("%s %d", strings.TrimSuffix(fe.Name, ".jsonl"), fe.Rows))
	}
	fmt.Fprintf(stdout, "coditect tenant export: wrote organization %s (%s) to %s: %s\n", o.Slug, tenant, path, strings.Join(counts, ", "))
	return nil
}

// tenantImport loads the archive at path and prints Import's report as JSON.
func tenantImport(ctx context.Context, store *postgres.Store, baseDomain, path string, stdout io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("tenant import: %w", err)
	}
	defer f.Close()
	rep, err := export.Import(ctx, postgres.ExportStore{Store: store}, f, export.ImportOptions{BaseDomain: baseDomain})
	if err != nil {
		if rep.Rows["organization"] > 0 { // the organization was created before the failure
			return fmt.Errorf("tenant import: %w (organization %s (%s) is now partly imported: delete it before importing again)", err, rep.Slug, rep.TenantID)
		}
		return fmt.Errorf("tenant import: %w", err)
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}
