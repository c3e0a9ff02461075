// Package pgserver starts and stops a private PostgreSQL server from the
// machine's own PostgreSQL binaries (initdb, pg_ctl, postgres).
//
// It is used by `coditect dev` (the zero-config local platform) and by
// end-to-end tests that need to stop and restart PostgreSQL. The server
// listens on a unix socket in a private directory and, optionally, on
// 127.0.0.1; it never binds any other address. Authentication is "trust":
// the socket directory (mode 0700, owned by the server's OS user) is the
// access gate, so only that user and root can reach the socket.
//
// When the calling process runs as root, PostgreSQL (which refuses to run as
// root) runs as the unprivileged "postgres" user if it exists, else as
// "nobody".
package pgserver

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ErrBinariesNotFound is returned (wrapped) by FindBinDir and Start when the
// PostgreSQL server binaries cannot be found. Its message says how to install
// them.
var ErrBinariesNotFound = errors.New("PostgreSQL server binaries not found (need initdb, pg_ctl, postgres): " +
	"install them with `sudo apt-get install postgresql` (Debian/Ubuntu) or put them on PATH")

// defaultLibRoot is where Debian/Ubuntu install versioned PostgreSQL
// binaries (/usr/lib/postgresql/<version>/bin).
const defaultLibRoot = "/usr/lib/postgresql"

// requiredBinaries are the programs a bin dir must contain.
var requiredBinaries = []string{"initdb", "pg_ctl", "postgres"}

const (
	// defaultSocketPort names the socket (.s.PGSQL.5432) when no TCP port
	// is requested.
	defaultSocketPort = 5432
	// maxSocketPath is the longest unix socket path we allow (the kernel
	// limit is 108 bytes including the NUL; stay well below it).
	maxSocketPath = 99
	// defaultTimeout bounds pg_ctl start/stop when ctx has no deadline.
	defaultTimeout = 90 * time.Second
	// confMarker marks the block that Start appends to postgresql.conf.
	confMarker = "# --- coditect pgserver settings (do not edit this line) ---"
	// runtimeConf is the file (inside the data dir) that Start rewrites on
	// every start with the listen settings of that run.
	runtimeConf = "coditect.conf"
	// logFileName is the server log when no writer is given.
	logFileName = "postgres.log"
)

// FindBinDir locates the directory holding initdb, pg_ctl and postgres:
// first in the directories of $PATH (as returned by getenv("PATH")),
// resolving symlinks to the real bin dir, then the highest version under
// /usr/lib/postgresql/*/bin. A nil getenv means os.Getenv. When nothing is
// found the error wraps ErrBinariesNotFound, whose message says how to
// install the binaries.
func FindBinDir(getenv func(string) string) (string, error) {
	return findBinDir(getenv, defaultLibRoot)
}

func findBinDir(getenv func(string) string, libRoot string) (string, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	for _, dir := range filepath.SplitList(getenv("PATH")) {
		if dir == "" || !filepath.IsAbs(dir) {
			continue // never trust "." or relative PATH entries
		}
		initdb := filepath.Join(dir, "initdb")
		if !isExecutableFile(initdb) {
			continue
		}
		if real, err := filepath.EvalSymlinks(initdb); err == nil {
			if realDir := filepath.Dir(real); hasBinaries(realDir) {
				return realDir, nil
			}
		}
		if hasBinaries(dir) {
			return dir, nil
		}
	}

	entries, err := os.ReadDir(libRoot)
	if err == nil {
		type candidate struct {
			version []int
			dir     string
		}
		var found []candidate
		for _, e := range entries {
			v, ok := parseVersion(e.Name())
			if !ok {
				continue
			}
			dir := filepath.Join(libRoot, e.Name(), "bin")
			if hasBinaries(dir) {
				found = append(found, candidate{v, dir})
			}
		}
		sort.Slice(found, func(i, j int) bool { return versionLess(found[i].version, found[j].version) })
		if len(found) > 0 {
			return found[len(found)-1].dir, nil
		}
	}
	return "", ErrBinariesNotFound
}

func parseVersion(s string) ([]int, bool) {
	parts := strings.Split(s, ".")
	v := make([]int, 0, len(parts))
	for _, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return nil, false
		}
		v = append(v, n)
	}
	return v, len(v) > 0
}

