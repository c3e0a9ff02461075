package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/pgserver"
	"github.com/coditect/coditect/internal/postgres/postgrestest"
)

// syncBuffer collects output written by run() on another goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testSecret is a CODITECT_SECRET_KEY for tests.
const testSecret = "test-secret-0123456789abcdef0123456789"

var listeningRE = regexp.MustCompile(`listening on (http://[0-9.:]+)`)

// process is one run() of the binary inside the test.
type process struct {
	url    string
	stdout *syncBuffer
	stderr *syncBuffer
	stop   context.CancelFunc
	done   chan error
}

// start runs the binary's run() with args and env on port 0 and waits until it
// listens. It is stopped (like SIGTERM) when the test ends, if the test did not.
func start(t *testing.T, env map[string]string, args ...string) *process {
	t.Helper()
	if _, ok := env["CODITECT_ADDR"]; !ok {
		env["CODITECT_ADDR"] = "127.0.0.1:0"
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &process{stdout: &syncBuffer{}, stderr: &syncBuffer{}, stop: cancel, done: make(chan error, 1)}
	go func() {
		p.done <- run(ctx, append([]string{"coditect"}, args...), func(k string) string { return env[k] }, p.stdout, p.stderr)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-p.done:
		case <-time.After(60 * time.Second):
			t.Error("run() did not return after cancel")
		}
	})
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		if m := listeningRE.FindStringSubmatch(p.stdout.String()); m != nil {
			p.url = m[1]
			return p
		}
		select {
		case err := <-p.done:
			t.Fatalf("run() returned before listening: %v\nstdout:\n%s\nstderr:\n%s", err, p.stdout, p.stderr)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("run() never listened\nstdout:\n%s\nstderr:\n%s", p.stdout, p.stderr)
	return nil
}

func get(t *testing.T, url string) (int, string, http.Header) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body), resp.Header
}

func dbEnv(t *testing.T) map[string]string {
	t.Helper()
	db := postgrestest.New(t)
	return map[string]string{"DATABASE_URL": db.AppURL, "DATABASE_OWNER_URL": db.OwnerURL, "CODITECT_LOG_LEVEL": "warn", "CODITECT_SECRET_KEY": testSecret}
}

func TestServeEndToEnd(t *testing.T) {
	t.Parallel()
	env := dbEnv(t)
	env["REDIS_URL"] = os.Getenv("CODITECT_TEST_REDIS_URL")
	p := start(t, env, "serve")

	status, body, hdr := get(t, p.url+"/healthz")
	require.Equal(t, http.StatusOK, status)
	require.JSONEq(t, `{"status":"ok"}`, body)
	require.NotEmpty(t, hdr.Get("X-Request-ID"))

	status, body, _ = get(t, p.url+"/readyz")
	require.Equal(t, http.StatusOK, status, body)
	var ready struct {
		Status string                       `json:"status"`
		Checks map[string]map[string]string `json:"checks"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &ready))
	require.Equal(t, "ok", ready.Status)
	require.Equal(t, "up", ready.Checks["postgres"]["status"])
	require.Equal(t, "up", ready.Checks["redis"]["status"])

	status, body, hdr = get(t, p.url+"/v1/nope")
	require.Equal(t, http.StatusNotFound, status)
	require.Equal(t, "application/problem+json", hdr.Get("Content-Type"))
	require.Contains(t, body, `"code":"not_found"`)

	// The web app (before `make web`, its placeholder page) answers other GETs.
	status, body, hdr = get(t, p.url+"/o/acme/projects/1")
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, "<html")
	require.Equal(t, "no-cache", hdr.Get("Cache-Control"))
	require.Contains(t, hdr.Get("Content-Security-Policy"), "default-src 'self'")

	status, body, _ = get(t, p.url+"/v1/openapi.json")
	require.Equal(t, http.StatusOK, status)
	var doc struct {
		OpenAPI string         `json:"openapi"`
		Paths   map[string]any `json:"paths"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &doc))
	require.Equal(t, "3.1.0", doc.OpenAPI)
	require.Contains(t, doc.Paths, "/readyz")

	status, body, _ = get(t, p.url+"/metrics")
	require.Equal(t, http.StatusOK, status)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(body))
	require.NoError(t, err)
	for _, name := range []string{"coditect_http_requests_total", "coditect_http_request_duration_seconds", "coditect_db_pool_total_conns",
		"coditect_db_pool_acquired_conns", "go_goroutines", "process_resident_memory_bytes"} {
		require.Contains(t, families, name)
	}
	var routes []string
	for _, m := range families["coditect_http_requests_total"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "route" {
				routes = append(routes, l.GetValue())
			}
		}
	}
	require.Contains(t, routes, "GET /healthz", "labelled by route pattern")
	require.Contains(t, routes, "unmatched", "never by raw path")
}

