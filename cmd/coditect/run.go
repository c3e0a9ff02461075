package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/riverqueue/river/rivertype"

	"github.com/coditect/coditect/internal/config"
	"github.com/coditect/coditect/internal/httpapi"
	"github.com/coditect/coditect/internal/identity"
	jobadmin "github.com/coditect/coditect/internal/jobs"
	"github.com/coditect/coditect/internal/postgres"
	"github.com/coditect/coditect/internal/redis"
	"github.com/coditect/coditect/internal/telemetry"
	apiusage "github.com/coditect/coditect/internal/usage"
	"github.com/coditect/coditect/internal/worker"
	"github.com/coditect/coditect/web"
)

// version is stamped at build time: go build -ldflags "-X main.version=v1.2.3".
var version = "dev"

const usage = `coditect — multi-tenant SaaS platform

Usage:
  coditect dev [--addr :8080] [--data-dir .coditect]   zero-config local platform (private PostgreSQL if DATABASE_URL is unset)
  coditect serve [--workers]                           HTTP API (and, with --workers, the background workers)
  coditect worker                                      background and scheduled jobs
  coditect migrate up | down [N | --all] | status      schema migrations (as DATABASE_OWNER_URL)
  coditect jobs list [--state S] [--kind K] [--limit N] [--json] | retry ID | cancel ID
                                                       inspect and act on background jobs
  coditect tenant export ORG FILE                      write an organization's data (slug or id) to a new archive FILE
  coditect tenant import FILE                          load an export archive into this database (organization must not exist)
  coditect openapi                                     print the API's OpenAPI 3.1 document (as GET /v1/openapi.json serves it)
  coditect version                                     print the version

Configuration comes from environment variables; see the README.
`

// run is the whole program; main only calls it. Every dependency is built here and
// passed into constructors.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) < 2 {
		fmt.Fprint(stderr, usage)
		return errors.New("missing command")
	}
	cmd, rest := args[1], args[2:]
	switch cmd {
	case "version", "--version":
		fmt.Fprintln(stdout, "coditect", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	case "migrate":
		return runMigrate(ctx, rest, getenv, stdout)
	case "serve":
		return runServe(ctx, rest, getenv, stdout, stderr)
	case "worker":
		return runWorker(ctx, rest, getenv, stdout, stderr)
	case "jobs":
		return runJobs(ctx, rest, getenv, stdout, stderr)
	case "tenant":
		return runTenant(ctx, rest, getenv, stdout, stderr)
	case "dev":
		return runDev(ctx, rest, getenv, stdout, stderr)
	case "openapi":
		return runOpenAPI(rest, stdout)
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}

// runOpenAPI prints the API's OpenAPI document (what GET /v1/openapi.json serves) without
// a database, so the web app's typed client can be generated from it at build time.
func runOpenAPI(args []string, stdout io.Writer) error {
	if len(args) > 0 {
		return fmt.Errorf("openapi: takes no arguments, got %q", args)
	}
	// A stand-in provider handler only documents the OAuth routes; nothing is served.
	doc := httpapi.OpenAPIDocument(httpapi.Deps{Version: version, OAuth: http.NotFoundHandler()})
	_, err := stdout.Write(append(doc, '\n'))
	return err
}

// newLogger is the process's JSON logger: every line inside a request or job carries
// its trace, request, tenant and account ids, and secret-named fields are redacted.
func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(telemetry.NewLogHandler(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})))
}

