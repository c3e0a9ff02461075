package httpapi

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/coditect/coditect/internal/account"
	"github.com/coditect/coditect/internal/audit"
	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/identity"
	"github.com/coditect/coditect/internal/identity/token"
	"github.com/coditect/coditect/internal/postgres"
	"github.com/coditect/coditect/internal/postgres/postgrestest"
	"github.com/coditect/coditect/internal/work"
)

// Handler benchmarks: one request through NewServer (middleware, authentication,
// tenant resolution, the work service, the store, JSON) against a real database,
// without the network in front. Each reports the database round trips a request took
// (roundtrips/op: writes to the database connections). bench/README.md has the load
// harness that drives a running server.
//
//	go test ./internal/httpapi/ -run '^$' -bench HandlerHotPath -benchtime 3000x

// benchConn counts the writes to a database connection.
type benchConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c benchConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// benchAPI is the API over the real services, wired as cmd/coditect wires it, with an
// organization that has projects and tasks, a member API key and an access token.
type benchAPI struct {
	handler  http.Handler
	writes   *atomic.Int64
	org      coditect.TenantID
	projects []coditect.ProjectID
	tasks    []coditect.TaskID
	apiKey   string
	token    string // an access token of the owner without a session (no session lookup)
}

func newBenchAPI(b *testing.B) *benchAPI {
	b.Helper()
	ctx := context.Background()
	db := postgrestest.New(b)
	cfg, err := pgxpool.ParseConfig(db.AppURL)
	if err != nil {
		b.Fatal(err)
	}
	cfg.MaxConns = 8
	a := &benchAPI{writes: &atomic.Int64{}}
	dial := cfg.ConnConfig.DialFunc
	cfg.ConnConfig.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return benchConn{Conn: c, writes: a.writes}, nil
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	store, err := postgres.NewStore(pool)
	if err != nil {
		b.Fatal(err)
	}

	key, err := token.GenerateKey("")
	if err != nil {
		b.Fatal(err)
	}
	keys, err := token.NewKeySet(key)
	if err != nil {
		b.Fatal(err)
	}
	const baseURL, baseDomain = "https://coditect.test", "coditect.test"
	argon := identity.Argon2Params{MemoryKiB: 8 * 1024, Iterations: 1, Parallelism: 1}
	issuer, err := token.NewIssuer(func() token.KeySet { return keys }, baseURL, 15*time.Minute, nil)
	if err != nil {
		b.Fatal(err)
	}
	accts := account.NewService(postgres.AccountStore{Store: store}, store, store, baseDomain, time.Now)
	ids, err := identity.NewService(identity.Config{
		Argon2: argon, AppSecret: []byte("an application secret of at least 32 bytes, for benchmarks"),
		BaseURL: baseURL, BaseDomain: baseDomain,
	}, identity.Deps{Store: store, Accounts: postgres.AccountStore{Store: store}, Tokens: issuer,
		Throttle: identity.NewMemoryThrottle(nil), Jobs: store})
	if err != nil {
		b.Fatal(err)
	}
	workSvc := work.NewService(postgres.WorkStore{Store: store}, postgres.WorkStore{Store: store})
	reg := prometheus.NewRegistry()
	// Request logs at info, as in production, formatted and thrown away.
	a.handler = NewServer(Deps{
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)), Registerer: reg, Gatherer: reg, Version: "bench",
		Identity: ids, Accounts: accts, Work: workSvc, Audit: audit.NewService(store),
		Idempotency: postgres.IdempotencyKeys{Store: store}, JWKS: keys.JWKS, CookieSecure: true, BaseDomain: baseDomain,
		HashPassword: func(p string) (string, error) { return identity.HashPassword(p, argon) },
		CursorKey:    []byte("a cursor key of at least thirty-two bytes!"),
	})

	// An organization with its owner, the way sign-up makes one.
	a.org = coditect.NewID[coditect.TenantID]()
	owner := coditect.NewID[coditect.AccountID]()
	octx := coditect.WithActor(ctx, coditect.Actor{Kind: coditect.ActorAccount, AccountID: owner, Tenant: a.org, Role: coditect.RoleOwner})
	err = store.InTx(octx, func(tx *postgres.Tx) error {
		if err := tx.AccountCreate(octx, account.Account{ID: owner, Email: "bench@example.test", Name: "Bench", PasswordHash: "!"}); err != nil {
			return err
		}
		if _, err := tx.OrganizationCreate(octx, account.Organization{ID: a.org, Slug: "bench", Name: "Bench"}, "bench."+baseDomain); err != nil {
			return err
		}
		return tx.MembershipCreate(octx, owner, coditect.RoleOwner)
	})
	if err != nil {
		b.Fatal(err)
	}
	ws, err := workSvc.CreateWorkspace(octx, work.CreateWorkspaceParams{Name: "Main"})
	if err != nil {
		b.Fatal(err)
	}
	for p := range 5 {
		pr, err := workSvc.CreateProject(octx, work.CreateProjectParams{WorkspaceID: ws.ID, Name: fmt.Sprint("Project ", p+1)})
		if err != nil {
			b.Fatal(err)
		}
		a.projects = append(a.projects, pr.ID)
		for k := range 20 {
			t, err := workSvc.CreateTask(octx, work.CreateTaskParams{ProjectID: pr.ID, Title: fmt.Sprint("Task ", k+1)})
			if err != nil {
				b.Fatal(err)
			}
			a.tasks = append(a.tasks, t.ID)
		}
	}
	k, err := accts.CreateAPIKey(octx, "bench", coditect.RoleMember)
	if err != nil {
		b.Fatal(err)
	}
	a.apiKey = k.Secret
	if a.token, _, err = issuer.Issue(owner, coditect.SessionID{}); err != nil {
		b.Fatal(err)
	}
	return a
}

