package pgserver

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// testBinDir returns the PostgreSQL bin dir, skipping the test when the
// binaries are not installed (failing instead under CI, where
// scripts/test-services.sh installs them).
func testBinDir(t *testing.T) string {
	t.Helper()
	if dir := os.Getenv("CODITECT_TEST_PG_BINDIR"); dir != "" {
		return dir
	}
	dir, err := FindBinDir(os.Getenv)
	if err != nil {
		t.Fatalf("PostgreSQL binaries are required (make test installs them): %v", err)
	}
	return dir
}

// pgTempDir returns a not-yet-existing data dir path inside a t.TempDir()
// whose parents the unprivileged postgres/nobody user can traverse.
func pgTempDir(t *testing.T) string {
	t.Helper()
	d := t.TempDir()
	require.NoError(t, os.Chmod(d, 0o755))
	require.NoError(t, os.Chmod(filepath.Dir(d), 0o755))
	return filepath.Join(d, "pg")
}

func startServer(t *testing.T, opts Options) *Server {
	t.Helper()
	if opts.Logf == nil {
		opts.Logf = t.Logf
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := Start(ctx, opts)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := s.Stop(ctx); err != nil {
			t.Errorf("cleanup stop: %v", err)
		}
	})
	return s
}

func stopServer(t *testing.T, s *Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, s.Stop(ctx))
}

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err, "connect to %s", url)
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

func TestFindBinDirNotFound(t *testing.T) {
	t.Parallel()
	emptyRoot := t.TempDir()
	getenv := func(k string) string { return "" }

	_, err := findBinDir(getenv, emptyRoot)
	require.ErrorIs(t, err, ErrBinariesNotFound)
	require.EqualError(t, err, "PostgreSQL server binaries not found (need initdb, pg_ctl, postgres): "+
		"install them with `sudo apt-get install postgresql` (Debian/Ubuntu) or put them on PATH")

	_, err = findBinDir(getenv, filepath.Join(emptyRoot, "missing"))
	require.ErrorIs(t, err, ErrBinariesNotFound)
}

func writeFakeBinaries(t *testing.T, dir string, names ...string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(dir, 0o755))
	for _, n := range names {
		require.NoError(t, os.WriteFile(filepath.Join(dir, n), []byte("#!/bin/sh\n"), 0o755))
	}
}

func TestFindBinDirResolvesPATHSymlinks(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	real := filepath.Join(root, "lib", "pg", "bin")
	writeFakeBinaries(t, real, "initdb", "pg_ctl", "postgres")
	pathDir := filepath.Join(root, "path")
	require.NoError(t, os.MkdirAll(pathDir, 0o755))
	for _, n := range []string{"initdb", "pg_ctl", "postgres"} {
		require.NoError(t, os.Symlink(filepath.Join(real, n), filepath.Join(pathDir, n)))
	}
	// A PATH dir with an incomplete set is skipped.
	partial := filepath.Join(root, "partial")
	writeFakeBinaries(t, partial, "initdb")

	getenv := func(k string) string {
		if k == "PATH" {
			return partial + string(os.PathListSeparator) + pathDir
		}
		return ""
	}
	got, err := findBinDir(getenv, filepath.Join(root, "nolib"))
	require.NoError(t, err)
	wantReal, err := filepath.EvalSymlinks(real)
	require.NoError(t, err)
	require.Equal(t, wantReal, got)
}

func TestFindBinDirPicksHighestLibVersion(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	writeFakeBinaries(t, filepath.Join(root, "9.6", "bin"), "initdb", "pg_ctl", "postgres")
	writeFakeBinaries(t, filepath.Join(root, "15", "bin"), "initdb", "pg_ctl", "postgres")
	writeFakeBinaries(t, filepath.Join(root, "16", "bin"), "initdb") // incomplete
	writeFakeBinaries(t, filepath.Join(root, "notaversion", "bin"), "initdb", "pg_ctl", "postgres")

	got, err := findBinDir(func(string) string { return "" }, root)
	require.NoError(t, err)
	require.Equal(t, filepath.Join(root, "15", "bin"), got)
}