func versionLess(a, b []int) bool {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return len(a) < len(b)
}

func isExecutableFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

func hasBinaries(dir string) bool {
	for _, b := range requiredBinaries {
		if !isExecutableFile(filepath.Join(dir, b)) {
			return false
		}
	}
	return true
}

// Options configures Start.
type Options struct {
	// DataDir is the directory that holds the cluster (PGDATA); it is
	// created if missing, e.g. ./.coditect/pg.
	DataDir string
	// BinDir holds initdb, pg_ctl and postgres; "" means FindBinDir(os.Getenv).
	BinDir string
	// Port is the TCP port on 127.0.0.1; 0 means no TCP, unix socket only.
	Port int
	// Logf receives progress messages; may be nil.
	Logf func(format string, args ...any)
	// Stdout and Stderr receive the server's log output (Stderr is
	// preferred when both are set). When both are nil the server logs to
	// DataDir/postgres.log.
	Stdout, Stderr io.Writer
}

// Server is a PostgreSQL server started (or reused) by Start.
type Server struct {
	binDir   string
	dataDir  string
	sockDir  string // "" if the (reused) server has no unix socket
	tcpAddr  string // listen address if TCP is on, else ""
	port     int    // the server's port setting (names the socket too)
	runAs    *osUser
	logf     func(format string, args ...any)
	reused   bool
	logPath  string
	logDone  chan struct{} // closed when log forwarding has ended; nil if none
	mu       sync.Mutex
	stopped  bool
	stopOnce error
}

// osUser is the unprivileged account PostgreSQL runs as when we are root.
type osUser struct {
	name     string
	uid, gid uint32
}

// Start initialises the cluster if DataDir has none (initdb -U postgres
// --auth=trust -E UTF8 --locale=C.UTF-8, or --locale=C where C.UTF-8 is
// unavailable) and starts it with `pg_ctl -w`, listening on a private unix
// socket directory and, if Port > 0, on 127.0.0.1:Port.
//
// If a server from a previous run is still running on DataDir, it is reused
// (and the caller owns it: Stop stops it); a stale postmaster.pid is removed
// and the server started normally.
//
// When the process runs as root, initdb and pg_ctl run as the "postgres"
// user (else "nobody") and the data and socket directories are owned by that
// user. If that user cannot traverse the parent directories of DataDir (e.g.
// under /root with mode 0700), the cluster lives instead in a directory under
// os.TempDir() named after a hash of the absolute DataDir (reported through
// Logf and by Server.DataDir). If the socket path inside DataDir would be
// 100 bytes or longer, the socket directory is put under os.TempDir() too.
//
// Settings: fsync on, max_connections=200, shared_buffers=128MB,
// unix_socket_permissions=0777 — the socket directory itself is mode 0700 and
// owned by the server's user, so only that user (the caller, when not root)
// and root can connect.
func Start(ctx context.Context, opts Options) (*Server, error) {
	if opts.DataDir == "" {
		return nil, errors.New("pgserver: Options.DataDir is required")
	}
	if opts.Port < 0 || opts.Port > 65535 {
		return nil, fmt.Errorf("pgserver: invalid port %d", opts.Port)
	}
	logf := opts.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	binDir := opts.BinDir
	if binDir == "" {
		var err error
		if binDir, err = FindBinDir(os.Getenv); err != nil {
			return nil, fmt.Errorf("pgserver: %w", err)
		}
	} else if !hasBinaries(binDir) {
		return nil, fmt.Errorf("pgserver: %s does not contain initdb, pg_ctl and postgres: %w", binDir, ErrBinariesNotFound)
	}

	dataDir, err := filepath.Abs(opts.DataDir)
	if err != nil {
		return nil, fmt.Errorf("pgserver: %w", err)
	}
	if strings.ContainsAny(dataDir, "\"$`\\\n'") {
		// pg_ctl passes the data dir through /bin/sh inside double quotes.
		return nil, fmt.Errorf("pgserver: data directory %q contains characters that pg_ctl cannot handle (\" $ ` \\ ' newline)", dataDir)
	}

	runAs, err := chooseUser(dataDir)
	if err != nil {
		return nil, err
	}
	fallback := false
	if runAs != nil && !canTraverse(dataDir, runAs) {
		fb := filepath.Join(os.TempDir(), "coditect-pg-"+shortHash(dataDir))
		logf("pgserver: user %q cannot reach %s (a parent directory is not traversable); using %s for the PostgreSQL data instead", runAs.name, dataDir, fb)
		dataDir = fb
		fallback = true
		if runAs, err = chooseUser(dataDir); err != nil {
			return nil, err
		}
		if !canTraverse(dataDir, runAs) {
			return nil, fmt.Errorf("pgserver: user %q cannot reach %s either; set TMPDIR to a directory it can traverse", runAs.name, dataDir)
		}
	}
	if err := prepareDataDir(dataDir, runAs, fallback); err != nil {
		return nil, err
	}

	s := &Server{
		binDir:  binDir,
		dataDir: dataDir,
		runAs:   runAs,
		logf:    logf,
	}

	deadline := time.Now().Add(defaultTimeout)
	if d, ok := ctx.Deadline(); ok {
		deadline = d
	}

	for attempt := 0; ; attempt++ {
		reused, err := s.tryReuse(ctx, deadline, opts.Port)
		if err != nil {
			return nil, err
		}
		if reused {
			return s, nil
		}
		err = s.startFresh(ctx, deadline, opts)
		if err == nil {
			return s, nil
		}
		// Someone else may have started the same cluster concurrently.
		if attempt == 0 {
			if info, perr := readPidFile(dataDir); perr == nil && isOurPostmaster(info.pid, dataDir) {
				continue
			}
		}
		return nil, err
	}
}

