package export_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/account"
	"github.com/coditect/coditect/internal/audit"
	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/export"
	"github.com/coditect/coditect/internal/postgres"
	"github.com/coditect/coditect/internal/postgres/postgrestest"
	"github.com/coditect/coditect/internal/storage"
	"github.com/coditect/coditect/internal/work"
)

// clock is a settable offset from the real time, shared by the service under test.
type clock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *clock) set(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset = d
}

// org is one tenant with an account of every role.
type org struct {
	id                                   coditect.TenantID
	slug                                 string
	owner, admin, member, viewer         context.Context
	ownerID, adminID, memberID, viewerID coditect.AccountID
	system                               context.Context // what the job runs as
}

func (o org) accounts() []coditect.AccountID {
	return []coditect.AccountID{o.ownerID, o.adminID, o.memberID, o.viewerID}
}

// fixture is a fresh database with tenants A and B and an export service over a
// temporary storage directory.
type fixture struct {
	store *postgres.Store
	es    postgres.ExportStore
	db    postgrestest.DB
	admin *pgxpool.Pool
	files *storage.Dir
	dir   string
	clock *clock
	svc   *export.Service
	work  *work.Service
	a, b  org
}

const ttl = 7 * 24 * time.Hour

func setup(t *testing.T) fixture {
	t.Helper()
	store, db := postgrestest.NewStore(t)
	f := fixture{store: store, es: postgres.ExportStore{Store: store}, db: db, admin: postgrestest.Pool(t, db.AdminURL), clock: &clock{}}
	f.dir = t.TempDir()
	files, err := storage.NewDir(f.dir)
	require.NoError(t, err)
	t.Cleanup(func() { _ = files.Close() })
	f.files = files
	// Small pages make even a small tenant take many round trips.
	f.svc = export.NewService(f.es, files, export.Config{TTL: ttl, TempDir: t.TempDir(), PageSize: 3, Now: f.clock.Now})
	ws := postgres.WorkStore{Store: store}
	f.work = work.NewService(ws, ws)
	f.a = newOrg(t, store, "alpha")
	f.b = newOrg(t, store, "bravo")
	return f
}

var clientIP = netip.MustParseAddr("203.0.113.9")

func actor(id coditect.AccountID, tenant coditect.TenantID, role coditect.Role) context.Context {
	ctx := coditect.WithActor(context.Background(), coditect.Actor{Kind: coditect.ActorAccount, AccountID: id, Tenant: tenant, Role: role})
	return audit.WithInfo(ctx, audit.RequestInfo{IP: &clientIP, UserAgent: "export-test/1"})
}

// newOrg creates an organization with an owner, an admin, a member and a viewer.
func newOrg(t *testing.T, store *postgres.Store, slug string) org {
	t.Helper()
	o := org{id: coditect.NewID[coditect.TenantID](), slug: slug}
	o.ownerID, o.adminID = coditect.NewID[coditect.AccountID](), coditect.NewID[coditect.AccountID]()
	o.memberID, o.viewerID = coditect.NewID[coditect.AccountID](), coditect.NewID[coditect.AccountID]()
	o.owner = actor(o.ownerID, o.id, coditect.RoleOwner)
	o.admin = actor(o.adminID, o.id, coditect.RoleAdmin)
	o.member = actor(o.memberID, o.id, coditect.RoleMember)
	o.viewer = actor(o.viewerID, o.id, coditect.RoleViewer)
	o.system = coditect.WithActor(context.Background(), coditect.SystemActor(o.id))
	err := store.InTx(o.owner, func(tx *postgres.Tx) error {
		if _, err := tx.OrganizationCreate(o.owner, account.Organization{ID: o.id, Slug: slug, Name: slug + " Inc."}, slug+".coditect.test"); err != nil {
			return err
		}
		for _, m := range []struct {
			id   coditect.AccountID
			role coditect.Role
		}{{o.ownerID, coditect.RoleOwner}, {o.adminID, coditect.RoleAdmin}, {o.memberID, coditect.RoleMember}, {o.viewerID, coditect.RoleViewer}} {
			if err := tx.AccountCreate(o.owner, accountOf(m.id, slug)); err != nil {
				return err
			}
			if err := tx.MembershipCreate(o.owner, m.id, m.role); err != nil {
				return err
			}
		}
		return nil
	})
	require.NoError(t, err)
	return o
}

func accountOf(id coditect.AccountID, tag string) account.Account {
	return account.Account{ID: id, Email: tag + "-" + id.String() + "@example.com", Name: tag + " person", PasswordHash: "x"}
}

