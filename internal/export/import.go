package export

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/coditect/coditect/internal/coditect"
)

// maxManifestBytes bounds manifest.json; a real one is well under a kilobyte.
const maxManifestBytes = 1 << 20

// ImportOptions tunes Import.
type ImportOptions struct {
	// BaseDomain names the organization's domain, {slug}.{BaseDomain}, as sign-up
	// does (CODITECT_BASE_DOMAIN of the target installation). Required.
	BaseDomain string
	// TempDir holds the verified data files while they are loaded; os.TempDir() when
	// empty. It needs room for one uncompressed copy of the tenant.
	TempDir string
	// BatchSize is the rows per transaction; DefaultPageSize when zero.
	BatchSize int
}

// Report says what Import did.
type Report struct {
	TenantID coditect.TenantID `json:"tenant_id"`
	Slug     string            `json:"slug"`
	Domain   string            `json:"domain"`
	ExportID ID                `json:"export_id"`
	// Rows is the number of rows imported per data file (name without ".jsonl").
	Rows map[string]int64 `json:"rows"`
	// SkippedMembers are memberships not imported because their account does not exist
	// in this database (accounts are global identities, not part of an export).
	SkippedMembers []coditect.AccountID `json:"skipped_members"`
	// UnassignedTasks counts tasks imported without their assignee, because the
	// assignee was a skipped member.
	UnassignedTasks int64 `json:"unassigned_tasks"`
}

func badArchive(format string, args ...any) error {
	return &coditect.Error{Code: CodeBadArchive, Kind: coditect.CodeInvalid, Message: "not a valid CODITECT export: " + fmt.Sprintf(format, args...)}
}

// Import loads an export archive (as produced by Run and downloaded) into the database
// behind store, as the same tenant (same organization id, slug, and row ids and
// times), for `coditect tenant import FILE`.
//
// It first reads the whole archive into temporary files, verifying the manifest's
// format, the set of files, and each file's size, SHA-256 and row count; nothing is
// written to the database unless all of it is intact. Then it creates the organization
// (claiming its slug and {slug}.{BaseDomain}), refusing with CodeTenantExists if the
// organization id, slug or domain is already there, and loads members, workspaces,
// projects, tasks and audit rows in that order, BatchSize rows per tenant-scoped
// transaction (memory stays flat: one batch at a time).
//
// Accounts are global and not part of an export, so a membership is imported only
// when its account (same id) exists in this database; the others are skipped and
// listed in the Report (no placeholder accounts are invented: an account without a
// real email and password would be unusable and would claim an address). Tasks
// assigned to a skipped member are imported unassigned and counted. Audit rows keep
// their actor ids as they were.
//
// No audit row is written for the import itself (the tenant's audit log is restored
// exactly as exported); the operator's command is the record. If loading fails
// half-way, the organization exists with part of its data: delete it (or the whole
// database) before importing again, since a second import is refused.
func Import(ctx context.Context, store Store, r io.Reader, opts ImportOptions) (Report, error) {
	if strings.TrimSpace(opts.BaseDomain) == "" {
		return Report{}, coditect.Errorf(coditect.CodeInvalid, "import needs the base domain of this installation")
	}
	if opts.TempDir == "" {
		opts.TempDir = os.TempDir()
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = DefaultPageSize
	}
	dir, err := os.MkdirTemp(opts.TempDir, "coditect-import-") // mode 0700
	if err != nil {
		return Report{}, fmt.Errorf("import: temporary directory: %w", err)
	}
	defer os.RemoveAll(dir)

	m, err := readArchive(r, dir)
	if err != nil {
		return Report{}, err
	}
	tenant := m.TenantID
	rep := Report{TenantID: tenant, ExportID: m.ExportID, Rows: map[string]int64{}, SkippedMembers: []coditect.AccountID{}}
	tctx := coditect.WithActor(ctx, coditect.SystemActor(tenant))
	im := importer{ctx: tctx, store: store, dir: dir, tenant: tenant, batch: opts.BatchSize, manifest: m, rep: &rep}

	// The organization, alone and first.
	var org OrganizationRow
	if err := readBatches(im, FileOrganization, func(rows []OrganizationRow) error {
		if len(rows) != 1 || org.ID != (coditect.TenantID{}) {
			return badArchive("%s must hold exactly one row", FileOrganization)
		}
		org = rows[0]
		return nil
	}); err != nil {
		return rep, err
	}
	if org.ID != tenant {
		return rep, badArchive("the organization is not the manifest's tenant")
	}
	rep.Slug, rep.Domain = org.Slug, org.Slug+"."+strings.ToLower(strings.TrimSpace(opts.BaseDomain))
	if err := store.InTenantTx(tctx, func(tx Tx) error { return tx.ImportOrganization(tctx, org, rep.Domain) }); err != nil {
		return rep, err
	}
	rep.Rows["organization"] = 1

	skipped := map[coditect.AccountID]bool{}
	err = readBatches(im, FileMembers, func(rows []MemberRow) error {
		ids := make([]coditect.AccountID, len(rows))
		for i, r := range rows {
			ids[i] = r.AccountID
		}
		existing, err := store.AccountsExisting(ctx, ids)
		if err != nil {
			return err
		}
		have := make(map[coditect.AccountID]bool, len(existing))
		for _, id := range existing {
			have[id] = true
		}
		keep := rows[:0]
		for _, r := range rows {
			if have[r.AccountID] {
				keep = append(keep, r)
				continue
			}
			skipped[r.AccountID] = true
			rep.SkippedMembers = append(rep.SkippedMembers, r.AccountID)
		}
		return im.write(FileMembers, len(keep), func(tx Tx) error { return tx.ImportMembers(tctx, keep) })
	})
	if err != nil {
		return rep, err
	}
	if err := readBatches(im, FileWorkspaces, func(rows []WorkspaceRow) error {
		return im.write(FileWorkspaces, len(rows), func(tx Tx) error { return tx.ImportWorkspaces(tctx, rows) })
	}); err != nil {
		return rep, err
	}
	if err := readBatches(im, FileProjects, func(rows []ProjectRow) error {
		return im.write(FileProjects, len(rows), func(tx Tx) error { return tx.ImportProjects(tctx, rows) })
	}); err != nil {
		return rep, err
	}
	if err := readBatches(im, FileTasks, func(rows []TaskRow) error {
		for i := range rows {
			if a := rows[i].AssigneeID; a != nil && skipped[*a] {
				rows[i].AssigneeID = nil
				rep.UnassignedTasks++
			}
		}
		return im.write(FileTasks, len(rows), func(tx Tx) error { return tx.ImportTasks(tctx, rows) })
	}); err != nil {
		return rep, err
	}
	if err := readBatches(im, FileAuditLogs, func(rows []AuditLogRow) error {
		for _, r := range rows {
			if r.ActorID != nil {
				if _, err := coditect.ParseID[coditect.AccountID](*r.ActorID); err != nil {
					return badArchive("%s: actor_id %q is not a UUID", FileAuditLogs, *r.ActorID)
				}
			}
		}
		return im.write(FileAuditLogs, len(rows), func(tx Tx) error { return tx.ImportAuditLogs(tctx, rows) })
	}); err != nil {
		return rep, err
	}
	return rep, nil
}

