// Command seed bulk-loads the load harness's dataset into a database that `coditect
// migrate up` has migrated: N tenants, each an organization (with its slug and domain)
// with members (accounts, emails, memberships), one workspace, projects and tasks, plus
// an API key (role member) for an evenly spread sample of tenants. It connects as a
// superuser (row-level security is forced on the tenant tables, and only a superuser or
// a BYPASSRLS role may write every tenant's rows in one session), loads with COPY in
// transactions of -chunk tenants (rows are generated while they stream: memory stays
// constant), then runs VACUUM (ANALYZE) and writes the sampled tenants' keys and ids to
// -keys-out for bench/cmd/load.
//
// Ids are deterministic (see bench/internal/benchdata), so SQL and pgbench can compute
// the same ones. Foreign keys, constraints, indexes and triggers all stay on.
//
//	go run ./bench/cmd/seed -db postgres://postgres@127.0.0.1:5432/coditect -tenants 1000
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/coditect/coditect/bench/internal/benchdata"
	"github.com/coditect/coditect/internal/account"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "seed:", err)
		}
		os.Exit(1)
	}
}

type options struct {
	db         string
	shape      benchdata.Shape
	keys       int
	keysOut    string
	chunk      int
	workers    int
	baseDomain string
	vacuum     bool
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o options
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.db, "db", os.Getenv("BENCH_DATABASE_URL"), "superuser URL of the migrated database (default $BENCH_DATABASE_URL)")
	fs.IntVar(&o.shape.Tenants, "tenants", 1000, "tenants (organizations) to create")
	fs.IntVar(&o.shape.Members, "members", 3, "members per tenant (member 1 is the owner)")
	fs.IntVar(&o.shape.Projects, "projects", 5, "projects per tenant (all in one workspace)")
	fs.IntVar(&o.shape.TasksPerProject, "tasks", 20, "tasks per project")
	fs.IntVar(&o.keys, "keys", 1000, "tenants that get an API key (role member), spread evenly over all tenants")
	fs.StringVar(&o.keysOut, "keys-out", "bench-keys.json", "file the sampled tenants' API keys and ids are written to (mode 0600)")
	fs.IntVar(&o.chunk, "chunk", 5000, "tenants per COPY transaction")
	fs.IntVar(&o.workers, "workers", 2, "concurrent loading connections")
	fs.StringVar(&o.baseDomain, "base-domain", "localhost", "organization domains are {slug}.{base-domain} (CODITECT_BASE_DOMAIN)")
	fs.BoolVar(&o.vacuum, "vacuum", true, "VACUUM (ANALYZE) after loading (false: ANALYZE only)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.db == "" {
		return errors.New("-db (or BENCH_DATABASE_URL) is required")
	}
	if err := o.shape.Validate(); err != nil {
		return err
	}
	if o.keys < 1 {
		return errors.New("-keys must be at least 1")
	}
	o.keys = min(o.keys, o.shape.Tenants)
	o.chunk = max(1, o.chunk)
	o.workers = max(1, o.workers)

	conn, err := pgx.Connect(ctx, o.db)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if err := preflight(ctx, conn); err != nil {
		return err
	}

	keys, err := makeKeys(o)
	if err != nil {
		return err
	}
	s := o.shape
	perTenant := 3 + 4*s.Members + 1 + s.Projects + s.Projects*s.TasksPerProject
	fmt.Fprintf(stdout, "seed: %d tenants × (%d members, 1 workspace, %d projects, %d tasks) = %d rows + %d API keys; %d workers, %d tenants per transaction\n",
		s.Tenants, s.Members, s.Projects, s.Projects*s.TasksPerProject, perTenant*s.Tenants, len(keys), o.workers, o.chunk)

	start := time.Now()
	counts, err := load(ctx, o, keys, stdout)
	if err != nil {
		return err
	}
	loadTime := time.Since(start)
	var total int64
	names := make([]string, 0, len(counts))
	for name, n := range counts {
		total += n
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(stdout, "  %-20s %12d rows\n", name, counts[name])
	}
	fmt.Fprintf(stdout, "seed: loaded %d rows in %s: %.0f rows/s\n", total, loadTime.Round(time.Millisecond), float64(total)/loadTime.Seconds())

	stmt, what := "VACUUM (ANALYZE)", "VACUUM (ANALYZE)"
	if !o.vacuum {
		stmt, what = "ANALYZE", "ANALYZE"
	}
	t := time.Now()
	if _, err := conn.Exec(ctx, stmt); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	fmt.Fprintf(stdout, "seed: %s in %s; total %s\n", what, time.Since(t).Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	var size string
	if err := conn.QueryRow(ctx, "SELECT pg_size_pretty(pg_database_size(current_database()))").Scan(&size); err == nil {
		fmt.Fprintf(stdout, "seed: database size %s\n", size)
	}

	f := benchdata.KeysFile{Shape: o.shape}
	for _, k := range keys {
		f.Keys = append(f.Keys, k.Key)
	}
	if err := benchdata.WriteKeys(o.keysOut, f); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "seed: wrote %d API keys to %s\n", len(keys), o.keysOut)
	return nil
}

