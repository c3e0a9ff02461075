package httpapi

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/export"
	"github.com/coditect/coditect/internal/postgres"
	"github.com/coditect/coditect/internal/storage"
)

// exportTTL is how long the test's exports stay downloadable.
const exportTTL = 2 * time.Hour

// exportFixture is workFixture's organizations and people over a stack that also
// serves data exports, with the export service at hand to run the job.
type exportFixture struct {
	workFixture
	svc *export.Service
}

func exportSetup(t *testing.T) exportFixture {
	t.Helper()
	var svc *export.Service
	s := newStack(t, func(s *stack, deps *Deps, _ string) http.Handler {
		files, err := storage.NewDir(t.TempDir())
		require.NoError(t, err)
		t.Cleanup(func() { _ = files.Close() })
		svc = export.NewService(postgres.ExportStore{Store: s.store}, files,
			export.Config{TTL: exportTTL, TempDir: t.TempDir(), Now: s.clock.Now})
		deps.Exports = svc
		return nil
	})
	f := exportFixture{workFixture: workFixture{stack: s}, svc: svc}
	f.owner = s.signup(t, "ann@example.test", "Acme", "acme")
	f.other = s.signup(t, "bob@example.test", "Globex", "globex")
	f.admin = s.join(t, f.owner, "adm@example.test", coditect.RoleAdmin)
	f.member = s.join(t, f.owner, "mem@example.test", coditect.RoleMember)
	return f
}

// runExport does what the export job does: produce export id of p's organization.
func (f exportFixture) runExport(t *testing.T, p person, id string) {
	t.Helper()
	tenant := coditect.MustParseID[coditect.TenantID](p.orgID)
	eid, err := export.ParseID(id)
	require.NoError(t, err)
	require.NoError(t, f.svc.Run(coditect.WithActor(context.Background(), coditect.SystemActor(tenant)), eid))
}

// task creates a workspace, a project and a task titled title in p's organization.
func (f exportFixture) task(t *testing.T, p person, title string) string {
	t.Helper()
	ws, _ := f.create(t, p, p.slug, "/workspaces", map[string]any{"name": "WS " + title}, "Workspace")
	pr, _ := f.create(t, p, p.slug, "/projects", map[string]any{"workspace_id": ws["id"], "name": "P " + title}, "Project")
	tk, _ := f.create(t, p, p.slug, "/projects/"+pr["id"].(string)+"/tasks", map[string]any{"title": title}, "Task")
	return tk["id"].(string)
}

// archive is a downloaded export, read back.
type archive struct {
	names    []string          // tar entries in order
	files    map[string][]byte // by name
	manifest export.Manifest
}

func readArchive(t *testing.T, body []byte) archive {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(body))
	require.NoError(t, err)
	tr := tar.NewReader(zr)
	a := archive{files: map[string][]byte{}}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		b, err := io.ReadAll(tr)
		require.NoError(t, err)
		a.names = append(a.names, h.Name)
		a.files[h.Name] = b
	}
	require.NoError(t, json.Unmarshal(a.files[export.ManifestName], &a.manifest))
	return a
}

// jsonl decodes a JSON Lines file.
func jsonl(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var row map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &row), sc.Text())
		out = append(out, row)
	}
	require.NoError(t, sc.Err())
	return out
}