func flags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("coditect "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func runMigrate(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	cfg, err := config.Load(getenv, false)
	if err != nil {
		return err
	}
	if cfg.DatabaseOwnerURL == "" {
		return errors.New("DATABASE_OWNER_URL (or DATABASE_URL): is required for migrations (a postgres:// URL of the schema owner)")
	}
	if len(args) == 0 {
		return errors.New("migrate: want up, down [N | --all] or status")
	}
	return migrate(ctx, cfg.DatabaseOwnerURL, args, stdout)
}

func migrate(ctx context.Context, ownerURL string, args []string, stdout io.Writer) error {
	m, err := postgres.NewMigrator(ctx, ownerURL, func(f string, a ...any) { fmt.Fprintf(stdout, f+"\n", a...) })
	if err != nil {
		return err
	}
	defer m.Close(context.WithoutCancel(ctx))
	switch args[0] {
	case "up":
		return m.Up(ctx)
	case "down":
		steps, all := 1, false
		if len(args) > 1 {
			if args[1] == "--all" {
				all = true
			} else if steps, err = strconv.Atoi(args[1]); err != nil || steps < 1 {
				return fmt.Errorf("migrate down: want a number of steps or --all, got %q", args[1])
			}
		}
		return m.Down(ctx, steps, all)
	case "status":
		states, rv, rl, err := m.Status(ctx)
		if err != nil {
			return err
		}
		for _, s := range states {
			status := "pending"
			if s.AppliedAt != nil {
				status = "applied " + s.AppliedAt.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(stdout, "%04d_%-30s %s\n", s.Version, s.Name, status)
		}
		fmt.Fprintf(stdout, "river schema: version %d of %d\n", rv, rl)
		return nil
	}
	return fmt.Errorf("migrate: unknown action %q (want up, down or status)", args[0])
}

func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flags("serve", stderr)
	workers := fs.Bool("workers", false, "also run the background workers in this process")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := config.Load(getenv, true)
	if err != nil {
		return err
	}
	cfg.Workers = cfg.Workers || *workers
	return serve(ctx, cfg, ".coditect", newLogger(stderr, cfg.LogLevel), stdout, nil)
}

func runWorker(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if err := flags("worker", stderr).Parse(args); err != nil {
		return err
	}
	cfg, err := config.Load(getenv, true)
	if err != nil {
		return err
	}
	log := newLogger(stderr, cfg.LogLevel)
	tel, err := telemetry.New(ctx, cfg.Telemetry, version)
	if err != nil {
		return err
	}
	defer logShutdown(ctx, tel, log)
	pool, store, err := openStore(ctx, cfg, tel)
	if err != nil {
		return err
	}
	defer pool.Close()
	reg := newRegistry(pool)
	// Jobs write tenant data too: with Redis configured they drop the caches like the
	// API does.
	rl, err := openRedis(cfg, store, reg, log, tel)
	if err != nil {
		return err
	}
	defer rl.close()
	svc, err := newServices(ctx, cfg, store, rl, ".coditect", log, tel)
	if err != nil {
		return err
	}
	defer svc.close()
	gauges, err := apiusage.NewPlatformGauges(reg, store)
	if err != nil {
		return err
	}
	go gauges.Run(ctx, time.Minute, func(err error) { log.Warn("refresh business gauges", "error", err.Error()) })
	w, err := newWorker(pool, store, svc, cfg, reg, log, tel)
	if err != nil {
		return err
	}
	// A worker serves only its probes and metrics, on CODITECT_ADDR (or on
	// CODITECT_METRICS_ADDR when that is set).
	addr := cfg.Addr
	if cfg.MetricsAddr != "" {
		addr = cfg.MetricsAddr
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("CODITECT_ADDR: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	})
	probe := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = probe.Serve(ln) }()
	defer probe.Close()
	log.Info("worker started", "concurrency", cfg.WorkerConcurrency, "metrics", ln.Addr().String())
	fmt.Fprintf(stdout, "coditect worker: metrics on http://%s/metrics\n", ln.Addr())
	return w.Run(ctx, cfg.ShutdownTimeout)
}

// runJobs is `coditect jobs`: list failed or waiting jobs, retry or cancel one.
func runJobs(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := config.Load(getenv, true)
	if err != nil {
		return err
	}
	pool, err := postgres.Connect(ctx, cfg.DatabaseURL, 2)
	if err != nil {
		return err
	}
	defer pool.Close()
	admin, err := jobadmin.NewAdmin(pool)
	if err != nil {
		return err
	}
	return jobadmin.Command(ctx, admin, args, stdout, stderr)
}

// newRegistry is the process's Prometheus registry: Go runtime, process and pool stats.
func newRegistry(pool *pgxpool.Pool) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), postgres.NewPoolCollector(pool))
	return reg
}

