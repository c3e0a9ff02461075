package postgres_test

import (
	"context"
	"fmt"
	"net"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/coditect/coditect/internal/account"
	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/postgres"
	"github.com/coditect/coditect/internal/postgres/postgrestest"
	"github.com/coditect/coditect/internal/work"
)

// The work store's hot paths (what GET /tasks/{id}, GET /projects and POST
// /projects/{id}/tasks run), each also reporting the database round trips it took
// (roundtrips/op: writes to the connection, one per pipelined batch or statement).
// bench/README.md has the load harness; these isolate the store.
//
//	go test ./internal/postgres/ -run '^$' -bench HotPath -benchtime 5000x
//
// The test server (make test, scripts/test-services.sh) runs with fsync off, so
// the write benchmark leaves out the commit's flush.

// wbConn counts the writes to a database connection.
type wbConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c wbConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// wbBundle is a store as the application role whose connections count their writes.
type wbBundle struct {
	store  *postgres.Store
	writes *atomic.Int64
}

func wbSetup(b *testing.B) wbBundle {
	b.Helper()
	db := postgrestest.New(b)
	cfg, err := pgxpool.ParseConfig(db.AppURL)
	if err != nil {
		b.Fatal(err)
	}
	cfg.MaxConns = 8
	writes := &atomic.Int64{}
	dial := cfg.ConnConfig.DialFunc
	cfg.ConnConfig.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return wbConn{Conn: c, writes: writes}, nil
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	store, err := postgres.NewStore(pool)
	if err != nil {
		b.Fatal(err)
	}
	return wbBundle{store: store, writes: writes}
}

// wbTenant is a tenant with a workspace, projects and tasks.
type wbTenant struct {
	ctx      context.Context
	owner    coditect.AccountID
	projects []coditect.ProjectID
	tasks    []coditect.TaskID
}

func wbNewTenant(b *testing.B, bn wbBundle, slug string, projects, tasksPerProject int) wbTenant {
	b.Helper()
	ctx, owner := newTenant(b, bn.store, slug)
	t := wbTenant{ctx: ctx, owner: owner}
	err := bn.store.InTx(ctx, func(tx *postgres.Tx) error {
		w, err := tx.WorkspaceCreate(ctx, work.Workspace{ID: coditect.NewID[coditect.WorkspaceID](), Name: "bench"})
		if err != nil {
			return err
		}
		for p := range projects {
			pr, err := tx.ProjectCreate(ctx, work.Project{ID: coditect.NewID[coditect.ProjectID](), WorkspaceID: w.ID, Name: fmt.Sprint("project ", p)})
			if err != nil {
				return err
			}
			t.projects = append(t.projects, pr.ID)
			for k := range tasksPerProject {
				tk, err := tx.TaskCreate(ctx, work.Task{ID: coditect.NewID[coditect.TaskID](), ProjectID: pr.ID, Title: fmt.Sprint("task ", k), Status: work.TaskTodo})
				if err != nil {
					return err
				}
				t.tasks = append(t.tasks, tk.ID)
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return t
}

// wbMeasure resets the write counter when the loop starts and reports round trips per
// operation when it ends.
func wbMeasure(b *testing.B, bn wbBundle, op func(i int)) {
	b.Helper()
	b.ReportAllocs()
	bn.writes.Store(0)
	n := 0
	for b.Loop() {
		op(n)
		n++
	}
	b.ReportMetric(float64(bn.writes.Load())/float64(n), "roundtrips/op")
}

// BenchmarkHotPathTaskGet reads one task, over and over (one_tenant), and one task of
// each of 1,024 tenants in turn (many_tenants). The store inlines the tenant into
// SET LOCAL app.tenant_id = '…' and pgx prepares and caches every distinct statement
// text (512 per connection), so a tenant not in the connection's cache costs extra
// round trips: preparing its SET, and deallocating the statements the cache evicts.
func BenchmarkHotPathTaskGet(b *testing.B) {
	b.Run("one_tenant", func(b *testing.B) {
		bn := wbSetup(b)
		t := wbNewTenant(b, bn, "bench-one", 1, 1)
		wbMeasure(b, bn, func(int) {
			if _, err := bn.store.TaskGet(t.ctx, t.tasks[0]); err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("many_tenants", func(b *testing.B) {
		bn := wbSetup(b)
		tenants := make([]wbTenant, 1024)
		for i := range tenants {
			tenants[i] = wbNewTenant(b, bn, fmt.Sprintf("bench-%d", i), 1, 1)
		}
		wbMeasure(b, bn, func(i int) {
			t := tenants[i%len(tenants)]
			if _, err := bn.store.TaskGet(t.ctx, t.tasks[0]); err != nil {
				b.Fatal(err)
			}
		})
	})
}

// BenchmarkHotPathProjectList reads the first page of a tenant's five projects, as GET
// /v1/orgs/{org}/projects does (limit 50, so the store asks for 51).
func BenchmarkHotPathProjectList(b *testing.B) {
	bn := wbSetup(b)
	t := wbNewTenant(b, bn, "bench-list", 5, 0)
	wbMeasure(b, bn, func(int) {
		ps, err := bn.store.ProjectList(t.ctx, work.ProjectFilter{}, work.Page{Limit: 51})
		if err != nil || len(ps) != 5 {
			b.Fatal(len(ps), err)
		}
	})
}

// BenchmarkHotPathTaskCreate inserts a task in its own transaction (store.InTx), without
// the audit row the service adds.
func BenchmarkHotPathTaskCreate(b *testing.B) {
	bn := wbSetup(b)
	t := wbNewTenant(b, bn, "bench-create", 1, 0)
	wbMeasure(b, bn, func(int) {
		err := bn.store.InTx(t.ctx, func(tx *postgres.Tx) error {
			_, err := tx.TaskCreate(t.ctx, work.Task{ID: coditect.NewID[coditect.TaskID](), ProjectID: t.projects[0], Title: "bench", Status: work.TaskTodo})
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkHotPathAPIKeyLookup is the store half of authenticating an API key: the global
// prefix → key lookup, then reading the key in its tenant. The lookup runs in a
// global (not single-statement) transaction, so its COMMIT is a round trip of its own.
func BenchmarkHotPathAPIKeyLookup(b *testing.B) {
	bn := wbSetup(b)
	t := wbNewTenant(b, bn, "bench-key", 0, 0)
	_, prefix, hash := account.NewAPIKeySecret()
	id := coditect.NewID[coditect.APIKeyID]()
	err := bn.store.InTx(t.ctx, func(tx *postgres.Tx) error {
		return tx.APIKeyCreate(t.ctx, account.APIKey{ID: id, Name: "bench", Prefix: prefix, SecretHash: hash, Role: coditect.RoleMember})
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	wbMeasure(b, bn, func(int) {
		tenant, key, err := bn.store.APIKeyByPrefix(ctx, prefix)
		if err != nil || key != id {
			b.Fatal(key, err)
		}
		kctx := coditect.WithActor(ctx, coditect.Actor{Kind: coditect.ActorAPIKey, APIKeyID: key, Tenant: tenant, Role: coditect.RoleViewer})
		if _, err := bn.store.APIKeyGet(kctx, key); err != nil {
			b.Fatal(err)
		}
	})
}
