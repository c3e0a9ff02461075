package export

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/coditect/coditect/internal/audit"
	"github.com/coditect/coditect/internal/coditect"
)

// DefaultTTL is how long a completed export stays downloadable unless configured.
const DefaultTTL = 7 * 24 * time.Hour

// DefaultPageSize is how many rows one database read of an export fetches.
const DefaultPageSize = 1000

// runningGrace is how long the archive file of a started export is tracked before
// the purge may treat the export as abandoned: longer than one job attempt may take
// (the worker's timeout is 30 minutes) plus the backoff before the next one. Each
// attempt moves it again.
const runningGrace = 2 * time.Hour

// purgeBatch is how many expired files one purge read returns.
const purgeBatch = 100

// Config tunes the Service. Zero values take the defaults.
type Config struct {
	// TTL is how long a completed export can be downloaded; DefaultTTL when zero.
	TTL time.Duration
	// TempDir holds the temporary JSONL files of a running export (and of an import);
	// os.TempDir() when empty. It needs room for one uncompressed copy of the tenant.
	TempDir string
	// PageSize is the rows per database read; DefaultPageSize when zero.
	PageSize int
	// Now returns the current time; time.Now when nil.
	Now func() time.Time
}

// Service runs data exports.
type Service struct {
	store Store
	files Files
	cfg   Config
}

// NewService returns a Service that keeps its records in store and archives in files.
func NewService(store Store, files Files, cfg Config) *Service {
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.TempDir == "" {
		cfg.TempDir = os.TempDir()
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = DefaultPageSize
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{store: store, files: files, cfg: cfg}
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

func authorize(ctx context.Context) error {
	a, _ := coditect.ActorFrom(ctx)
	return coditect.Authorize(a, coditect.ActExport)
}

func notFound() error {
	return &coditect.Error{Code: coditect.CodeNotFound, Message: "export not found"}
}

// StorageKey is where the archive of export id of tenant is kept. It depends only on
// the two ids, so a re-run of the job overwrites the same object.
func StorageKey(tenant coditect.TenantID, id ID) string {
	return "exports/" + tenant.String() + "/" + id.String() + ".tar.gz"
}

// auditRow writes the one audit row of a change, in its transaction.
func auditRow(ctx context.Context, tx Tx, action string, id ID, changes map[string]any) error {
	a, _ := coditect.ActorFrom(ctx)
	e := audit.Entry{ID: coditect.NewID[coditect.AuditLogID](), ActorType: a.Kind, Action: action, TargetType: "export", TargetID: id.String()}
	e.ActorID = a.AuditActorID()
	if info, ok := audit.InfoFrom(ctx); ok {
		e.IP, e.UserAgent = info.IP, info.UserAgent
	}
	if changes != nil {
		b, err := json.Marshal(changes)
		if err != nil {
			return err
		}
		e.Changes = b
	}
	return tx.AuditLogInsert(ctx, e)
}

// RequestExport starts an export of the actor's organization: in one transaction it
// records a pending export, writes its audit row ("export.create") and enqueues the
// job that produces it. It needs admin or higher. While another export of the
// organization is pending or running it is a conflict (CodeInProgress).
func (s *Service) RequestExport(ctx context.Context) (Export, error) {
	if err := authorize(ctx); err != nil {
		return Export{}, err
	}
	a, _ := coditect.ActorFrom(ctx)
	e := Export{ID: NewID(), Status: StatusPending}
	if id := a.AuditActorID(); id != nil {
		e.RequestedBy = ID(*id).String()
	}
	var out Export
	err := s.store.InTenantTx(ctx, func(tx Tx) error {
		var err error
		if out, err = tx.ExportCreate(ctx, e); err != nil {
			return err
		}
		if err := auditRow(ctx, tx, "export.create", out.ID, nil); err != nil {
			return err
		}
		return tx.Enqueue(ctx, &ExportArgs{ExportID: out.ID})
	})
	if err != nil {
		return Export{}, err
	}
	return s.present(out), nil
}

// Export returns one export of the actor's organization (admin or higher).
func (s *Service) Export(ctx context.Context, id ID) (Export, error) {
	if err := authorize(ctx); err != nil {
		return Export{}, err
	}
	if id.IsZero() {
		return Export{}, notFound()
	}
	e, err := s.store.ExportGet(ctx, id)
	if err != nil {
		return Export{}, err
	}
	return s.present(e), nil
}

// Exports returns a page of the organization's exports, newest first (admin or higher).
func (s *Service) Exports(ctx context.Context, p Page) ([]Export, error) {
	if err := authorize(ctx); err != nil {
		return nil, err
	}
	list, err := s.store.ExportList(ctx, p)
	if err != nil {
		return nil, err
	}
	out := make([]Export, 0, len(list))
	for _, e := range list {
		out = append(out, s.present(e))
	}
	return out, nil
}

// present fills in what is computed at read time.
func (s *Service) present(e Export) Export {
	e.Expired = e.PurgedAt != nil || (e.ExpiresAt != nil && !s.now().Before(*e.ExpiresAt))
	if e.Counts == nil {
		e.Counts = map[string]int64{}
	}
	return e
}

// Download opens the archive of a completed, unexpired export of the actor's
// organization (admin or higher) and returns it with its size and a file name for it.
// Each download writes an audit row ("export.download"): who took a copy of the
// organization's data is exactly what the audit log is for. Unknown or another
// organization's export: not found; pending or running: CodeNotReady; failed:
// CodeFailed; expired or purged: CodeExpired. The caller closes the reader.
func (s *Service) Download(ctx context.Context, id ID) (io.ReadCloser, int64, string, error) {
	if err := authorize(ctx); err != nil {
		return nil, 0, "", err
	}
	if id.IsZero() {
		return nil, 0, "", notFound()
	}
	var e Export
	err := s.store.InTenantTx(ctx, func(tx Tx) error {
		var err error
		if e, err = tx.ExportGetForUpdate(ctx, id); err != nil {
			return err
		}
		e = s.present(e)
		if err := downloadable(e); err != nil {
			return err
		}
		return auditRow(ctx, tx, "export.download", id, map[string]any{"size_bytes": e.SizeBytes})
	})
	if err != nil {
		return nil, 0, "", err
	}
	r, size, err := s.files.Open(ctx, e.StorageKey)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, 0, "", expired()
		}
		return nil, 0, "", &coditect.Error{Code: coditect.CodeUnavailable, Message: "the export archive cannot be read right now", Err: err}
	}
	name := "coditect-export-" + e.CreatedAt.UTC().Format("20060102-150405") + "-" + id.String()[:8] + ".tar.gz"
	return r, size, name, nil
}