// preflight checks the database is migrated, empty and that we may write every
// tenant's rows.
func preflight(ctx context.Context, conn *pgx.Conn) error {
	var bypass, migrated bool
	err := conn.QueryRow(ctx, `SELECT r.rolsuper OR r.rolbypassrls, to_regclass('public.tasks') IS NOT NULL
		FROM pg_roles r WHERE r.rolname = current_user`).Scan(&bypass, &migrated)
	if err != nil {
		return err
	}
	if !migrated {
		return errors.New("the database is not migrated: run `coditect migrate up` first")
	}
	if !bypass {
		return errors.New("connect as a superuser (or a BYPASSRLS role): row-level security is forced on the tenant tables")
	}
	var seeded bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM organizations)").Scan(&seeded); err != nil {
		return err
	}
	if seeded {
		return errors.New("the database already has organizations: seed a freshly migrated database")
	}
	return nil
}

// sampleKey is a sampled tenant's key with what its rows need.
type sampleKey struct {
	benchdata.Key
	prefix string
	hash   []byte
}

func makeKeys(o options) ([]sampleKey, error) {
	s := o.shape
	out := make([]sampleKey, o.keys)
	seen := make(map[string]bool, o.keys)
	for i := range out {
		n := benchdata.SampleTenant(i, o.keys, s.Tenants)
		key, prefix, hash := account.NewAPIKeySecret()
		if seen[prefix] {
			return nil, errors.New("API key prefix collision; run again")
		}
		seen[prefix] = true
		k := benchdata.Key{N: n, TenantID: benchdata.TenantID(n), Key: key}
		for p := 1; p <= s.Projects; p++ {
			k.ProjectIDs = append(k.ProjectIDs, benchdata.ProjectID(n, p))
		}
	tasks:
		for p := 1; p <= s.Projects; p++ {
			for t := 1; t <= s.TasksPerProject; t++ {
				if len(k.TaskIDs) == 100 {
					break tasks
				}
				k.TaskIDs = append(k.TaskIDs, benchdata.TaskID(n, p, t))
			}
		}
		out[i] = sampleKey{Key: k, prefix: prefix, hash: hash}
	}
	return out, nil
}