// run sends one request per iteration built by req(i) and checks its status.
func (a *benchAPI) run(b *testing.B, want int, req func(i int) *http.Request) {
	b.Helper()
	b.ReportAllocs()
	a.writes.Store(0)
	n := 0
	for b.Loop() {
		rec := httptest.NewRecorder()
		a.handler.ServeHTTP(rec, req(n))
		if rec.Code != want {
			b.Fatalf("status %d, want %d: %s", rec.Code, want, rec.Body.String())
		}
		n++
	}
	b.ReportMetric(float64(a.writes.Load())/float64(n), "roundtrips/op")
}

func (a *benchAPI) request(method, path, credential, body string) *http.Request {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, "/v1/orgs/"+a.org.String()+path, rd)
	r.RemoteAddr = "127.0.0.1:40000"
	r.Header.Set("Authorization", "Bearer "+credential)
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	return r
}

// BenchmarkHandlerHotPathGetTask is GET /v1/orgs/{org}/tasks/{id} with an API key (the
// load harness's credential: prefix lookup, key read, then the task) and with an
// access token that has no session (the token is checked locally; the membership read,
// then the task).
func BenchmarkHandlerHotPathGetTask(b *testing.B) {
	a := newBenchAPI(b)
	b.Run("api_key", func(b *testing.B) {
		a.run(b, http.StatusOK, func(i int) *http.Request {
			return a.request(http.MethodGet, "/tasks/"+a.tasks[i%len(a.tasks)].String(), a.apiKey, "")
		})
	})
	b.Run("access_token", func(b *testing.B) {
		a.run(b, http.StatusOK, func(i int) *http.Request {
			return a.request(http.MethodGet, "/tasks/"+a.tasks[i%len(a.tasks)].String(), a.token, "")
		})
	})
}

// BenchmarkHandlerHotPathListProjects is GET /v1/orgs/{org}/projects (five projects)
// with an API key.
func BenchmarkHandlerHotPathListProjects(b *testing.B) {
	a := newBenchAPI(b)
	a.run(b, http.StatusOK, func(int) *http.Request {
		return a.request(http.MethodGet, "/projects", a.apiKey, "")
	})
}

// BenchmarkHandlerHotPathCreateTask is POST /v1/orgs/{org}/projects/{id}/tasks with
// an API key: the task and its audit row in one transaction.
func BenchmarkHandlerHotPathCreateTask(b *testing.B) {
	a := newBenchAPI(b)
	a.run(b, http.StatusCreated, func(i int) *http.Request {
		return a.request(http.MethodPost, "/projects/"+a.projects[i%len(a.projects)].String()+"/tasks", a.apiKey,
			fmt.Sprintf(`{"title":"Bench task %d","description":"Created by a benchmark."}`, i))
	})
}

// BenchmarkHandlerHotPathUpdateTask is PATCH /v1/orgs/{org}/tasks/{id} with an API key:
// lock, change the title, audit row.
func BenchmarkHandlerHotPathUpdateTask(b *testing.B) {
	a := newBenchAPI(b)
	a.run(b, http.StatusOK, func(i int) *http.Request {
		return a.request(http.MethodPatch, "/tasks/"+a.tasks[i%len(a.tasks)].String(), a.apiKey, fmt.Sprintf(`{"title":"Updated %d"}`, i))
	})
}

// BenchmarkHandlerHotPathGetTaskParallel is BenchmarkHandlerHotPathGetTask/api_key from
// 16 goroutines per CPU at once (the pool has 8 connections), for the handler path's
// throughput and CPU profile under contention.
func BenchmarkHandlerHotPathGetTaskParallel(b *testing.B) {
	a := newBenchAPI(b)
	b.ReportAllocs()
	b.SetParallelism(16)
	a.writes.Store(0)
	var n atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(n.Add(1))
			rec := httptest.NewRecorder()
			a.handler.ServeHTTP(rec, a.request(http.MethodGet, "/tasks/"+a.tasks[i%len(a.tasks)].String(), a.apiKey, ""))
			if rec.Code != http.StatusOK {
				b.Errorf("status %d: %s", rec.Code, rec.Body.String())
				return
			}
		}
	})
	b.ReportMetric(float64(a.writes.Load())/float64(n.Load()), "roundtrips/op")
}