func expired() error {
	return &coditect.Error{Code: CodeExpired, Kind: coditect.CodeNotFound, Message: "this export has expired; request a new one"}
}

func downloadable(e Export) error {
	switch e.Status {
	case StatusPending, StatusRunning:
		return &coditect.Error{Code: CodeNotReady, Kind: coditect.CodeConflict, Message: "this export is not ready yet"}
	case StatusFailed:
		return &coditect.Error{Code: CodeFailed, Kind: coditect.CodeConflict, Message: "this export failed; request a new one"}
	}
	if e.Expired || e.StorageKey == "" {
		return expired()
	}
	return nil
}

// errSettled stops Run's first transaction when there is nothing to do.
var errSettled = errors.New("export already completed")

// Run is the job body: it produces the archive of export id of the context's tenant.
// It marks the export running, streams every row of the tenant from one consistent
// snapshot into the archive, stores it under StorageKey and completes the export
// (size, counts, expiry). It is idempotent: a completed export is left alone, and a
// re-run after a crash or failure overwrites the same key. On error the export stays
// running (the job is retried); the worker calls Fail when it gives up. An unknown
// export is not found (the tenant may have been erased).
func (s *Service) Run(ctx context.Context, id ID) error {
	tenant, err := coditect.TenantFrom(ctx)
	if err != nil {
		return err
	}
	key := StorageKey(tenant, id)
	var e Export
	err = s.store.InTenantTx(ctx, func(tx Tx) error {
		cur, err := tx.ExportGetForUpdate(ctx, id)
		if err != nil {
			return err
		}
		if cur.Status == StatusCompleted {
			return errSettled
		}
		now := s.now()
		cur.Status, cur.StartedAt, cur.CompletedAt, cur.Error, cur.StorageKey = StatusRunning, &now, nil, "", key
		if e, err = tx.ExportSave(ctx, cur); err != nil {
			return err
		}
		// Track the file before it exists: if this attempt dies, the purge still finds
		// (and deletes) whatever it may have left.
		return tx.ExportFileSave(ctx, File{ExportID: id, StorageKey: key, ExpiresAt: now.Add(runningGrace)})
	})
	if errors.Is(err, errSettled) {
		return nil
	}
	if err != nil {
		return err
	}

	size, counts, err := s.writeArchive(ctx, tenant, e, key)
	if err != nil {
		return err
	}

	return s.store.InTenantTx(ctx, func(tx Tx) error {
		cur, err := tx.ExportGetForUpdate(ctx, id)
		if err != nil {
			return err
		}
		now := s.now()
		exp := now.Add(s.cfg.TTL)
		cur.Status, cur.CompletedAt, cur.ExpiresAt, cur.PurgedAt = StatusCompleted, &now, &exp, nil
		cur.SizeBytes, cur.Counts, cur.StorageKey, cur.Error = size, counts, key, ""
		if _, err := tx.ExportSave(ctx, cur); err != nil {
			return err
		}
		return tx.ExportFileSave(ctx, File{ExportID: id, StorageKey: key, ExpiresAt: exp})
	})
}

