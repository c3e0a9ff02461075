package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/postgres/postgrestest"
)

// exportOrg signs up an organization with one task through the API at base and
// returns the owner's token, the organization's slug and id, and the task's title.
type exportOrg struct {
	token, slug, orgID, accountID, taskTitle string
}

func exportSignup(t *testing.T, c api, email, orgName string) exportOrg {
	t.Helper()
	var signup struct {
		tokens
		Account      struct{ ID string }
		Organization struct{ ID, Slug string }
	}
	require.Equal(t, http.StatusCreated, c.call("POST", "/v1/signup", "", map[string]any{"email": email,
		"password": "correct horse battery staple", "name": "Owner of " + orgName, "organization_name": orgName}, &signup))
	o := exportOrg{token: signup.AccessToken, slug: signup.Organization.Slug, orgID: signup.Organization.ID,
		accountID: signup.Account.ID, taskTitle: "Ship " + orgName}
	org := "/v1/orgs/" + o.slug
	var ws, pr, tk struct{ ID string }
	require.Equal(t, http.StatusCreated, c.call("POST", org+"/workspaces", o.token, map[string]any{"name": "Engineering"}, &ws))
	require.Equal(t, http.StatusCreated, c.call("POST", org+"/projects", o.token, map[string]any{"workspace_id": ws.ID, "name": "API"}, &pr))
	require.Equal(t, http.StatusCreated, c.call("POST", org+"/projects/"+pr.ID+"/tasks", o.token, map[string]any{"title": o.taskTitle}, &tk))
	return o
}

type exportView struct {
	ID          string           `json:"id"`
	Status      string           `json:"status"`
	DownloadURL *string          `json:"download_url"`
	Counts      map[string]int64 `json:"counts"`
	Error       *string          `json:"error"`
}

// requestExport asks for an export of o's organization and waits (bounded) until the
// workers have completed it.
func requestExport(t *testing.T, c api, o exportOrg) exportView {
	t.Helper()
	org := "/v1/orgs/" + o.slug
	var e exportView
	require.Equal(t, http.StatusAccepted, c.call("POST", org+"/exports", o.token, nil, &e))
	require.Equal(t, "pending", e.Status)
	deadline := time.Now().Add(60 * time.Second)
	for e.Status != "completed" {
		require.True(t, time.Now().Before(deadline), "the export did not complete in time: %+v", e)
		require.NotEqual(t, "failed", e.Status, "%+v", e)
		time.Sleep(100 * time.Millisecond)
		require.Equal(t, http.StatusOK, c.call("GET", org+"/exports/"+e.ID, o.token, nil, &e))
	}
	require.NotNil(t, e.DownloadURL)
	return e
}

// tarEntries reads a .tar.gz into its files, by name.
func tarEntries(t *testing.T, r io.Reader) ([]string, map[string][]byte) {
	t.Helper()
	zr, err := gzip.NewReader(r)
	require.NoError(t, err)
	tr := tar.NewReader(zr)
	var names []string
	files := map[string][]byte{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names, files
		}
		require.NoError(t, err)
		b, err := io.ReadAll(tr)
		require.NoError(t, err)
		names = append(names, h.Name)
		files[h.Name] = b
	}
}

func download(t *testing.T, base, url, token string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", base+url, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, b
}

