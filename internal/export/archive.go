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
	"fmt"
	"hash"
	"io"
	"os"
	"strings"
	"time"

	"github.com/coditect/coditect/internal/coditect"
)

// row is what every row type of the format offers the streaming code: the tenant it
// belongs to (checked on the way out and in) and its keyset key.
type row interface {
	rowTenant() coditect.TenantID
	rowKey() [16]byte
}

func (r OrganizationRow) rowTenant() coditect.TenantID { return r.ID }
func (r OrganizationRow) rowKey() [16]byte             { return r.ID }
func (r MemberRow) rowTenant() coditect.TenantID       { return r.TenantID }
func (r MemberRow) rowKey() [16]byte                   { return r.AccountID }
func (r WorkspaceRow) rowTenant() coditect.TenantID    { return r.TenantID }
func (r WorkspaceRow) rowKey() [16]byte                { return r.ID }
func (r ProjectRow) rowTenant() coditect.TenantID      { return r.TenantID }
func (r ProjectRow) rowKey() [16]byte                  { return r.ID }
func (r TaskRow) rowTenant() coditect.TenantID         { return r.TenantID }
func (r TaskRow) rowKey() [16]byte                     { return r.ID }
func (r AuditLogRow) rowTenant() coditect.TenantID     { return r.TenantID }
func (r AuditLogRow) rowKey() [16]byte                 { return r.ID }

// jsonlFile is one data file being written to a temporary file, hashed and counted
// as it goes.
type jsonlFile struct {
	name  string
	f     *os.File
	bw    *bufio.Writer
	h     hash.Hash
	bytes int64
	rows  int64
	enc   *json.Encoder
}

func newJSONL(dir, name string) (*jsonlFile, error) {
	f, err := os.CreateTemp(dir, strings.TrimSuffix(name, ".jsonl")+"-*.jsonl") // mode 0600
	if err != nil {
		return nil, err
	}
	j := &jsonlFile{name: name, f: f, h: sha256.New()}
	j.bw = bufio.NewWriterSize(f, 64<<10)
	j.enc = json.NewEncoder(&countingWriter{w: io.MultiWriter(j.bw, j.h), n: &j.bytes})
	j.enc.SetEscapeHTML(false)
	return j, nil
}

func (j *jsonlFile) write(v any) error {
	j.rows++
	return j.enc.Encode(v) // one line: Encode ends it with "\n"
}

// finish flushes the file and rewinds it for reading.
func (j *jsonlFile) finish() (FileEntry, error) {
	if err := j.bw.Flush(); err != nil {
		return FileEntry{}, err
	}
	if _, err := j.f.Seek(0, io.SeekStart); err != nil {
		return FileEntry{}, err
	}
	return FileEntry{Name: j.name, Rows: j.rows, Bytes: j.bytes, SHA256: hex.EncodeToString(j.h.Sum(nil))}, nil
}

func (j *jsonlFile) close() { _ = j.f.Close() }

type countingWriter struct {
	w io.Writer
	n *int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	*c.n += int64(n)
	return n, err
}