// Fail marks export id of the context's tenant failed with a message safe to show
// (cause itself is for logs), unless it completed meanwhile. Any archive it left is
// deleted by the next purge. The worker calls it when it stops retrying.
func (s *Service) Fail(ctx context.Context, id ID, cause error) error {
	return s.store.InTenantTx(ctx, func(tx Tx) error {
		cur, err := tx.ExportGetForUpdate(ctx, id)
		if err != nil {
			return err
		}
		if cur.Status == StatusCompleted {
			return nil
		}
		now := s.now()
		cur.Status, cur.CompletedAt, cur.ExpiresAt, cur.Error = StatusFailed, &now, nil, safeMessage(cause)
		if _, err := tx.ExportSave(ctx, cur); err != nil {
			return err
		}
		if cur.StorageKey != "" {
			return tx.ExportFileSave(ctx, File{ExportID: id, StorageKey: cur.StorageKey, ExpiresAt: now})
		}
		return nil
	})
}

// safeMessage is what a tenant's admins may read about a failure: the message of a
// coditect error meant for callers, never internals.
func safeMessage(err error) string {
	const generic = "The export could not be completed. Request a new export; if this keeps happening, contact support."
	var ce *coditect.Error
	if !errors.As(err, &ce) {
		return generic
	}
	switch coditect.ErrorKind(err) {
	case coditect.CodeInternal, coditect.CodeUnavailable, coditect.CodeNoTenant:
		return generic
	}
	if len(ce.Message) > 500 {
		return generic
	}
	return ce.Message
}

// PurgeExpired deletes the archives of every tenant whose expiry has passed, and marks
// their exports purged (an export still pending or running by then was abandoned: it
// is marked failed). Files of erased tenants go too. It is a system task (no tenant in
// ctx needed): each file is handled in a transaction scoped to its own tenant. It
// returns how many files it deleted.
func (s *Service) PurgeExpired(ctx context.Context) (int, error) {
	total := 0
	for {
		files, err := s.store.SystemExportFilesExpired(ctx, purgeBatch)
		if err != nil {
			return total, err
		}
		for _, f := range files {
			if err := s.purgeOne(ctx, f); err != nil {
				return total, err
			}
			total++
		}
		if len(files) < purgeBatch {
			return total, nil
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
	}
}

func (s *Service) purgeOne(ctx context.Context, f File) error {
	tctx := coditect.WithActor(ctx, coditect.SystemActor(f.Tenant))
	return s.store.InTenantTx(tctx, func(tx Tx) error {
		// The lock keeps a concurrent run of the same export from completing between
		// the file's deletion and the export's update.
		cur, err := tx.ExportGetForUpdate(tctx, f.ExportID)
		gone := coditect.IsNotFound(err) // the export (or its whole tenant) was erased
		if err != nil && !gone {
			return err
		}
		if ok, err := tx.ExportFileForget(tctx, f.ExportID); err != nil || !ok {
			return err // the expiry moved (a re-run started): keep the file
		}
		if err := s.files.Delete(tctx, f.StorageKey); err != nil {
			return err
		}
		if gone {
			return nil
		}
		now := s.now()
		cur.PurgedAt = &now
		if cur.Status == StatusPending || cur.Status == StatusRunning {
			cur.Status, cur.CompletedAt, cur.Error = StatusFailed, &now, "The export did not finish in time. Request a new export."
		}
		_, err = tx.ExportSave(tctx, cur)
		return err
	})
}