// chooseUser returns the account PostgreSQL must run as, or nil when it can
// run as the current user (we are not root).
func chooseUser(dataDir string) (*osUser, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	// An existing cluster keeps running as its owner.
	if fi, err := os.Stat(filepath.Join(dataDir, "PG_VERSION")); err == nil {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid != 0 {
			u := &osUser{name: strconv.FormatUint(uint64(st.Uid), 10), uid: st.Uid, gid: st.Gid}
			if pw, err := user.LookupId(u.name); err == nil {
				u.name = pw.Username
				if g, err := strconv.ParseUint(pw.Gid, 10, 32); err == nil {
					u.gid = uint32(g)
				}
			}
			return u, nil
		}
		return nil, fmt.Errorf("pgserver: the cluster in %s belongs to root, but PostgreSQL cannot run as root; chown it to the postgres user", dataDir)
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil || uid == 0 {
			continue
		}
		return &osUser{name: name, uid: uint32(uid), gid: uint32(gid)}, nil
	}
	return nil, errors.New("pgserver: running as root, but neither a \"postgres\" nor a \"nobody\" user exists to run PostgreSQL as (create one with `useradd --system postgres`)")
}

// canTraverse reports whether u can reach path: every existing directory on
// the way to it (path itself included, if it exists and is not going to be
// chowned to u) must be searchable by u. Missing components will be created
// by us with mode 0755.
func canTraverse(path string, u *osUser) bool {
	// Resolve symlinks of the deepest existing ancestor, so the checks
	// apply to the directories the kernel will actually walk.
	existing := filepath.Dir(path)
	for {
		if _, err := os.Stat(existing); err == nil {
			break
		}
		parent := filepath.Dir(existing)
		if parent == existing {
			break
		}
		existing = parent
	}
	real, err := filepath.EvalSymlinks(existing)
	if err != nil {
		return false
	}
	for dir := real; ; dir = filepath.Dir(dir) {
		fi, err := os.Stat(dir)
		if err != nil {
			return false
		}
		if !mayAccess(fi, u, 0o1) {
			return false
		}
		if dir == filepath.Dir(dir) {
			return true
		}
	}
}

// mayAccess checks the classic owner/group/other permission bits (bit: 4 read,
// 2 write, 1 execute) for u, whose only group is its primary group (we drop
// supplementary groups when switching to it).
func mayAccess(fi fs.FileInfo, u *osUser, bit fs.FileMode) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return false
	}
	perm := fi.Mode().Perm()
	switch {
	case st.Uid == u.uid:
		return perm&(bit<<6) != 0
	case st.Gid == u.gid:
		return perm&(bit<<3) != 0
	default:
		return perm&bit != 0
	}
}

func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:8])
}