// importer carries what loading the files needs.
type importer struct {
	ctx      context.Context // scoped to the tenant
	store    Store
	dir      string
	tenant   coditect.TenantID
	batch    int
	manifest Manifest
	rep      *Report
}

// write runs one batch's transaction and counts its rows.
func (im importer) write(file string, n int, fn func(Tx) error) error {
	if n == 0 {
		return nil
	}
	if err := im.store.InTenantTx(im.ctx, fn); err != nil {
		return fmt.Errorf("import %s: %w", file, err)
	}
	im.rep.Rows[strings.TrimSuffix(file, ".jsonl")] += int64(n)
	return nil
}

// readBatches decodes a verified data file in batches of im.batch rows, checking that
// every row belongs to the tenant and has a key, and that the file holds exactly the
// rows the manifest says.
func readBatches[R row](im importer, file string, fn func([]R) error) error {
	f, err := os.Open(filepath.Join(im.dir, file))
	if err != nil {
		return err
	}
	defer f.Close()
	dec := json.NewDecoder(bufio.NewReaderSize(f, 64<<10))
	dec.DisallowUnknownFields()
	buf := make([]R, 0, im.batch)
	var n int64
	for {
		var r R
		if err := dec.Decode(&r); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return badArchive("%s, row %d: %v", file, n+1, err)
		}
		n++
		if r.rowTenant() != im.tenant {
			return badArchive("%s, row %d: belongs to another tenant", file, n)
		}
		if r.rowKey() == ([16]byte{}) {
			return badArchive("%s, row %d: has no id", file, n)
		}
		buf = append(buf, r)
		if len(buf) == im.batch {
			if err := fn(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
		if err := im.ctx.Err(); err != nil {
			return err
		}
	}
	if len(buf) > 0 {
		if err := fn(buf); err != nil {
			return err
		}
	}
	for _, fe := range im.manifest.Files {
		if fe.Name == file && fe.Rows != n {
			return badArchive("%s holds %d rows, the manifest says %d", file, n, fe.Rows)
		}
	}
	return nil
}

// readArchive reads the archive into dir, one file per data file, verifying it
// completely (manifest, set of files, sizes, checksums, row counts, gzip CRC) before
// returning its manifest.
func readArchive(r io.Reader, dir string) (Manifest, error) {
	gz, err := gzip.NewReader(bufio.NewReaderSize(r, 64<<10))
	if err != nil {
		return Manifest{}, badArchive("not gzip-compressed (%v)", err)
	}
	defer gz.Close()
	tr := tar.NewReader(gz)

	hdr, err := tr.Next()
	if err != nil {
		return Manifest{}, badArchive("not a tar archive (%v)", err)
	}
	if hdr.Name != ManifestName || hdr.Typeflag != tar.TypeReg {
		return Manifest{}, badArchive("the first entry must be %s, found %q", ManifestName, hdr.Name)
	}
	if hdr.Size > maxManifestBytes {
		return Manifest{}, badArchive("%s is too large", ManifestName)
	}
	raw, err := io.ReadAll(io.LimitReader(tr, maxManifestBytes))
	if err != nil {
		return Manifest{}, badArchive("%s: %v", ManifestName, err)
	}
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&m); err != nil {
		return Manifest{}, badArchive("%s: %v", ManifestName, err)
	}
	if err := checkManifest(m); err != nil {
		return Manifest{}, err
	}
	expected := map[string]FileEntry{}
	for _, fe := range m.Files {
		expected[fe.Name] = fe
	}

	seen := map[string]bool{}
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return Manifest{}, badArchive("reading the archive: %v", err)
		}
		fe, ok := expected[hdr.Name]
		switch {
		case !ok:
			return Manifest{}, badArchive("unexpected entry %q", hdr.Name)
		case seen[hdr.Name]:
			return Manifest{}, badArchive("entry %q appears twice", hdr.Name)
		case hdr.Typeflag != tar.TypeReg:
			return Manifest{}, badArchive("entry %q is not a regular file", hdr.Name)
		case hdr.Size != fe.Bytes:
			return Manifest{}, badArchive("%s is %d bytes, the manifest says %d", hdr.Name, hdr.Size, fe.Bytes)
		}
		seen[hdr.Name] = true
		if err := copyVerified(tr, filepath.Join(dir, fe.Name), fe); err != nil {
			return Manifest{}, err
		}
	}
	for name := range expected {
		if !seen[name] {
			return Manifest{}, badArchive("%s is missing", name)
		}
	}
	// Reading to the end of the gzip stream checks its CRC and length too.
	if _, err := io.Copy(io.Discard, gz); err != nil {
		return Manifest{}, badArchive("corrupt compressed data (%v)", err)
	}
	return m, nil
}