// load runs the chunks on o.workers connections and returns rows per table.
func load(ctx context.Context, o options, keys []sampleKey, stdout io.Writer) (map[string]int64, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	chunks := make(chan int)
	go func() {
		defer close(chunks)
		for lo := 1; lo <= o.shape.Tenants; lo += o.chunk {
			select {
			case chunks <- lo:
			case <-ctx.Done():
				return
			}
		}
	}()

	var (
		mu      sync.Mutex
		counts  = map[string]int64{}
		done    atomic.Int64
		rows    atomic.Int64
		wg      sync.WaitGroup
		start   = time.Now()
		lastLog atomic.Int64
	)
	for range o.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := pgx.Connect(ctx, o.db)
			if err != nil {
				cancel(err)
				return
			}
			defer conn.Close(context.WithoutCancel(ctx))
			for lo := range chunks {
				hi := min(lo+o.chunk-1, o.shape.Tenants)
				c, err := loadChunk(ctx, conn, o, keys, lo, hi)
				if err != nil {
					cancel(fmt.Errorf("tenants %d–%d: %w", lo, hi, err))
					return
				}
				var n int64
				mu.Lock()
				for k, v := range c {
					counts[k] += v
					n += v
				}
				mu.Unlock()
				r := rows.Add(n)
				d := done.Add(int64(hi - lo + 1))
				// A progress line at most every 5 s, and at the end.
				now := time.Since(start)
				if last := lastLog.Load(); d == int64(o.shape.Tenants) || now-time.Duration(last) >= 5*time.Second {
					lastLog.Store(int64(now))
					fmt.Fprintf(stdout, "seed: %d/%d tenants, %d rows, %s, %.0f rows/s\n",
						d, o.shape.Tenants, r, now.Round(time.Second), float64(r)/now.Seconds())
				}
			}
		}()
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	return counts, nil
}

// gen streams per-tenant rows to CopyFrom: row(n, i, vals) fills vals for the i-th
// row (0 ≤ i < per) of tenant n, for tenants lo..hi.
type gen struct {
	n, hi, i, per int
	row           func(n, i int, vals []any)
	vals          []any
	count         int64
}

func (g *gen) Next() bool {
	if g.per == 0 || g.n > g.hi {
		return false
	}
	g.row(g.n, g.i, g.vals)
	g.count++
	if g.i++; g.i == g.per {
		g.i, g.n = 0, g.n+1
	}
	return true
}

func (g *gen) Values() ([]any, error) { return g.vals, nil }
func (g *gen) Err() error             { return nil }

func id(u benchdata.UUID) pgtype.UUID { return pgtype.UUID{Bytes: u, Valid: true} }

var statuses = [...]string{"todo", "in_progress", "done", "todo", "canceled"}

const taskDescription = "Seeded by bench/cmd/seed: a short description so rows have a realistic size."