// prepareDataDir creates dataDir (mode 0700, owned by runAs) if missing, and
// checks that an existing one is either a cluster or empty. strict is set for
// directories under a shared temp dir, which must not be someone else's.
func prepareDataDir(dataDir string, runAs *osUser, strict bool) error {
	fi, err := os.Lstat(dataDir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(filepath.Dir(dataDir), 0o755); err != nil {
			return fmt.Errorf("pgserver: %w", err)
		}
		if err := os.Mkdir(dataDir, 0o700); err != nil {
			return fmt.Errorf("pgserver: %w", err)
		}
		return chownTo(dataDir, runAs)
	case err != nil:
		return fmt.Errorf("pgserver: %w", err)
	}
	if strict {
		if fi.Mode()&fs.ModeSymlink != 0 || !fi.IsDir() {
			return fmt.Errorf("pgserver: %s exists and is not a directory", dataDir)
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok || (st.Uid != 0 && (runAs == nil || st.Uid != runAs.uid) && int(st.Uid) != os.Geteuid()) {
			return fmt.Errorf("pgserver: %s is owned by another user; remove it", dataDir)
		}
	}
	if fi, err = os.Stat(dataDir); err != nil {
		return fmt.Errorf("pgserver: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("pgserver: %s exists and is not a directory", dataDir)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "PG_VERSION")); err == nil {
		return nil // existing cluster
	}
	entries, err := os.ReadDir(dataDir)
	if err != nil {
		return fmt.Errorf("pgserver: %w", err)
	}
	if len(entries) > 0 {
		return fmt.Errorf("pgserver: %s is not empty and holds no PostgreSQL cluster (no PG_VERSION); empty it or choose another data directory", dataDir)
	}
	if err := os.Chmod(dataDir, 0o700); err != nil {
		return fmt.Errorf("pgserver: %w", err)
	}
	return chownTo(dataDir, runAs)
}

func chownTo(path string, runAs *osUser) error {
	if runAs == nil {
		return nil
	}
	if err := os.Chown(path, int(runAs.uid), int(runAs.gid)); err != nil {
		return fmt.Errorf("pgserver: %w", err)
	}
	return nil
}

// pidFile is the content of postmaster.pid.
type pidFile struct {
	pid     int
	dataDir string
	port    int
	sockDir string
	listen  string
	status  string // "starting", "stopping", "ready", "standby" or ""
}

func readPidFile(dataDir string) (pidFile, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return pidFile{}, err
	}
	lines := strings.Split(string(b), "\n")
	get := func(i int) string {
		if i < len(lines) {
			return strings.TrimSpace(lines[i])
		}
		return ""
	}
	var p pidFile
	p.pid, err = strconv.Atoi(get(0))
	if err != nil {
		return pidFile{}, fmt.Errorf("malformed postmaster.pid: %w", err)
	}
	if p.pid < 0 {
		p.pid = -p.pid // a single-user backend writes -pid
	}
	p.dataDir = get(1)
	p.port, _ = strconv.Atoi(get(3))
	p.sockDir = get(4)
	p.listen = get(5)
	p.status = get(7)
	return p, nil
}

// isOurPostmaster reports whether pid is a live postgres process serving
// dataDir (guarding against a recycled PID in a stale postmaster.pid).
func isOurPostmaster(pid int, dataDir string) bool {
	if pid <= 0 {
		return false
	}
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	if cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid)); err == nil {
		// The postmaster chdirs into its data directory.
		if real, err := filepath.EvalSymlinks(dataDir); err == nil {
			return cwd == real
		}
		return cwd == dataDir
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		// No /proc: trust kill(pid, 0), as pg_ctl does.
		return errors.Is(err, fs.ErrNotExist) && !procMounted()
	}
	return bytes.Contains(cmdline, []byte("postgres")) || bytes.Contains(cmdline, []byte("postmaster"))
}

func procMounted() bool {
	_, err := os.Stat("/proc/self/cwd")
	return err == nil
}