// pageThrough reads a table a keyset page at a time and writes each row to out,
// refusing any row that is not the tenant's.
func pageThrough[R row, K ~[16]byte](ctx context.Context, tenant coditect.TenantID, limit int,
	fetch func(context.Context, K, int) ([]R, error), out *jsonlFile) error {
	var after K
	for {
		rows, err := fetch(ctx, after, limit)
		if err != nil {
			return fmt.Errorf("read %s: %w", out.name, err)
		}
		for _, r := range rows {
			if r.rowTenant() != tenant {
				return &coditect.Error{Code: coditect.CodeInternal, Message: "a row of another tenant reached the export"}
			}
			if err := out.write(r); err != nil {
				return fmt.Errorf("write %s: %w", out.name, err)
			}
		}
		if len(rows) < limit {
			return nil
		}
		after = K(rows[len(rows)-1].rowKey())
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// dump writes every data file of the tenant from one snapshot into dir.
func dump(ctx context.Context, snap Snapshot, tenant coditect.TenantID, dir string, limit int, files *[]*jsonlFile) error {
	open := func(name string) (*jsonlFile, error) {
		j, err := newJSONL(dir, name)
		if err == nil {
			*files = append(*files, j)
		}
		return j, err
	}
	org, err := open(FileOrganization)
	if err != nil {
		return err
	}
	o, err := snap.Organization(ctx)
	if err != nil {
		return fmt.Errorf("read organization: %w", err)
	}
	if o.ID != tenant {
		return &coditect.Error{Code: coditect.CodeInternal, Message: "the organization read is not the export's tenant"}
	}
	if err := org.write(o); err != nil {
		return err
	}
	steps := []struct {
		name string
		run  func(*jsonlFile) error
	}{
		{FileMembers, func(j *jsonlFile) error { return pageThrough(ctx, tenant, limit, snap.Members, j) }},
		{FileWorkspaces, func(j *jsonlFile) error { return pageThrough(ctx, tenant, limit, snap.Workspaces, j) }},
		{FileProjects, func(j *jsonlFile) error { return pageThrough(ctx, tenant, limit, snap.Projects, j) }},
		{FileTasks, func(j *jsonlFile) error { return pageThrough(ctx, tenant, limit, snap.Tasks, j) }},
		{FileAuditLogs, func(j *jsonlFile) error { return pageThrough(ctx, tenant, limit, snap.AuditLogs, j) }},
	}
	for _, st := range steps {
		j, err := open(st.name)
		if err != nil {
			return err
		}
		if err := st.run(j); err != nil {
			return err
		}
	}
	return nil
}

// writeArchive produces the archive of export e and stores it under key, returning its
// size and the row counts. The object appears only once complete.
func (s *Service) writeArchive(ctx context.Context, tenant coditect.TenantID, e Export, key string) (int64, map[string]int64, error) {
	var w io.WriteCloser
	var size int64
	m, err := s.buildArchive(ctx, tenant, e.ID, e.CreatedAt, func() (io.Writer, error) {
		var err error
		if w, err = s.files.Create(ctx, key); err != nil {
			return nil, fmt.Errorf("export: store archive: %w", err)
		}
		return &countingWriter{w: w, n: &size}, nil
	})
	if err != nil {
		if w != nil {
			abort(w)
		}
		return 0, nil, err
	}
	if err := w.Close(); err != nil {
		return 0, nil, fmt.Errorf("export: store archive: %w", err)
	}
	counts := map[string]int64{}
	for _, fe := range m.Files {
		counts[strings.TrimSuffix(fe.Name, ".jsonl")] = fe.Rows
	}
	return size, counts, nil
}

// ExportTo writes an archive of the context's tenant to w right away, without an
// export record, a job or the Files store: for `coditect tenant export ORG FILE`, run
// by an operator as the tenant's system actor (admin or higher is required). The
// archive is the same format Run produces, under a fresh export id, and Import reads
// it. It returns the archive's manifest.
func (s *Service) ExportTo(ctx context.Context, w io.Writer) (Manifest, error) {
	if err := authorize(ctx); err != nil {
		return Manifest{}, err
	}
	tenant, err := coditect.TenantFrom(ctx)
	if err != nil {
		return Manifest{}, err
	}
	return s.buildArchive(ctx, tenant, NewID(), s.now(), func() (io.Writer, error) { return w, nil })
}

// buildArchive reads every data file of the tenant from one snapshot into temporary
// files first (tar needs each file's size up front), then streams manifest and files
// through tar and gzip into the writer open returns (called only once the data has
// been read, so a failed read never starts a write).
func (s *Service) buildArchive(ctx context.Context, tenant coditect.TenantID, id ID, created time.Time,
	open func() (io.Writer, error)) (Manifest, error) {
	dir, err := os.MkdirTemp(s.cfg.TempDir, "coditect-export-") // mode 0700
	if err != nil {
		return Manifest{}, fmt.Errorf("export: temporary directory: %w", err)
	}
	defer os.RemoveAll(dir)
	var files []*jsonlFile
	defer func() {
		for _, j := range files {
			j.close()
		}
	}()
	err = s.store.ExportSnapshot(ctx, func(snap Snapshot) error {
		return dump(ctx, snap, tenant, dir, s.cfg.PageSize, &files)
	})
	if err != nil {
		return Manifest{}, err
	}

	m := Manifest{Format: FormatName, FormatVersion: FormatVersion, TenantID: tenant, ExportID: id, CreatedAt: created.UTC()}
	for _, j := range files {
		fe, err := j.finish()
		if err != nil {
			return Manifest{}, err
		}
		m.Files = append(m.Files, fe)
	}
	manifest, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return Manifest{}, err
	}
	manifest = append(manifest, '\n')

	w, err := open()
	if err != nil {
		return Manifest{}, err
	}
	if err := writeTarGz(w, created, manifest, files); err != nil {
		return Manifest{}, fmt.Errorf("export: write archive: %w", err)
	}
	return m, nil
}

// writeTarGz writes manifest.json and the files as a gzip-compressed tar with fixed
// entry metadata, so the same data always gives the same bytes.
func writeTarGz(w io.Writer, created time.Time, manifest []byte, files []*jsonlFile) error {
	gz, err := gzip.NewWriterLevel(w, gzip.DefaultCompression)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(gz)
	mod := created.UTC().Truncate(time.Second)
	add := func(name string, size int64, r io.Reader) error {
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o600, Size: size, ModTime: mod}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		n, err := io.Copy(tw, r)
		if err == nil && n != size {
			err = fmt.Errorf("%s: wrote %d of %d bytes", name, n, size)
		}
		return err
	}
	if err := add(ManifestName, int64(len(manifest)), bytes.NewReader(manifest)); err != nil {
		return err
	}
	for _, j := range files {
		if err := add(j.name, j.bytes, io.LimitReader(j.f, j.bytes)); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

// abort discards a store writer after a failure (see Files). A writer without Abort can
// only be closed, which may publish a partial object; it is never downloadable (the
// export is not completed) and the purge deletes it.
func abort(w io.WriteCloser) {
	if a, ok := w.(interface{ Abort() error }); ok {
		_ = a.Abort()
		return
	}
	_ = w.Close()
}