func TestReadyzFollowsPostgres(t *testing.T) {
	t.Parallel()
	// A private PostgreSQL this test may stop and start.
	ctx := context.Background()
	pg, err := pgserver.Start(ctx, pgserver.Options{DataDir: filepath.Join(shortTempDir(t), "pg"), BinDir: os.Getenv("CODITECT_TEST_PG_BINDIR")})
	require.NoError(t, err)
	t.Cleanup(func() { _ = pg.Stop(context.Background()) })
	require.NoError(t, devDatabaseSetup(ctx, pg.SuperuserURL("postgres")))
	env := map[string]string{"DATABASE_URL": pg.URLFor(devAppRole, devDatabase), "DATABASE_OWNER_URL": pg.URLFor(devOwnerRole, devDatabase),
		"CODITECT_LOG_LEVEL": "error", "CODITECT_SECRET_KEY": testSecret}
	out := &syncBuffer{}
	require.NoError(t, run(ctx, []string{"coditect", "migrate", "up"}, func(k string) string { return env[k] }, out, out))
	p := start(t, env, "serve")

	status, _, _ := get(t, p.url+"/readyz")
	require.Equal(t, http.StatusOK, status)

	require.NoError(t, pg.Stop(ctx))
	status, body, _ := get(t, p.url+"/readyz")
	require.Equal(t, http.StatusServiceUnavailable, status, body)
	require.Contains(t, body, `"status":"unavailable"`)
	status, _, _ = get(t, p.url+"/healthz")
	require.Equal(t, http.StatusOK, status, "alive even when the database is not")

	pg, err = pgserver.Start(ctx, pgserver.Options{DataDir: pg.DataDir(), BinDir: os.Getenv("CODITECT_TEST_PG_BINDIR")})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		status, _, _ := get(t, p.url+"/readyz")
		return status == http.StatusOK
	}, 30*time.Second, 100*time.Millisecond, "ready again once PostgreSQL is back, without a restart")
}

// shortTempDir is a temp dir with a short path (unix socket paths are limited) that
// an unprivileged PostgreSQL user can traverse.
func shortTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("/tmp", "cdt")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(dir, 0o755))
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// stallingRedis accepts connections and never answers: a Redis that hangs. It reports
// each accepted connection on the returned channel.
func stallingRedis(t *testing.T) (string, <-chan struct{}) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	accepted := make(chan struct{}, 100)
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go io.Copy(io.Discard, c) //nolint:errcheck
			select {
			case accepted <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return "redis://" + ln.Addr().String() + "/0", accepted
}