// tryReuse adopts a server that is already running on s.dataDir. It returns
// false when there is none (removing a stale postmaster.pid).
func (s *Server) tryReuse(ctx context.Context, deadline time.Time, wantPort int) (bool, error) {
	for {
		info, err := readPidFile(s.dataDir)
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		if err != nil || !isOurPostmaster(info.pid, s.dataDir) {
			s.logf("pgserver: removing stale %s", filepath.Join(s.dataDir, "postmaster.pid"))
			if err := os.Remove(filepath.Join(s.dataDir, "postmaster.pid")); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return false, fmt.Errorf("pgserver: removing stale postmaster.pid: %w", err)
			}
			return false, nil
		}
		if info.status == "ready" || info.status == "standby" {
			s.reused = true
			s.port = info.port
			s.sockDir = info.sockDir
			if info.listen != "" {
				s.tcpAddr = strings.TrimSpace(strings.Split(info.listen, ",")[0])
				if s.tcpAddr == "*" || s.tcpAddr == "0.0.0.0" {
					s.tcpAddr = "127.0.0.1"
				}
			}
			s.logf("pgserver: reusing PostgreSQL already running on %s (pid %d, socket dir %q, port %d)", s.dataDir, info.pid, s.sockDir, s.port)
			if wantPort != 0 && (wantPort != info.port || s.tcpAddr == "") {
				s.logf("pgserver: warning: the running server does not listen on 127.0.0.1:%d as requested; stop it to apply the new port", wantPort)
			}
			return true, nil
		}
		// starting or stopping: wait for it to settle
		if time.Now().After(deadline) {
			return false, fmt.Errorf("pgserver: the server on %s (pid %d) stayed in state %q", s.dataDir, info.pid, info.status)
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// startFresh runs initdb if needed and starts the server with pg_ctl.
func (s *Server) startFresh(ctx context.Context, deadline time.Time, opts Options) error {
	s.reused = false
	s.port = opts.Port
	if s.port == 0 {
		s.port = defaultSocketPort
		s.tcpAddr = ""
	} else {
		s.tcpAddr = "127.0.0.1"
	}
	if err := s.prepareSocketDir(); err != nil {
		return err
	}

	if _, err := os.Stat(filepath.Join(s.dataDir, "PG_VERSION")); errors.Is(err, fs.ErrNotExist) {
		if err := s.initdb(ctx); err != nil {
			return err
		}
	}
	if err := s.writeConfig(); err != nil {
		return err
	}

	out := opts.Stderr
	if out == nil {
		out = opts.Stdout
	}
	args := []string{"-D", s.dataDir, "-w", "-s", "-t", timeoutSecs(deadline)}
	s.logPath = ""
	if out == nil {
		s.logPath = filepath.Join(s.dataDir, logFileName)
		args = append(args, "-l", s.logPath)
	}
	cmd := s.command(ctx, "pg_ctl", append(args, "start")...)
	var errBuf bytes.Buffer
	cmd.Stderr = &errBuf

	var pipeR, pipeW *os.File
	switch w := out.(type) {
	case nil:
		cmd.Stdout = &errBuf
	case *os.File:
		cmd.Stdout = w // the server inherits it directly
	default:
		var err error
		if pipeR, pipeW, err = os.Pipe(); err != nil {
			return fmt.Errorf("pgserver: %w", err)
		}
		cmd.Stdout = pipeW
		done := make(chan struct{})
		s.logDone = done
		go func() {
			defer close(done)
			defer pipeR.Close()
			_, _ = io.Copy(w, pipeR)
		}()
	}

	if s.tcpAddr != "" {
		s.logf("pgserver: starting PostgreSQL in %s (socket dir %s, 127.0.0.1:%d)", s.dataDir, s.sockDir, s.port)
	} else {
		s.logf("pgserver: starting PostgreSQL in %s (socket dir %s, no TCP)", s.dataDir, s.sockDir)
	}
	err := cmd.Run()
	if pipeW != nil {
		pipeW.Close() // the server holds its own copy
	}
	if err != nil {
		msg := strings.TrimSpace(errBuf.String())
		if s.logPath != "" {
			msg += tailFile(s.logPath, 20)
		}
		if s.logDone != nil {
			// If the server died, forwarding ends promptly; don't hang if not.
			select {
			case <-s.logDone:
			case <-time.After(2 * time.Second):
			}
			s.logDone = nil
		}
		return fmt.Errorf("pgserver: pg_ctl start failed: %w: %s", err, msg)
	}
	s.logf("pgserver: PostgreSQL is ready")
	return nil
}

// prepareSocketDir chooses and creates the socket directory: the data dir
// itself when the socket path fits, else a private directory in os.TempDir().
func (s *Server) prepareSocketDir() error {
	sockName := ".s.PGSQL." + strconv.Itoa(s.port)
	dir := s.dataDir
	if len(dir)+1+len(sockName) <= maxSocketPath && !strings.ContainsAny(dir, ",\"'\\\n") {
		s.sockDir = dir
		return nil
	}
	dir = filepath.Join(os.TempDir(), "coditect-pgsock-"+shortHash(s.dataDir))
	if len(dir)+1+len(sockName) > maxSocketPath {
		return fmt.Errorf("pgserver: socket path %s/%s would be too long; set TMPDIR to a shorter directory", dir, sockName)
	}
	s.logf("pgserver: %s is too long for a unix socket path; putting the socket in %s", s.dataDir, dir)
	fi, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.Mkdir(dir, 0o700); err != nil {
			return fmt.Errorf("pgserver: %w", err)
		}
		if err := chownTo(dir, s.runAs); err != nil {
			return err
		}
	} else if err != nil {
		return fmt.Errorf("pgserver: %w", err)
	} else {
		st, ok := fi.Sys().(*syscall.Stat_t)
		want := uint32(os.Geteuid())
		if s.runAs != nil {
			want = s.runAs.uid
		}
		if !fi.IsDir() || fi.Mode()&fs.ModeSymlink != 0 || !ok || st.Uid != want || fi.Mode().Perm()&0o077 != 0 {
			return fmt.Errorf("pgserver: socket directory %s exists but is not a private directory of the server user; remove it", dir)
		}
	}
	s.sockDir = dir
	return nil
}

func (s *Server) initdb(ctx context.Context) error {
	s.logf("pgserver: initialising a PostgreSQL cluster in %s", s.dataDir)
	var lastOut []byte
	var lastErr error
	for _, locale := range []string{"C.UTF-8", "C"} {
		cmd := s.command(ctx, "initdb", "-D", s.dataDir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale="+locale)
		lastOut, lastErr = cmd.CombinedOutput()
		if lastErr == nil {
			return nil
		}
		if ctx.Err() != nil {
			break
		}
		// initdb cleans up after itself on failure; make sure the directory
		// is empty (and ours) again before retrying with another locale.
		if err := emptyDir(s.dataDir); err != nil {
			break
		}
	}
	return fmt.Errorf("pgserver: initdb failed: %w: %s", lastErr, strings.TrimSpace(string(lastOut)))
}

func emptyDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// writeConfig appends the static settings to postgresql.conf once, and
// rewrites coditect.conf (included from it) with this run's listen settings.
func (s *Server) writeConfig() error {
	confPath := filepath.Join(s.dataDir, "postgresql.conf")
	conf, err := os.ReadFile(confPath)
	if err != nil {
		return fmt.Errorf("pgserver: %w", err)
	}
	if !bytes.Contains(conf, []byte(confMarker)) {
		block := "\n" + confMarker + "\n" +
			"# Written by coditect (internal/pgserver). Later lines override earlier ones.\n" +
			"fsync = on\n" +
			"max_connections = 200\n" +
			"shared_buffers = 128MB\n" +
			"# The socket directory is mode 0700 and owned by the server's OS user:\n" +
			"# it is the access gate, so the socket itself may be 0777.\n" +
			"unix_socket_permissions = 0777\n" +
			"include_if_exists = '" + runtimeConf + "'\n"
		f, err := os.OpenFile(confPath, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return fmt.Errorf("pgserver: %w", err)
		}
		_, werr := f.WriteString(block)
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return fmt.Errorf("pgserver: %w", werr)
		}
	}

	listen := ""
	if s.tcpAddr != "" {
		listen = s.tcpAddr
	}
	rt := "# Rewritten by coditect (internal/pgserver) on every start.\n" +
		"listen_addresses = '" + listen + "'\n" +
		"port = " + strconv.Itoa(s.port) + "\n" +
		"unix_socket_directories = '" + s.sockDir + "'\n"
	rtPath := filepath.Join(s.dataDir, runtimeConf)
	if err := os.WriteFile(rtPath, []byte(rt), 0o600); err != nil {
		return fmt.Errorf("pgserver: %w", err)
	}
	return chownTo(rtPath, s.runAs)
}

// command builds an exec.Cmd for one of the PostgreSQL programs, running as
// s.runAs when set, with PG* environment variables removed.
func (s *Server) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(s.binDir, name), args...)
	env := []string{"LANG=C"}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "PG") || strings.HasPrefix(k, "LC_") || k == "LANG" || k == "LANGUAGE" {
			continue
		}
		if s.runAs != nil && (k == "HOME" || k == "USER" || k == "LOGNAME") {
			continue
		}
		env = append(env, kv)
	}
	if s.runAs != nil {
		env = append(env, "HOME=/", "USER="+s.runAs.name, "LOGNAME="+s.runAs.name)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{
			Uid:    s.runAs.uid,
			Gid:    s.runAs.gid,
			Groups: []uint32{},
		}}
		cmd.Dir = "/" // the caller's cwd may not be reachable by that user
	}
	cmd.Env = env
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