func TestStartStopRestartKeepsData(t *testing.T) {
	t.Parallel()
	binDir := testBinDir(t)
	dataDir := pgTempDir(t)
	ctx := context.Background()

	s := startServer(t, Options{DataDir: dataDir, BinDir: binDir})
	require.Equal(t, dataDir, s.DataDir())
	require.Equal(t, dataDir, s.SocketDir())
	require.False(t, s.Reused())
	require.Zero(t, s.Port())
	require.FileExists(t, filepath.Join(dataDir, "PG_VERSION"))
	require.FileExists(t, filepath.Join(dataDir, "postgres.log"))
	require.Equal(t, fmt.Sprintf("postgres://postgres@/postgres?host=%s&port=5432&sslmode=disable", dataDir), s.SuperuserURL("postgres"))

	conn := connect(t, s.SuperuserURL("postgres"))
	var one int
	require.NoError(t, conn.QueryRow(ctx, "SELECT 1").Scan(&one))
	require.Equal(t, 1, one)

	var fsync, maxConns, sharedBuffers string
	require.NoError(t, conn.QueryRow(ctx, "SELECT current_setting('fsync'), current_setting('max_connections'), current_setting('shared_buffers')").
		Scan(&fsync, &maxConns, &sharedBuffers))
	require.Equal(t, "on", fsync)
	require.Equal(t, "200", maxConns)
	require.Equal(t, "128MB", sharedBuffers)

	_, err := conn.Exec(ctx, "CREATE TABLE survivor (v text); INSERT INTO survivor VALUES ('still here')")
	require.NoError(t, err)
	_, err = conn.Exec(ctx, "CREATE ROLE app LOGIN")
	require.NoError(t, err)
	_, err = conn.Exec(ctx, "CREATE DATABASE appdb OWNER app")
	require.NoError(t, err)
	require.NoError(t, conn.Close(ctx))

	// URLFor works for another role and database.
	appConn := connect(t, s.URLFor("app", "appdb"))
	var who, db string
	require.NoError(t, appConn.QueryRow(ctx, "SELECT current_user, current_database()").Scan(&who, &db))
	require.Equal(t, "app", who)
	require.Equal(t, "appdb", db)
	require.NoError(t, appConn.Close(ctx))

	stopServer(t, s)
	require.NoFileExists(t, filepath.Join(dataDir, "postmaster.pid"))
	require.NoError(t, s.Stop(ctx), "a second Stop is a no-op")

	s2 := startServer(t, Options{DataDir: dataDir, BinDir: binDir})
	require.False(t, s2.Reused())
	conn2 := connect(t, s2.SuperuserURL("postgres"))
	var v string
	require.NoError(t, conn2.QueryRow(ctx, "SELECT v FROM survivor").Scan(&v))
	require.Equal(t, "still here", v)
	require.NoError(t, conn2.Close(ctx))
	stopServer(t, s2)
}

func TestStartReusesRunningServer(t *testing.T) {
	t.Parallel()
	binDir := testBinDir(t)
	dataDir := pgTempDir(t)
	ctx := context.Background()

	s1 := startServer(t, Options{DataDir: dataDir, BinDir: binDir})
	info, err := readPidFile(dataDir)
	require.NoError(t, err)

	var logs []string
	var mu sync.Mutex
	s2 := startServer(t, Options{DataDir: dataDir, BinDir: binDir, Logf: func(f string, a ...any) {
		mu.Lock()
		defer mu.Unlock()
		logs = append(logs, fmt.Sprintf(f, a...))
	}})
	require.True(t, s2.Reused())
	require.Equal(t, s1.SocketDir(), s2.SocketDir())
	require.Equal(t, s1.SuperuserURL("postgres"), s2.SuperuserURL("postgres"))
	mu.Lock()
	require.Contains(t, strings.Join(logs, "\n"), "reusing PostgreSQL")
	mu.Unlock()

	conn := connect(t, s2.SuperuserURL("postgres"))
	var pid int
	require.NoError(t, conn.QueryRow(ctx, "SELECT 1").Scan(&pid))
	require.NoError(t, conn.Close(ctx))
	info2, err := readPidFile(dataDir)
	require.NoError(t, err)
	require.Equal(t, info.pid, info2.pid, "no second postmaster was started")

	// The caller of Start owns the server: stopping the reused one stops it.
	stopServer(t, s2)
	require.NoFileExists(t, filepath.Join(dataDir, "postmaster.pid"))
	require.NoError(t, s1.Stop(ctx), "stopping an already stopped server is fine")
}