// loadChunk loads tenants lo..hi in one transaction, parents before children.
func loadChunk(ctx context.Context, conn *pgx.Conn, o options, keys []sampleKey, lo, hi int) (map[string]int64, error) {
	s := o.shape
	due := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	type table struct {
		name string
		cols []string
		per  int
		row  func(n, i int, vals []any)
	}
	tables := []table{
		{"organizations", []string{"id", "slug", "name"}, 1, func(n, _ int, v []any) {
			v[0], v[1], v[2] = id(benchdata.TenantID(n)), benchdata.Slug(n), "Bench tenant "+strconv.Itoa(n)
		}},
		{"tenant_slugs", []string{"slug", "tenant_id"}, 1, func(n, _ int, v []any) {
			v[0], v[1] = benchdata.Slug(n), id(benchdata.TenantID(n))
		}},
		{"tenant_domains", []string{"domain", "tenant_id"}, 1, func(n, _ int, v []any) {
			v[0], v[1] = benchdata.Slug(n)+"."+o.baseDomain, id(benchdata.TenantID(n))
		}},
		{"accounts", []string{"id", "email", "name", "password_hash"}, s.Members, func(n, i int, v []any) {
			// "!" is no valid password hash: seeded people cannot log in, only the keys work.
			v[0], v[1], v[2], v[3] = id(benchdata.AccountID(n, i+1)), email(n, i+1), "Bench member "+strconv.Itoa(i+1), "!"
		}},
		{"account_emails", []string{"email", "account_id"}, s.Members, func(n, i int, v []any) {
			v[0], v[1] = email(n, i+1), id(benchdata.AccountID(n, i+1))
		}},
		{"account_memberships", []string{"account_id", "tenant_id", "role"}, s.Members, func(n, i int, v []any) {
			v[0], v[1], v[2] = id(benchdata.AccountID(n, i+1)), id(benchdata.TenantID(n)), role(i)
		}},
		{"memberships", []string{"tenant_id", "account_id", "role"}, s.Members, func(n, i int, v []any) {
			v[0], v[1], v[2] = id(benchdata.TenantID(n)), id(benchdata.AccountID(n, i+1)), role(i)
		}},
		{"workspaces", []string{"tenant_id", "id", "name"}, 1, func(n, _ int, v []any) {
			v[0], v[1], v[2] = id(benchdata.TenantID(n)), id(benchdata.WorkspaceID(n)), "Main"
		}},
		{"projects", []string{"tenant_id", "id", "workspace_id", "name"}, s.Projects, func(n, i int, v []any) {
			v[0], v[1], v[2], v[3] = id(benchdata.TenantID(n)), id(benchdata.ProjectID(n, i+1)), id(benchdata.WorkspaceID(n)), "Project "+strconv.Itoa(i+1)
		}},
		{"tasks", []string{"tenant_id", "id", "project_id", "title", "description", "status", "assignee_id", "due_at"},
			s.Projects * s.TasksPerProject, func(n, i int, v []any) {
				p, k := i/s.TasksPerProject+1, i%s.TasksPerProject+1
				v[0], v[1], v[2] = id(benchdata.TenantID(n)), id(benchdata.TaskID(n, p, k)), id(benchdata.ProjectID(n, p))
				v[3], v[4], v[5] = "Task "+strconv.Itoa(k)+" of project "+strconv.Itoa(p), taskDescription, statuses[i%len(statuses)]
				v[6], v[7] = nil, nil
				if i%2 == 0 { // every other task is assigned, round robin over the members
					v[6] = id(benchdata.AccountID(n, (i/2)%s.Members+1))
				}
				if i%3 == 0 {
					v[7] = due
				}
			}},
	}

	counts := map[string]int64{}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck
	for _, t := range tables {
		g := &gen{n: lo, hi: hi, per: t.per, row: t.row, vals: make([]any, len(t.cols))}
		n, err := tx.CopyFrom(ctx, pgx.Identifier{t.name}, t.cols, g)
		if err != nil {
			return nil, fmt.Errorf("COPY %s: %w", t.name, err)
		}
		counts[t.name] = n
	}

	// The sampled tenants in lo..hi get their API key.
	i := sort.Search(len(keys), func(i int) bool { return keys[i].N >= lo })
	j := sort.Search(len(keys), func(i int) bool { return keys[i].N > hi })
	if mine := keys[i:j]; len(mine) > 0 {
		rows := make([][]any, 0, len(mine))
		prefixes := make([][]any, 0, len(mine))
		for _, k := range mine {
			kid := id(benchdata.APIKeyID(k.N))
			rows = append(rows, []any{id(k.TenantID), kid, "bench", k.prefix, k.hash, "member", id(benchdata.AccountID(k.N, 1))})
			prefixes = append(prefixes, []any{k.prefix, id(k.TenantID), kid})
		}
		n, err := tx.CopyFrom(ctx, pgx.Identifier{"api_keys"}, []string{"tenant_id", "id", "name", "prefix", "secret_hash", "role", "created_by"}, pgx.CopyFromRows(rows))
		if err != nil {
			return nil, fmt.Errorf("COPY api_keys: %w", err)
		}
		counts["api_keys"] = n
		n, err = tx.CopyFrom(ctx, pgx.Identifier{"api_key_prefixes"}, []string{"prefix", "tenant_id", "key_id"}, pgx.CopyFromRows(prefixes))
		if err != nil {
			return nil, fmt.Errorf("COPY api_key_prefixes: %w", err)
		}
		counts["api_key_prefixes"] = n
	}
	return counts, tx.Commit(ctx)
}

func email(n, m int) string {
	return "m" + strconv.Itoa(m) + "-t" + strconv.Itoa(n) + "@bench.coditect.test"
}

func role(i int) string {
	if i == 0 {
		return "owner"
	}
	return "member"
}