func timeoutSecs(deadline time.Time) string {
	secs := int(time.Until(deadline).Seconds())
	if secs < 1 {
		secs = 1
	}
	return strconv.Itoa(secs)
}

func tailFile(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	if len(lines) == 0 {
		return ""
	}
	return "\n--- last lines of " + path + " ---\n" + strings.Join(lines, "\n")
}

// SuperuserURL returns a pgx/libpq URL for the "postgres" superuser to
// database db over the unix socket, e.g.
// "postgres://postgres@/db?host=/path/to/sockdir&port=5432&sslmode=disable".
func (s *Server) SuperuserURL(db string) string {
	return s.URLFor("postgres", db)
}

// URLFor returns a pgx/libpq URL for role to database db over the unix
// socket, without a password (the socket uses trust authentication). If the
// (reused) server has no unix socket, the URL points at its TCP address.
func (s *Server) URLFor(role, db string) string {
	host := s.sockDir
	if host == "" {
		host = s.tcpAddr
	}
	u := url.URL{
		Scheme: "postgres",
		User:   url.User(role),
		Path:   "/" + db,
		RawQuery: "host=" + strings.ReplaceAll(url.QueryEscape(host), "%2F", "/") +
			"&port=" + strconv.Itoa(s.port) + "&sslmode=disable",
	}
	return u.String()
}