// newWorker builds the job runner with its metrics and fair enqueueing.
func newWorker(pool *pgxpool.Pool, store *postgres.Store, svc *services, cfg config.Config, reg prometheus.Registerer, log *slog.Logger, tel *telemetry.Telemetry) (*worker.Worker, error) {
	metrics, err := worker.NewMetrics(reg, store)
	if err != nil {
		return nil, err
	}
	tracing := worker.NewTracing(tel)
	return worker.New(pool, jobs(svc, cfg, log), worker.Config{Concurrency: cfg.WorkerConcurrency, Metrics: metrics,
		Fair: worker.NewFairEnqueue(store, log), Middleware: []rivertype.Middleware{tracing}}, log)
}

// openStore opens the pool (traced when tracing is on) and the store, whose job
// inserts are fair and carry the trace context.
func openStore(ctx context.Context, cfg config.Config, tel *telemetry.Telemetry) (*pgxpool.Pool, *postgres.Store, error) {
	var tracer pgx.QueryTracer
	if tel.Enabled() {
		tracer = tel.PgxTracer()
	}
	pool, err := postgres.Connect(ctx, cfg.DatabaseURL, cfg.DatabaseMaxConns, tracer)
	if err != nil {
		return nil, nil, err
	}
	store, err := postgres.NewStore(pool)
	if err == nil {
		// Jobs enqueued by requests get a priority from their tenant's backlog, so one
		// tenant's flood cannot starve the others.
		store, err = store.WithJobMiddleware(worker.NewFairEnqueue(store, nil), worker.NewTracing(tel))
	}
	if err != nil {
		pool.Close()
		return nil, nil, err
	}
	return pool, store, nil
}

// logShutdown flushes the spans still buffered, logging (not failing on) an exporter
// that cannot take them.
func logShutdown(ctx context.Context, tel *telemetry.Telemetry, log *slog.Logger) {
	if err := tel.Shutdown(ctx); err != nil {
		log.Warn("flush traces", "error", err.Error())
	}
}