// copyAccounts creates the accounts of o (same ids and emails) in another database.
func copyAccounts(t *testing.T, store *postgres.Store, o org, except ...coditect.AccountID) {
	t.Helper()
	skip := map[coditect.AccountID]bool{}
	for _, id := range except {
		skip[id] = true
	}
	ctx := coditect.WithActor(context.Background(), coditect.SystemActor(coditect.NewID[coditect.TenantID]()))
	require.NoError(t, store.InTx(ctx, func(tx *postgres.Tx) error {
		for _, id := range o.accounts() {
			if skip[id] {
				continue
			}
			if err := tx.AccountCreate(ctx, accountOf(id, o.slug)); err != nil {
				return err
			}
		}
		return nil
	}))
}

// populate gives o work through the work service (so audit rows, with IPs and
// changes, come the real way): workspaces, projects, and tasks, some assigned to the
// member, some with due dates, some updated. Names carry tag.
func populate(t *testing.T, f fixture, o org, tag string) {
	t.Helper()
	due := time.Date(2030, 1, 2, 3, 4, 5, 678901000, time.UTC)
	for w := range 2 {
		ws, err := f.work.CreateWorkspace(o.member, work.CreateWorkspaceParams{Name: tag + " workspace " + string(rune('A'+w)), Description: "ünïcödé \"quoted\"\nline"})
		require.NoError(t, err)
		for p := range 2 {
			pr, err := f.work.CreateProject(o.member, work.CreateProjectParams{WorkspaceID: ws.ID, Name: tag + " project " + string(rune('A'+p))})
			require.NoError(t, err)
			for k := range 3 {
				params := work.CreateTaskParams{ProjectID: pr.ID, Title: tag + " task " + string(rune('a'+k)), Description: "<b>&</b>"}
				if k == 0 {
					params.AssigneeID = &o.memberID
					params.DueAt = &due
				}
				task, err := f.work.CreateTask(o.member, params)
				require.NoError(t, err)
				if k == 1 {
					st := work.TaskInProgress
					_, err = f.work.UpdateTask(o.admin, task.ID, work.UpdateTaskParams{Status: &st}, "")
					require.NoError(t, err)
				}
			}
		}
	}
}

// archive is an export archive read back by the test, independently of the importer.
type archive struct {
	manifest export.Manifest
	order    []string
	files    map[string][]byte
	raw      []byte
}

func readTarGz(t *testing.T, raw []byte) archive {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(raw))
	require.NoError(t, err)
	tr := tar.NewReader(gz)
	a := archive{files: map[string][]byte{}, raw: raw}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		require.Equal(t, byte(tar.TypeReg), hdr.Typeflag)
		require.EqualValues(t, 0o600, hdr.Mode)
		b, err := io.ReadAll(tr)
		require.NoError(t, err)
		a.order = append(a.order, hdr.Name)
		a.files[hdr.Name] = b
	}
	require.NoError(t, json.Unmarshal(a.files[export.ManifestName], &a.manifest))
	return a
}

// rewrite returns raw with each entry's body passed through edit (nil: dropped), plus
// extra entries appended.
func rewrite(t *testing.T, raw []byte, edit func(name string, body []byte) []byte, extra map[string][]byte) []byte {
	t.Helper()
	a := readTarGz(t, raw)
	var out bytes.Buffer
	gz := gzip.NewWriter(&out)
	tw := tar.NewWriter(gz)
	put := func(name string, body []byte) {
		require.NoError(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o600, Size: int64(len(body))}))
		_, err := tw.Write(body)
		require.NoError(t, err)
	}
	for _, name := range a.order {
		if body := edit(name, a.files[name]); body != nil {
			put(name, body)
		}
	}
	for name, body := range extra {
		put(name, body)
	}
	require.NoError(t, tw.Close())
	require.NoError(t, gz.Close())
	return out.Bytes()
}

// exportOf requests an export of o as its admin, runs the job and downloads it.
func exportOf(t *testing.T, f fixture, o org) (export.Export, []byte) {
	t.Helper()
	e, err := f.svc.RequestExport(o.admin)
	require.NoError(t, err)
	require.NoError(t, f.svc.Run(o.system, e.ID))
	r, size, _, err := f.svc.Download(o.admin, e.ID)
	require.NoError(t, err)
	defer r.Close()
	raw, err := io.ReadAll(r)
	require.NoError(t, err)
	require.EqualValues(t, size, len(raw))
	e, err = f.svc.Export(o.admin, e.ID)
	require.NoError(t, err)
	return e, raw
}

func requireCode(t *testing.T, err error, code coditect.Code) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, code, coditect.ErrorCode(err), "got %v", err)
}