// SocketDir returns the directory holding the server's unix socket.
func (s *Server) SocketDir() string { return s.sockDir }

// DataDir returns the absolute data directory actually used; it differs from
// Options.DataDir when Start had to fall back to a directory under
// os.TempDir().
func (s *Server) DataDir() string { return s.dataDir }

// Port returns the TCP port the server listens on at 127.0.0.1, or 0 if it
// only listens on the unix socket.
func (s *Server) Port() int {
	if s.tcpAddr == "" {
		return 0
	}
	return s.port
}

// Reused reports whether Start adopted a server that was already running on
// the data directory instead of starting one.
func (s *Server) Reused() bool { return s.reused }

// LogPath returns the server log file when the server logs to a file in the
// data directory, else "".
func (s *Server) LogPath() string { return s.logPath }

// Stop stops the server cleanly (pg_ctl stop -m fast, waiting for it to exit),
// whether Start started it or reused one already running: the caller of Start
// owns the server. Stopping a server that is no longer running is not an
// error, and Stop may be called more than once.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return s.stopOnce
	}
	deadline := time.Now().Add(defaultTimeout)
	if d, ok := ctx.Deadline(); ok {
		deadline = d
	}
	cmd := s.command(ctx, "pg_ctl", "-D", s.dataDir, "-m", "fast", "-w", "-s", "-t", timeoutSecs(deadline), "stop")
	out, err := cmd.CombinedOutput()
	if err != nil {
		info, perr := readPidFile(s.dataDir)
		if perr == nil && isOurPostmaster(info.pid, s.dataDir) {
			return fmt.Errorf("pgserver: pg_ctl stop failed: %w: %s", err, strings.TrimSpace(string(out)))
		}
		err = nil // it was not running (any more)
	}
	if s.logDone != nil {
		select {
		case <-s.logDone:
		case <-time.After(5 * time.Second):
		case <-ctx.Done():
		}
	}
	s.logf("pgserver: PostgreSQL in %s stopped", s.dataDir)
	s.stopped = true
	s.stopOnce = err
	return err
}