func TestExports(t *testing.T) {
	t.Parallel()
	f := exportSetup(t)
	s, adm := f.stack, f.admin
	ours := f.task(t, f.owner, "Acme launch plan")
	theirs := f.task(t, f.other, "Globex takeover")

	// Request: 202 with the pending export and where to follow it.
	res := s.do(t, "POST", "/v1/orgs/acme/exports", nil, bearer(adm.access))
	require.Equal(t, http.StatusAccepted, res.status, string(res.body))
	s.requireSchema(t, "Export", res.body)
	created := res.json(t)
	id := created["id"].(string)
	require.Equal(t, "pending", created["status"])
	require.Equal(t, adm.accountID, created["requested_by"])
	require.Nil(t, created["download_url"])
	require.Equal(t, "/v1/orgs/acme/exports/"+id, res.header.Get("Location"))
	require.Equal(t, 1, s.queryInt(t, "SELECT count(*) FROM river_job WHERE kind = 'export.run' AND args->>'export_id' = $1", id),
		"the job is enqueued with the export")

	got, _ := s.get(t, adm, "/v1/orgs/acme/exports/"+id, "Export")
	require.Equal(t, "pending", got["status"])
	s.do(t, "POST", "/v1/orgs/acme/exports", nil, bearer(adm.access)).problem(t, http.StatusConflict, "export.in_progress")
	s.do(t, "GET", "/v1/orgs/acme/exports/"+id+"/download", nil, bearer(adm.access)).problem(t, http.StatusConflict, "export.not_ready")

	// The job runs; the export is completed.
	f.runExport(t, f.owner, id)
	got, etag := s.get(t, adm, "/v1/orgs/acme/exports/"+id, "Export")
	require.Equal(t, "completed", got["status"])
	require.Equal(t, false, got["expired"])
	require.Equal(t, "/v1/orgs/acme/exports/"+id+"/download", got["download_url"])
	require.EqualValues(t, 1, got["counts"].(map[string]any)["tasks"])
	require.NotNil(t, got["expires_at"])
	_, byID := s.get(t, adm, "/v1/orgs/"+f.owner.orgID+"/exports/"+id, "Export")
	require.Equal(t, etag, byID)

	list := s.do(t, "GET", "/v1/orgs/acme/exports", nil, bearer(adm.access))
	require.Equal(t, http.StatusOK, list.status, string(list.body))
	s.requireSchema(t, "ExportPage", list.body)
	var pg page[map[string]any]
	require.NoError(t, json.Unmarshal(list.body, &pg))
	require.Len(t, pg.Data, 1)
	require.Equal(t, id, pg.Data[0]["id"])
	require.Nil(t, pg.NextCursor)

	// Download: the archive of acme's data and nothing of globex's.
	dl := s.do(t, "GET", "/v1/orgs/acme/exports/"+id+"/download", nil, bearer(adm.access))
	require.Equal(t, http.StatusOK, dl.status, string(dl.body))
	require.Equal(t, "application/gzip", dl.header.Get("Content-Type"))
	require.Equal(t, strconv.Itoa(len(dl.body)), dl.header.Get("Content-Length"))
	require.EqualValues(t, got["size_bytes"], len(dl.body))
	require.Regexp(t, `^attachment; filename="coditect-export-\d{8}-\d{6}-`+id[:8]+`\.tar\.gz"$`, dl.header.Get("Content-Disposition"))
	require.Equal(t, "no-store", dl.header.Get("Cache-Control"))
	a := readArchive(t, dl.body)
	require.Equal(t, append([]string{export.ManifestName}, export.DataFiles()...), a.names)
	var listed []string
	for _, fe := range a.manifest.Files {
		listed = append(listed, fe.Name)
		require.EqualValues(t, len(a.files[fe.Name]), fe.Bytes, fe.Name)
	}
	require.Equal(t, export.DataFiles(), listed, "the manifest lists every data file")
	require.Equal(t, f.owner.orgID, a.manifest.TenantID.String())
	tasks := jsonl(t, a.files[export.FileTasks])
	require.Len(t, tasks, 1)
	require.Equal(t, ours, tasks[0]["id"])
	require.Equal(t, "Acme launch plan", tasks[0]["title"])
	for _, name := range export.DataFiles() {
		for _, row := range jsonl(t, a.files[name]) {
			tenant := row["tenant_id"]
			if name == export.FileOrganization {
				tenant = row["id"]
			}
			require.Equal(t, f.owner.orgID, tenant, "%s: %v", name, row)
		}
	}
	require.NotContains(t, string(a.files[export.FileTasks]), theirs)
	require.NotContains(t, string(a.files[export.FileTasks]), "Globex")
	for _, b := range a.files {
		require.NotContains(t, string(b), f.other.orgID, "nothing of the other organization")
	}
	members := jsonl(t, a.files[export.FileMembers])
	require.Len(t, members, 3, "owner, admin and member")

	log := s.auditLog(t, f.owner, "acme", "")
	require.Equal(t, []string{"export.create", "export.download"}, actions(log, id))

	t.Run("admin or higher only", func(t *testing.T) {
		for _, c := range []struct{ method, path string }{
			{"POST", "/v1/orgs/acme/exports"},
			{"GET", "/v1/orgs/acme/exports"},
			{"GET", "/v1/orgs/acme/exports/" + id},
			{"GET", "/v1/orgs/acme/exports/" + id + "/download"},
		} {
			s.do(t, c.method, c.path, nil, bearer(f.member.access)).problem(t, http.StatusForbidden, "forbidden")
		}
		// The owner may.
		s.get(t, f.owner, "/v1/orgs/acme/exports/"+id, "Export")
	})

	t.Run("another organization's export is not found", func(t *testing.T) {
		bob := f.other
		s.do(t, "GET", "/v1/orgs/globex/exports/"+id, nil, bearer(bob.access)).problem(t, http.StatusNotFound, "not_found")
		s.do(t, "GET", "/v1/orgs/globex/exports/"+id+"/download", nil, bearer(bob.access)).problem(t, http.StatusNotFound, "not_found")
		s.do(t, "GET", "/v1/orgs/acme/exports/"+id, nil, bearer(bob.access)).problem(t, http.StatusNotFound, "not_found")
		s.do(t, "GET", "/v1/orgs/acme/exports/"+id+"/download", nil, bearer(bob.access)).problem(t, http.StatusNotFound, "not_found")
		res := s.do(t, "GET", "/v1/orgs/globex/exports", nil, bearer(bob.access))
		require.Equal(t, http.StatusOK, res.status)
		require.Empty(t, res.json(t)["data"])
	})

	t.Run("bad ids are not found", func(t *testing.T) {
		for _, bad := range []string{"not-a-uuid", "00000000-0000-0000-0000-000000000000", coditect.NewID[coditect.TaskID]().String()} {
			s.do(t, "GET", "/v1/orgs/acme/exports/"+bad, nil, bearer(adm.access)).problem(t, http.StatusNotFound, "not_found")
			s.do(t, "GET", "/v1/orgs/acme/exports/"+bad+"/download", nil, bearer(adm.access)).problem(t, http.StatusNotFound, "not_found")
		}
		s.do(t, "GET", "/v1/orgs/acme/exports?cursor=forged", nil, bearer(adm.access)).problem(t, http.StatusUnprocessableEntity, "invalid")
	})

	t.Run("idempotent request", func(t *testing.T) {
		// A retry with the same key replays the first answer and requests nothing more.
		key := withHeader("Idempotency-Key", "export-retry")
		first := s.do(t, "POST", "/v1/orgs/globex/exports", nil, bearer(f.other.access), key)
		require.Equal(t, http.StatusAccepted, first.status, string(first.body))
		again := s.do(t, "POST", "/v1/orgs/globex/exports", nil, bearer(f.other.access), key)
		require.Equal(t, http.StatusAccepted, again.status, string(again.body))
		require.Equal(t, "true", again.header.Get("Idempotent-Replayed"))
		require.Equal(t, first.json(t)["id"], again.json(t)["id"])
		require.Equal(t, first.header.Get("Location"), again.header.Get("Location"))
		require.Equal(t, 1, s.queryInt(t, "SELECT count(*) FROM exports WHERE tenant_id = $1", f.other.orgID), "one export made")
	})

	// Expiry: past expires_at the export says so and its download is 404 export.expired.
	f.clock.Advance(exportTTL + time.Minute)
	got, _ = s.get(t, adm, "/v1/orgs/acme/exports/"+id, "Export")
	require.Equal(t, true, got["expired"])
	require.Nil(t, got["download_url"])
	s.do(t, "GET", "/v1/orgs/acme/exports/"+id+"/download", nil, bearer(adm.access)).problem(t, http.StatusNotFound, "export.expired")
}