func checkManifest(m Manifest) error {
	if m.Format != FormatName {
		return badArchive("format %q, want %q", m.Format, FormatName)
	}
	if m.FormatVersion != FormatVersion {
		return badArchive("format version %d; this version of CODITECT reads version %d", m.FormatVersion, FormatVersion)
	}
	if m.TenantID.IsZero() {
		return badArchive("the manifest names no tenant")
	}
	want := map[string]bool{}
	for _, name := range DataFiles() {
		want[name] = true
	}
	for _, fe := range m.Files {
		if !want[fe.Name] {
			return badArchive("the manifest lists %q, which is not a data file (or lists it twice)", fe.Name)
		}
		delete(want, fe.Name)
		if len(fe.SHA256) != sha256.Size*2 || fe.Bytes < 0 || fe.Rows < 0 {
			return badArchive("the manifest's entry for %s is malformed", fe.Name)
		}
	}
	for name := range want {
		return badArchive("the manifest does not list %s", name)
	}
	return nil
}

// copyVerified copies one data file to path and checks its checksum, row count and
// that every row ends its line.
func copyVerified(r io.Reader, path string, fe FileEntry) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 64<<10)
	h := sha256.New()
	lc := &lineCounter{}
	if _, err := io.Copy(io.MultiWriter(bw, h, lc), r); err != nil {
		return badArchive("reading %s: %v", fe.Name, err)
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != strings.ToLower(fe.SHA256) {
		return badArchive("%s does not match its checksum", fe.Name)
	}
	if lc.lines != fe.Rows || (lc.n > 0 && lc.last != '\n') {
		return badArchive("%s holds %d lines, the manifest says %d rows", fe.Name, lc.lines, fe.Rows)
	}
	return f.Close()
}

type lineCounter struct {
	lines, n int64
	last     byte
}

func (c *lineCounter) Write(p []byte) (int, error) {
	c.lines += int64(bytes.Count(p, []byte{'\n'}))
	if len(p) > 0 {
		c.n += int64(len(p))
		c.last = p[len(p)-1]
	}
	return len(p), nil
}