func TestGracefulShutdownFinishesInFlightRequests(t *testing.T) {
	t.Parallel()
	env := dbEnv(t)
	redisURL, accepted := stallingRedis(t)
	env["REDIS_URL"] = redisURL
	p := start(t, env, "serve")

	// /readyz waits on the hanging Redis: once Redis has a connection, the request is
	// certainly in flight. Then the process is told to stop.
	type result struct {
		status int
		body   string
		err    error
	}
	res := make(chan result, 1)
	go func() {
		resp, err := http.Get(p.url + "/readyz")
		if err != nil {
			res <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		res <- result{resp.StatusCode, string(b), err}
	}()
	select {
	case <-accepted:
	case <-time.After(10 * time.Second):
		t.Fatal("readyz never reached Redis")
	}
	p.stop()

	r := <-res
	require.NoError(t, r.err, "the in-flight request was answered, not cut off")
	require.Equal(t, http.StatusOK, r.status, "Redis down is degraded, not unavailable")
	require.Contains(t, r.body, `"status":"degraded"`)
	select {
	case err := <-p.done:
		require.NoError(t, err)
		p.done <- err // for the cleanup
	case <-time.After(30 * time.Second):
		t.Fatal("run() did not return after shutdown")
	}
	_, err := http.Get(p.url + "/healthz")
	require.Error(t, err, "no longer accepting connections")
}

func TestMigrateCommand(t *testing.T) {
	t.Parallel()
	env := dbEnv(t)
	getenv := func(k string) string { return env[k] }
	ctx := context.Background()
	out := &syncBuffer{}
	require.NoError(t, run(ctx, []string{"coditect", "migrate", "status"}, getenv, out, out))
	require.Regexp(t, `0001_core\s+applied`, out.String())
	require.Contains(t, out.String(), "river schema: version")

	out = &syncBuffer{}
	require.NoError(t, run(ctx, []string{"coditect", "migrate", "down", "--all"}, getenv, out, out))
	require.Contains(t, out.String(), "reverted 0001_core")
	out = &syncBuffer{}
	require.NoError(t, run(ctx, []string{"coditect", "migrate", "status"}, getenv, out, out))
	require.Regexp(t, `0001_core\s+pending`, out.String())
	require.NoError(t, run(ctx, []string{"coditect", "migrate", "up"}, getenv, out, out))

	require.ErrorContains(t, run(ctx, []string{"coditect", "migrate", "sideways"}, getenv, out, out), "unknown action")
	require.ErrorContains(t, run(ctx, []string{"coditect", "migrate", "down", "-3"}, getenv, out, out), "number of steps")
}

func TestBadConfigurationStopsStartUpNamingTheVariable(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{}, "DATABASE_URL"},
		{map[string]string{"DATABASE_URL": "postgres://x@127.0.0.1:1/db", "CODITECT_ADDR": "nope"}, "CODITECT_ADDR"},
		{map[string]string{"DATABASE_URL": "postgres://x@127.0.0.1:1/db", "REDIS_URL": "http://x"}, "REDIS_URL"},
	} {
		err := run(context.Background(), []string{"coditect", "serve"}, func(k string) string { return tc.env[k] }, io.Discard, io.Discard)
		require.ErrorContains(t, err, tc.want)
	}
}

func TestServeRefusesARoleThatBypassesRLS(t *testing.T) {
	t.Parallel()
	db := postgrestest.New(t)
	env := map[string]string{"DATABASE_URL": db.AdminURL, "CODITECT_ADDR": "127.0.0.1:0", "CODITECT_SECRET_KEY": testSecret}
	err := run(context.Background(), []string{"coditect", "serve"}, func(k string) string { return env[k] }, io.Discard, io.Discard)
	require.ErrorContains(t, err, "must not be a superuser")
}

func TestServeRefusesATableOwner(t *testing.T) {
	t.Parallel()
	db := postgrestest.New(t)
	env := map[string]string{"DATABASE_URL": db.OwnerURL, "CODITECT_ADDR": "127.0.0.1:0", "CODITECT_SECRET_KEY": testSecret}
	err := run(context.Background(), []string{"coditect", "serve"}, func(k string) string { return env[k] }, io.Discard, io.Discard)
	require.ErrorContains(t, err, "owns")
}