func TestStartWithStalePidFile(t *testing.T) {
	t.Parallel()
	binDir := testBinDir(t)
	dataDir := pgTempDir(t)

	s := startServer(t, Options{DataDir: dataDir, BinDir: binDir})
	stopServer(t, s)

	// A pid that certainly belongs to no postmaster: a process that has exited.
	cmd := exec.Command("true")
	require.NoError(t, cmd.Run())
	dead := cmd.Process.Pid
	stale := fmt.Sprintf("%d\n%s\n1700000000\n5432\n%s\n\n  1234567     98304\nready   \n", dead, dataDir, dataDir)
	require.NoError(t, os.WriteFile(filepath.Join(dataDir, "postmaster.pid"), []byte(stale), 0o600))

	s2 := startServer(t, Options{DataDir: dataDir, BinDir: binDir})
	require.False(t, s2.Reused())
	info, err := readPidFile(dataDir)
	require.NoError(t, err)
	require.NotEqual(t, dead, info.pid)
	conn := connect(t, s2.SuperuserURL("postgres"))
	require.NoError(t, conn.Ping(context.Background()))
	require.NoError(t, conn.Close(context.Background()))
	stopServer(t, s2)

	// A recycled pid: our own (live, non-postgres) process.
	stale = fmt.Sprintf("%d\n%s\n1700000000\n5432\n%s\n\n  1234567     98304\nready   \n", os.Getpid(), dataDir, dataDir)
	require.NoError(t, os.WriteFile(filepath.Join(dataDir, "postmaster.pid"), []byte(stale), 0o600))
	s3 := startServer(t, Options{DataDir: dataDir, BinDir: binDir})
	require.False(t, s3.Reused())
	stopServer(t, s3)
}

// syncBuffer is a goroutine-safe bytes.Buffer.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	return port
}

func TestTCPPortAndLogForwarding(t *testing.T) {
	t.Parallel()
	binDir := testBinDir(t)
	dataDir := pgTempDir(t)
	ctx := context.Background()
	port := freePort(t)
	var logBuf syncBuffer

	s := startServer(t, Options{DataDir: dataDir, BinDir: binDir, Port: port, Stderr: &logBuf})
	require.Equal(t, port, s.Port())
	require.NoFileExists(t, filepath.Join(dataDir, "postgres.log"))

	tcp := connect(t, fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port))
	var addr string
	require.NoError(t, tcp.QueryRow(ctx, "SELECT current_setting('listen_addresses')").Scan(&addr))
	require.Equal(t, "127.0.0.1", addr)
	require.NoError(t, tcp.Close(ctx))

	sock := connect(t, s.SuperuserURL("postgres"))
	require.Contains(t, s.SuperuserURL("postgres"), fmt.Sprintf("port=%d", port))
	require.NoError(t, sock.Ping(ctx))
	require.NoError(t, sock.Close(ctx))

	stopServer(t, s)
	require.Contains(t, logBuf.String(), "database system is ready to accept connections")
	require.Contains(t, logBuf.String(), "database system is shut down")
}

func TestLongDataDirPutsSocketInTempDir(t *testing.T) {
	t.Parallel()
	binDir := testBinDir(t)
	base := pgTempDir(t)
	dataDir := filepath.Join(base, strings.Repeat("d", 40), strings.Repeat("e", 40))
	require.GreaterOrEqual(t, len(dataDir)+len("/.s.PGSQL.5432"), 100)

	s := startServer(t, Options{DataDir: dataDir, BinDir: binDir})
	t.Cleanup(func() { _ = os.RemoveAll(s.SocketDir()) })
	require.Equal(t, dataDir, s.DataDir())
	require.NotEqual(t, dataDir, s.SocketDir())
	require.True(t, strings.HasPrefix(s.SocketDir(), os.TempDir()), s.SocketDir())
	require.Less(t, len(s.SocketDir())+len("/.s.PGSQL.5432"), 100)
	fi, err := os.Stat(s.SocketDir())
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o700), fi.Mode().Perm())

	conn := connect(t, s.SuperuserURL("postgres"))
	require.NoError(t, conn.Ping(context.Background()))
	require.NoError(t, conn.Close(context.Background()))
	stopServer(t, s)
}

func TestRootFallsBackWhenDataDirUnreachable(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("only meaningful as root: PostgreSQL then runs as an unprivileged user")
	}
	binDir := testBinDir(t)
	private := t.TempDir() // mode 0700, owned by root: postgres/nobody cannot traverse it
	require.NoError(t, os.Chmod(private, 0o700))
	dataDir := filepath.Join(private, "repo", ".coditect", "pg")

	var logs syncBuffer
	s := startServer(t, Options{DataDir: dataDir, BinDir: binDir, Logf: func(f string, a ...any) {
		fmt.Fprintf(&logs, f+"\n", a...)
	}})
	t.Cleanup(func() { _ = os.RemoveAll(s.DataDir()) })
	require.NotEqual(t, dataDir, s.DataDir())
	require.Equal(t, filepath.Join(os.TempDir(), "coditect-pg-"+shortHash(dataDir)), s.DataDir())
	require.Contains(t, logs.String(), "cannot reach")

	conn := connect(t, s.SuperuserURL("postgres"))
	require.NoError(t, conn.Ping(context.Background()))
	require.NoError(t, conn.Close(context.Background()))
	stopServer(t, s)
}