// TestExportListPages pages through exports newest first with a cursor.
func TestExportListPages(t *testing.T) {
	t.Parallel()
	f := exportSetup(t)
	s, adm := f.stack, f.admin
	var ids []string
	for range 3 {
		res := s.do(t, "POST", "/v1/orgs/acme/exports", nil, bearer(adm.access))
		require.Equal(t, http.StatusAccepted, res.status, string(res.body))
		id := res.json(t)["id"].(string)
		f.runExport(t, f.owner, id) // one at a time
		ids = append(ids, id)
	}
	var seen []string
	cursor := ""
	for pages := 0; ; pages++ {
		require.Less(t, pages, 5)
		res := s.do(t, "GET", "/v1/orgs/acme/exports?limit=2"+cursor, nil, bearer(adm.access))
		require.Equal(t, http.StatusOK, res.status, string(res.body))
		s.requireSchema(t, "ExportPage", res.body)
		var pg page[map[string]any]
		require.NoError(t, json.Unmarshal(res.body, &pg))
		for _, e := range pg.Data {
			seen = append(seen, e["id"].(string))
		}
		if pg.NextCursor == nil {
			break
		}
		cursor = "&cursor=" + url.QueryEscape(*pg.NextCursor)
	}
	require.Equal(t, []string{ids[2], ids[1], ids[0]}, seen, "newest first, each once")
}