func TestMigrateNeedsOnlyTheOwnerURL(t *testing.T) {
	t.Parallel()
	db := postgrestest.New(t)
	env := map[string]string{"DATABASE_OWNER_URL": db.OwnerURL}
	out := &syncBuffer{}
	require.NoError(t, run(context.Background(), []string{"coditect", "migrate", "status"}, func(k string) string { return env[k] }, out, out))
	err := run(context.Background(), []string{"coditect", "migrate", "status"}, func(string) string { return "" }, out, out)
	require.ErrorContains(t, err, "DATABASE_OWNER_URL")
}

func TestOpenAPICommandPrintsTheServedDocument(t *testing.T) {
	t.Parallel()
	out := &syncBuffer{}
	require.NoError(t, run(context.Background(), []string{"coditect", "openapi"}, func(string) string { return "" }, out, io.Discard))
	var doc struct {
		OpenAPI string         `json:"openapi"`
		Paths   map[string]any `json:"paths"`
	}
	require.NoError(t, json.Unmarshal([]byte(out.String()), &doc))
	require.Equal(t, "3.1.0", doc.OpenAPI)
	for _, path := range []string{"/v1/signup", "/v1/orgs/{org}/tasks/{id}", "/oauth2/token"} {
		require.Contains(t, doc.Paths, path)
	}
	require.ErrorContains(t, run(context.Background(), []string{"coditect", "openapi", "x"}, os.Getenv, io.Discard, io.Discard), "no arguments")
}

func TestVersionAndUsage(t *testing.T) {
	t.Parallel()
	out := &syncBuffer{}
	require.NoError(t, run(context.Background(), []string{"coditect", "version"}, os.Getenv, out, out))
	require.Contains(t, out.String(), "coditect dev")
	require.ErrorContains(t, run(context.Background(), []string{"coditect", "frobnicate"}, os.Getenv, io.Discard, io.Discard), "unknown command")
	require.Error(t, run(context.Background(), []string{"coditect"}, os.Getenv, io.Discard, io.Discard))
}

// TestDevFromAnEmptyDirectory is `coditect dev` as a newcomer runs it: no
// configuration at all, an empty directory, then a second run that reuses the data.
func TestDevFromAnEmptyDirectory(t *testing.T) {
	t.Parallel()
	dataDir := filepath.Join(shortTempDir(t), "data")
	env := map[string]string{"CODITECT_LOG_LEVEL": "warn"}

	p := start(t, env, "dev", "--addr", "127.0.0.1:0", "--data-dir", dataDir)
	require.Eventually(t, func() bool { return strings.Contains(p.stdout.String(), "Password:") }, 10*time.Second, 20*time.Millisecond)
	banner := p.stdout.String()
	require.Contains(t, banner, "Demo owner: demo@coditect.dev")
	require.Contains(t, banner, "CODITECT is running at "+p.url)
	password := regexp.MustCompile(`Password:\s+(\S+)`).FindStringSubmatch(banner)[1]
	status, body, _ := get(t, p.url+"/readyz")
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, `"redis":{"status":"up"}`, "dev runs a private Redis (make test installs redis-server)")

	creds, err := os.ReadFile(filepath.Join(dataDir, "demo-credentials"))
	require.NoError(t, err)
	require.Equal(t, password, strings.TrimSpace(string(creds)))
	info, err := os.Stat(filepath.Join(dataDir, "demo-credentials"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "the password file is private")

	p.stop()
	require.NoError(t, <-p.done)
	p.done <- nil
	require.Contains(t, p.stdout.String(), "stopping PostgreSQL")
	require.Contains(t, p.stdout.String(), "stopping Redis")

	// Second run: same data, same demo account, PostgreSQL restarted from the data dir.
	p2 := start(t, env, "dev", "--addr", "127.0.0.1:0", "--data-dir", dataDir)
	require.Eventually(t, func() bool { return strings.Contains(p2.stdout.String(), "Password:") }, 10*time.Second, 20*time.Millisecond)
	require.NotContains(t, p2.stdout.String(), "initialising", "reuses the existing cluster")
	require.Contains(t, p2.stdout.String(), "Password:   "+password)
	status, _, _ = get(t, p2.url+"/readyz")
	require.Equal(t, http.StatusOK, status)
}