// TestExportEndToEnd: the API and the in-process workers produce an export an admin
// downloads; then `coditect tenant export` writes the same organization to a file and
// `coditect tenant import` loads it into a second, empty database.
func TestExportEndToEnd(t *testing.T) {
	t.Parallel()
	env := dbEnv(t)
	env["CODITECT_EXPORT_DIR"] = filepath.Join(t.TempDir(), "exports")
	_, env["SMTP_URL"] = startSMTP(t) // the workers send welcome emails; keep them out of ./.coditect/mail
	p := start(t, env, "serve", "--workers")
	c := api{t: t, base: p.url}
	acme := exportSignup(t, c, "ada@example.com", "Acme Rockets")
	other := exportSignup(t, c, "bo@example.com", "Other Corp")

	e := requestExport(t, c, acme)
	require.EqualValues(t, 1, e.Counts["tasks"])
	resp, body := download(t, p.url, *e.DownloadURL, acme.token)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	require.Equal(t, "application/gzip", resp.Header.Get("Content-Type"))
	require.Regexp(t, `^attachment; filename="coditect-export-.*\.tar\.gz"$`, resp.Header.Get("Content-Disposition"))
	names, files := tarEntries(t, bytes.NewReader(body))
	require.Equal(t, []string{"manifest.json", "organization.jsonl", "members.jsonl", "workspaces.jsonl", "projects.jsonl",
		"tasks.jsonl", "audit_logs.jsonl"}, names)
	var manifest struct {
		TenantID string `json:"tenant_id"`
		Files    []struct {
			Name string `json:"name"`
			Rows int64  `json:"rows"`
		} `json:"files"`
	}
	require.NoError(t, json.Unmarshal(files["manifest.json"], &manifest))
	require.Equal(t, acme.orgID, manifest.TenantID)
	require.Len(t, manifest.Files, 6)
	require.Contains(t, string(files["tasks.jsonl"]), acme.taskTitle)
	require.NotContains(t, string(files["tasks.jsonl"]), other.taskTitle)
	// The archive is kept in CODITECT_EXPORT_DIR, readable by the service's user only.
	var archives []string
	require.NoError(t, filepath.WalkDir(env["CODITECT_EXPORT_DIR"], func(path string, d os.DirEntry, err error) error {
		require.NoError(t, err)
		if !d.IsDir() {
			info, err := d.Info()
			require.NoError(t, err)
			require.Equal(t, os.FileMode(0o600), info.Mode().Perm(), path)
			archives = append(archives, path)
		}
		return nil
	}))
	require.Len(t, archives, 1)
	require.Contains(t, archives[0], acme.orgID)

	// Another organization's owner cannot reach it.
	resp, _ = download(t, p.url, "/v1/orgs/"+other.slug+"/exports/"+e.ID+"/download", other.token)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)

	// The operator's copy: tenant export by slug, then by id, never over a file.
	ctx := context.Background()
	getenv := func(k string) string { return env[k] }
	file := filepath.Join(t.TempDir(), "acme.tar.gz")
	out := &syncBuffer{}
	require.NoError(t, run(ctx, []string{"coditect", "tenant", "export", acme.slug, file}, getenv, out, out))
	require.Contains(t, out.String(), "tasks 1")
	info, err := os.Stat(file)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	before, err := os.ReadFile(file)
	require.NoError(t, err)
	require.ErrorContains(t, run(ctx, []string{"coditect", "tenant", "export", acme.orgID, file}, getenv, io.Discard, io.Discard), "already exists")
	after, err := os.ReadFile(file)
	require.NoError(t, err)
	require.Equal(t, before, after, "the existing file is left alone")
	byID := filepath.Join(t.TempDir(), "by-id.tar.gz")
	require.NoError(t, run(ctx, []string{"coditect", "tenant", "export", acme.orgID, byID}, getenv, io.Discard, io.Discard))
	missing := filepath.Join(t.TempDir(), "nobody.tar.gz")
	require.ErrorContains(t, run(ctx, []string{"coditect", "tenant", "export", "no-such-org", missing}, getenv, io.Discard, io.Discard), "no organization")
	_, err = os.Stat(missing)
	require.ErrorIs(t, err, os.ErrNotExist, "no file is left behind")

	// Import into a second, empty database.
	db2 := postgrestest.New(t)
	env2 := map[string]string{"DATABASE_URL": db2.AppURL, "CODITECT_LOG_LEVEL": "warn", "CODITECT_BASE_DOMAIN": "restored.example"}
	out = &syncBuffer{}
	require.NoError(t, run(ctx, []string{"coditect", "tenant", "import", file}, func(k string) string { return env2[k] }, out, io.Discard))
	var report struct {
		TenantID       string           `json:"tenant_id"`
		Slug           string           `json:"slug"`
		Domain         string           `json:"domain"`
		Rows           map[string]int64 `json:"rows"`
		SkippedMembers []string         `json:"skipped_members"`
	}
	require.NoError(t, json.Unmarshal([]byte(out.String()), &report), out.String())
	require.Equal(t, acme.orgID, report.TenantID)
	require.Equal(t, acme.slug, report.Slug)
	require.Equal(t, acme.slug+".restored.example", report.Domain)
	require.EqualValues(t, 1, report.Rows["tasks"])
	require.Equal(t, []string{acme.accountID}, report.SkippedMembers, "the owner's account is not in the new database")

	conn, err := pgx.Connect(ctx, db2.AdminURL)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var slug, title string
	require.NoError(t, conn.QueryRow(ctx, "SELECT slug FROM organizations WHERE id = $1", acme.orgID).Scan(&slug))
	require.Equal(t, acme.slug, slug)
	require.NoError(t, conn.QueryRow(ctx, "SELECT title FROM tasks WHERE tenant_id = $1", acme.orgID).Scan(&title))
	require.Equal(t, acme.taskTitle, title)
	var others int
	require.NoError(t, conn.QueryRow(ctx, "SELECT count(*) FROM organizations WHERE id <> $1", acme.orgID).Scan(&others))
	require.Zero(t, others, "only the exported organization")

	// A second import of the same organization is refused.
	err = run(ctx, []string{"coditect", "tenant", "import", byID}, func(k string) string { return env2[k] }, io.Discard, io.Discard)
	require.ErrorContains(t, err, "export.tenant_exists")
}