// displayURL is a URL people can open for a listener: a wildcard address becomes
// localhost.
func displayURL(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return "http://" + a.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// serve runs the HTTP server (and the workers when cfg.Workers) until ctx ends, then
// shuts down gracefully: stop accepting, finish in-flight requests and running jobs
// within cfg.ShutdownTimeout. listening, if set, is told the server's URL once it
// accepts connections.
func serve(ctx context.Context, cfg config.Config, dataDir string, log *slog.Logger, stdout io.Writer, listening func(url string)) error {
	tel, err := telemetry.New(ctx, cfg.Telemetry, version)
	if err != nil {
		return err
	}
	defer logShutdown(ctx, tel, log) // after the pool closes: flushes the last spans
	pool, store, err := openStore(ctx, cfg, tel)
	if err != nil {
		return err
	}
	defer pool.Close()
	reg := newRegistry(pool)
	rl, err := openRedis(cfg, store, reg, log, tel)
	if err != nil {
		return err
	}
	defer rl.close()
	svc, err := newServices(ctx, cfg, store, rl, dataDir, log, tel)
	if err != nil {
		return err
	}
	defer svc.close()
	gauges, err := apiusage.NewPlatformGauges(reg, store)
	if err != nil {
		return err
	}
	bgCtx, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	bgDone := make(chan struct{}, 4)
	go func() { svc.refreshKeys(bgCtx, log); bgDone <- struct{}{} }()
	go func() {
		svc.accounts.RunKeyUsage(bgCtx, time.Minute, func(err error) { log.Warn("record API key use", "error", err.Error()) })
		bgDone <- struct{}{}
	}()
	meter := apiusage.NewMeter()
	go func() {
		meter.Run(bgCtx, store, 30*time.Second, func(err error) { log.Warn("flush API usage", "error", err.Error()) })
		bgDone <- struct{}{}
	}()
	go func() {
		gauges.Run(bgCtx, time.Minute, func(err error) { log.Warn("refresh business gauges", "error", err.Error()) })
		bgDone <- struct{}{}
	}()
	// The last key-usage and API-usage flushes happen before the pool closes.
	defer func() { stopBackground(); <-bgDone; <-bgDone; <-bgDone; <-bgDone }()

	ready := []httpapi.ReadyCheck{{Name: "postgres", Critical: true, Check: store.Ping}}
	if rl != nil {
		ready = append(ready, httpapi.ReadyCheck{Name: "redis", Check: func(ctx context.Context) error { return redis.Ping(ctx, rl.client) }})
	}
	deps := httpapi.Deps{
		Logger: log, Registerer: reg, Gatherer: reg, Ready: ready, MaxBodyBytes: cfg.MaxBodyBytes, Version: version,
		Tracer: tel.Tracer, Propagator: tel.Propagator, MetricsElsewhere: cfg.MetricsAddr != "",
		Identity: svc.identity, Accounts: svc.accounts,
		Usage: apiusage.NewService(store), Meter: meter, Billing: svc.billing,
		Work: svc.work, Audit: svc.audit, Exports: svc.exports, Idempotency: postgres.IdempotencyKeys{Store: store},
		JWKS:         func() ([]byte, error) { return svc.keys.KeySet().JWKS() }, // per call: keys rotate
		CookieSecure: cfg.CookieSecure, BaseDomain: cfg.BaseDomain,
		HashPassword: func(p string) (string, error) { return identity.HashPassword(p, identity.Argon2Params(cfg.Argon2)) },
		CursorKey:    derivedKey(cfg.SecretKey, "cursor"),
		UI:           web.FS(),
		RateLimiter:  rl.limiter(),
		RateLimits:   httpapi.RateLimits{Tenant: svc.tenantRate(cfg, log), Principal: cfg.RateLimitAccount, IP: cfg.RateLimitIP},
	}
	if rc := rl.readCache(); rc != nil {
		deps.ResponseCache = rc
	}
	provider, err := newOAuthProvider(cfg, svc, log)
	if err != nil {
		return err
	}
	if provider != nil {
		// The provider's own JWKS handler is not mounted: httpapi serves
		// /.well-known/jwks.json from the same key set (svc.keys).
		deps.OAuth, deps.OAuthTokens, deps.OAuthClients = provider.Handler(), provider, provider
	}
	handler := httpapi.NewServer(deps)

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("CODITECT_ADDR: %w", err)
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	if cfg.MetricsAddr != "" {
		mln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			return fmt.Errorf("CODITECT_METRICS_ADDR: %w", err)
		}
		msrv := &http.Server{Handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = msrv.Serve(mln) }()
		defer msrv.Close()
		log.Info("metrics listening", "addr", mln.Addr().String())
		fmt.Fprintf(stdout, "coditect: metrics on http://%s/metrics\n", mln.Addr())
	}

	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	workDone := make(chan error, 1)
	if cfg.Workers {
		w, err := newWorker(pool, store, svc, cfg, reg, log, tel)
		if err != nil {
			return err
		}
		go func() { workDone <- w.Run(workCtx, cfg.ShutdownTimeout) }()
	} else {
		workDone <- nil
	}
	log.Info("listening", "addr", ln.Addr().String(), "workers", cfg.Workers)
	if listening != nil {
		listening(displayURL(ln.Addr()))
	}
	fmt.Fprintf(stdout, "coditect: listening on http://%s\n", ln.Addr())

	select {
	case err := <-errc:
		stopWork()
		<-workDone
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down", "timeout", cfg.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	err = srv.Shutdown(sctx)
	stopWork()
	if werr := <-workDone; err == nil {
		err = werr
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}