func TestOpenAPIDescribesTheExportDownload(t *testing.T) {
	t.Parallel()
	var doc struct {
		Paths map[string]map[string]struct {
			Responses map[string]struct {
				Content map[string]struct {
					Schema map[string]any `json:"schema"`
				} `json:"content"`
				Headers map[string]any `json:"headers"`
			} `json:"responses"`
		} `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(servedOpenAPI(t), &doc))
	ok := doc.Paths["/v1/orgs/{org}/exports/{id}/download"]["get"].Responses["200"]
	require.Contains(t, ok.Content, "application/gzip")
	require.Equal(t, map[string]any{"type": "string", "format": "binary", "contentMediaType": "application/gzip"}, ok.Content["application/gzip"].Schema)
	for _, h := range []string{"Content-Length", "Content-Disposition", "Cache-Control"} {
		require.Contains(t, ok.Headers, h)
	}
	created := doc.Paths["/v1/orgs/{org}/exports"]["post"].Responses["202"]
	require.Equal(t, "#/components/schemas/Export", created.Content["application/json"].Schema["$ref"])
	require.Contains(t, created.Headers, "Location")
	for _, r := range []string{"401", "403", "404", "409"} {
		require.Contains(t, doc.Paths["/v1/orgs/{org}/exports/{id}/download"]["get"].Responses, r)
	}
}

// slowExports serves one archive whose reader pauses between chunks.
type slowExports struct {
	ExportService
	chunks [][]byte
	pause  time.Duration
}

func (s slowExports) Download(context.Context, export.ID) (io.ReadCloser, int64, string, error) {
	var n int64
	for _, c := range s.chunks {
		n += int64(len(c))
	}
	return io.NopCloser(&slowReader{chunks: s.chunks, pause: s.pause}), n, `odd "name"/x.tar.gz`, nil
}

type slowReader struct {
	chunks [][]byte
	pause  time.Duration
}

func (r *slowReader) Read(p []byte) (int, error) {
	if len(r.chunks) == 0 {
		return 0, io.EOF
	}
	time.Sleep(r.pause)
	n := copy(p, r.chunks[0])
	r.chunks[0] = r.chunks[0][n:]
	if len(r.chunks[0]) == 0 {
		r.chunks = r.chunks[1:]
	}
	return n, nil
}

// TestExportDownloadOutlivesTheWriteTimeout: a download slower than the server's
// WriteTimeout still arrives whole, because the handler lifts the write deadline.
func TestExportDownloadOutlivesTheWriteTimeout(t *testing.T) {
	t.Parallel()
	chunks := [][]byte{bytes.Repeat([]byte("a"), 64<<10), bytes.Repeat([]byte("b"), 64<<10), bytes.Repeat([]byte("c"), 64<<10)}
	want := bytes.Join(chunks, nil)
	mux := http.NewServeMux()
	mux.Handle("GET /exports/{id}/download", handleExportDownload(slowExports{chunks: chunks, pause: 150 * time.Millisecond}))
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.WriteTimeout = 100 * time.Millisecond
	srv.Start()
	t.Cleanup(srv.Close)

	res, err := srv.Client().Get(srv.URL + "/exports/" + coditect.NewID[coditect.TaskID]().String() + "/download")
	require.NoError(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err, "the connection was not cut at the write timeout")
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, want, body)
	require.Equal(t, strconv.Itoa(len(want)), res.Header.Get("Content-Length"))
	require.Equal(t, `attachment; filename="odd__name__x.tar.gz"`, res.Header.Get("Content-Disposition"), "the name cannot break out of its quotes")
}