func TestTenantCommandArguments(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := func(string) string { return "" }
	for args, want := range map[string]string{
		"tenant":                  "want export ORG FILE or import FILE",
		"tenant export acme":      "want ORG",
		"tenant import":           "want FILE",
		"tenant import a b":       "want FILE",
		"tenant rename acme":      "unknown action",
		"tenant export acme f.gz": "DATABASE_URL",
	} {
		err := run(ctx, append([]string{"coditect"}, strings.Fields(args)...), env, io.Discard, io.Discard)
		require.ErrorContains(t, err, want, args)
	}
	out := &syncBuffer{}
	require.NoError(t, run(ctx, []string{"coditect", "help"}, env, out, out))
	require.Contains(t, out.String(), "coditect tenant export ORG FILE")
	require.Contains(t, out.String(), "coditect tenant import FILE")
}

var metricsOnRE = regexp.MustCompile(`metrics on (http://[0-9.:]+)/metrics`)

// TestSeparateWorkerRunsExports: `coditect serve` without workers takes the request,
// a separate `coditect worker` (sharing CODITECT_EXPORT_DIR) produces the export, and
// the worker answers /healthz and /metrics on CODITECT_ADDR.
func TestSeparateWorkerRunsExports(t *testing.T) {
	t.Parallel()
	env := dbEnv(t)
	env["CODITECT_EXPORT_DIR"] = filepath.Join(t.TempDir(), "exports")
	_, env["SMTP_URL"] = startSMTP(t) // the workers send welcome emails; keep them out of ./.coditect/mail
	api1 := start(t, env, "serve")

	workerEnv := map[string]string{}
	for k, v := range env {
		workerEnv[k] = v
	}
	workerEnv["CODITECT_ADDR"] = "127.0.0.1:0"
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"coditect", "worker"}, func(k string) string { return workerEnv[k] }, stdout, stderr)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(60 * time.Second):
			t.Error("the worker did not stop")
		}
	})
	var workerURL string
	require.Eventually(t, func() bool {
		if m := metricsOnRE.FindStringSubmatch(stdout.String()); m != nil {
			workerURL = m[1]
			return true
		}
		return false
	}, 60*time.Second, 20*time.Millisecond, "stdout: %s\nstderr: %s", stdout, stderr)

	status, body, _ := get(t, workerURL+"/healthz")
	require.Equal(t, http.StatusOK, status)
	require.JSONEq(t, `{"status":"ok"}`, body)

	c := api{t: t, base: api1.url}
	acme := exportSignup(t, c, "wen@example.com", "Worker Test")
	e := requestExport(t, c, acme)
	resp, archive := download(t, api1.url, *e.DownloadURL, acme.token)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	_, files := tarEntries(t, bytes.NewReader(archive))
	require.Contains(t, string(files["tasks.jsonl"]), acme.taskTitle)

	status, body, _ = get(t, workerURL+"/metrics")
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, "go_goroutines", "the process metrics")
	require.Contains(t, body, `kind="export.run"`, "the job metrics")
}
