// Package config reads the platform's configuration from environment variables and
// validates it at start-up: a bad value stops the process with a message naming the
// variable. There are no globals; Load returns a value that run() passes on.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Config is everything the binary can be told through the environment.
type Config struct {
	DatabaseURL       string        // DATABASE_URL: the application role (no table ownership, no BYPASSRLS)
	DatabaseOwnerURL  string        // DATABASE_OWNER_URL: the role that runs migrations; defaults to DatabaseURL
	DatabaseMaxConns  int32         // DATABASE_MAX_CONNS: pool size per process
	RedisURL          string        // REDIS_URL: optional; without it caches are off and limits are in-process
	Addr              string        // CODITECT_ADDR: listen address
	BaseURL           string        // CODITECT_BASE_URL: public URL of the API and UI, used in links
	BaseDomain        string        // CODITECT_BASE_DOMAIN: organizations get {slug}.{BaseDomain}
	LogLevel          slog.Level    // CODITECT_LOG_LEVEL: debug, info, warn, error
	ShutdownTimeout   time.Duration // CODITECT_SHUTDOWN_TIMEOUT: how long in-flight requests and jobs get on SIGTERM
	MaxBodyBytes      int64         // CODITECT_MAX_BODY_BYTES: larger request bodies get 413
	Cache             bool          // CODITECT_CACHE: the Redis session, query and response caches (on when REDIS_URL is set)
	RateLimitTenant   int           // CODITECT_RATE_LIMIT_TENANT: requests per minute per organization (0: off)
	RateLimitAccount  int           // CODITECT_RATE_LIMIT_PRINCIPAL: requests per minute per account, API key or OAuth client (0: off)
	RateLimitIP       int           // CODITECT_RATE_LIMIT_IP: requests per minute per IP without credentials (0: off)
	Workers           bool          // CODITECT_WORKERS: `serve` also runs the background workers
	WorkerConcurrency int           // CODITECT_WORKER_CONCURRENCY: jobs run at once per worker process
	Argon2            Argon2        // CODITECT_ARGON2_*: password hashing cost
	SecretKey         []byte        // CODITECT_SECRET_KEY: ≥ 32 bytes; seals signing keys and MFA secrets, derives CSRF tokens
	SMTPURL           string        // SMTP_URL: outgoing mail; empty = write mail to files (dev)
	MailFrom          string        // CODITECT_MAIL_FROM: sender address
	CookieSecure      bool          // CODITECT_COOKIE_SECURE: session cookies only over HTTPS
	AccessTokenTTL    time.Duration // CODITECT_ACCESS_TOKEN_TTL: lifetime of access tokens
	SessionTTL        time.Duration // CODITECT_SESSION_TTL: lifetime of refresh tokens and browser sessions
	ExportDir         string        // CODITECT_EXPORT_DIR: where export archives are kept; "" = <data dir>/exports (see ExportDirIn)
	ExportTTL         time.Duration // CODITECT_EXPORT_TTL: how long a completed export can be downloaded
	Stripe            Stripe        // STRIPE_*: billing; off without STRIPE_SECRET_KEY
	MetricsAddr       string        // CODITECT_METRICS_ADDR: a separate listener for /metrics; "" = on CODITECT_ADDR
	Telemetry         Telemetry     // OTEL_*: trace export
}

// Telemetry is the OpenTelemetry trace export, from the standard OTEL_* variables.
// Tracing is off (spans are neither recorded nor exported; incoming trace context is
// still passed on) unless an OTLP endpoint is set.
type Telemetry struct {
	Endpoint           string            // OTEL_EXPORTER_OTLP_ENDPOINT: base URL; /v1/traces is appended for http/protobuf
	TracesEndpoint     string            // OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: full URL, wins over Endpoint
	Protocol           string            // OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL: http/protobuf or grpc
	Headers            map[string]string // OTEL_EXPORTER_OTLP_(TRACES_)HEADERS: k=v,k2=v2 (URL-encoded values)
	ServiceName        string            // OTEL_SERVICE_NAME
	ResourceAttributes map[string]string // OTEL_RESOURCE_ATTRIBUTES: k=v,k2=v2
	Sampler            string            // OTEL_TRACES_SAMPLER: the spec's names
	SamplerArg         float64           // OTEL_TRACES_SAMPLER_ARG: ratio for the *traceidratio samplers
	Disabled           bool              // OTEL_SDK_DISABLED, or OTEL_TRACES_EXPORTER=none
}

// Enabled says whether spans are recorded and exported.
func (t Telemetry) Enabled() bool {
	return !t.Disabled && (t.Endpoint != "" || t.TracesEndpoint != "")
}

// Stripe configures billing. Without SecretKey billing is off: every organization is
// on the free plan and checkout, portal, invoices and webhooks answer 503.
type Stripe struct {
	SecretKey      string            // STRIPE_SECRET_KEY
	WebhookSecret  string            // STRIPE_WEBHOOK_SECRET
	Prices         map[string]string // STRIPE_PRICE_PRO, STRIPE_PRICE_BUSINESS, STRIPE_PRICE_ENTERPRISE: plan id → price id
	APIBase        string            // STRIPE_API_BASE: another API endpoint (stripe-mock); empty = Stripe
	MeterEventName string            // STRIPE_METER_EVENT: meter event name API calls are reported under; empty = not reported
	GracePeriod    time.Duration     // STRIPE_GRACE_PERIOD: how long a past-due subscription keeps its plan
}

// Enabled reports whether billing talks to Stripe.
func (s Stripe) Enabled() bool { return s.SecretKey != "" }

// StripePlans are the plans that can be bought, each priced by STRIPE_PRICE_<PLAN>.
var StripePlans = []string{"pro", "business", "enterprise"}

// Argon2 holds argon2id parameters (RFC 9106).
type Argon2 struct {
	MemoryKiB   uint32 // CODITECT_ARGON2_MEMORY_KIB
	Iterations  uint32 // CODITECT_ARGON2_ITERATIONS
	Parallelism uint8  // CODITECT_ARGON2_PARALLELISM
}

// Var documents one environment variable; Vars is the table the README mirrors.
type Var struct {
	Name, Default, Description string
}

// Vars lists every variable Load reads, with its default and meaning.
func Vars() []Var {
	return []Var{
		{"DATABASE_URL", "(none; `coditect dev` starts a private PostgreSQL)", "PostgreSQL URL of the application role, which must not own the tables, be a superuser or bypass row-level security (serve and worker refuse to start otherwise)"},
		{"DATABASE_OWNER_URL", "DATABASE_URL", "PostgreSQL URL of the role that owns the schema and runs `coditect migrate`"},
		{"DATABASE_MAX_CONNS", "20", "connections in each process's pool"},
		{"REDIS_URL", "(none)", "Redis URL (redis://, rediss://, unix://); optional: the API serves without it, and /readyz then reports it as degraded"},
		{"CODITECT_ADDR", ":8080", "address the HTTP server listens on"},
		{"CODITECT_BASE_URL", "http://{CODITECT_ADDR's host, or localhost}:{port}", "public URL of the API and web UI, used in emails and OAuth redirects"},
		{"CODITECT_BASE_DOMAIN", "localhost", "each organization gets the domain {slug}.{CODITECT_BASE_DOMAIN}"},
		{"CODITECT_LOG_LEVEL", "info", "debug, info, warn or error"},
		{"CODITECT_SHUTDOWN_TIMEOUT", "25s", "grace period for in-flight requests and running jobs on SIGTERM"},
		{"CODITECT_MAX_BODY_BYTES", "1048576", "largest accepted request body; larger gets 413"},
		{"CODITECT_CACHE", "true", "with REDIS_URL set, serve verified credentials (1 h), memberships and organization reads (5 min) and selected GET answers (1 min) from Redis; every write in an organization drops its entries"},
		{"CODITECT_RATE_LIMIT_TENANT", "600", "0 turns the per-organization rate limit off; otherwise each organization gets its plan's rate (plans.api_rate_limit per minute: GCRA, a burst of that many, then an even rate) and this one only while the plan cannot be read"},
		{"CODITECT_RATE_LIMIT_PRINCIPAL", "3000", "requests per minute per account, API key or OAuth client, counted per organization; 0 turns it off"},
		{"CODITECT_RATE_LIMIT_IP", "300", "requests per minute per client IP for requests without credentials (sign-up, login, password reset…); 0 turns it off"},
		{"CODITECT_WORKERS", "false", "`serve` also runs the background workers in-process (`dev` always does)"},
		{"CODITECT_WORKER_CONCURRENCY", "10", "jobs a worker process runs at once"},
		{"CODITECT_ARGON2_MEMORY_KIB", "65536", "argon2id memory per password hash, KiB"},
		{"CODITECT_ARGON2_ITERATIONS", "3", "argon2id passes"},
		{"CODITECT_ARGON2_PARALLELISM", "2", "argon2id lanes"},
		{"CODITECT_SECRET_KEY", "(none; `coditect dev` generates one in its data dir)", "at least 32 random characters; seals token-signing keys and MFA secrets and derives CSRF tokens. Keep it secret and stable: changing it signs everyone out and disables their MFA secrets"},
		{"SMTP_URL", "(none: mail is written to files under the data dir)", "outgoing mail server: smtp://user:pass@host:587 (STARTTLS when offered; ?starttls=required|off) or smtps://host:465"},
		{"CODITECT_MAIL_FROM", "CODITECT <no-reply@{CODITECT_BASE_DOMAIN}>", "sender of the platform's emails"},
		{"CODITECT_COOKIE_SECURE", "true (false in `coditect dev`)", "send the browser session cookie only over HTTPS"},
		{"CODITECT_ACCESS_TOKEN_TTL", "15m", "lifetime of JWT access tokens (1m to 1h)"},
		{"CODITECT_SESSION_TTL", "720h", "lifetime of refresh tokens and browser sessions"},
		{"CODITECT_EXPORT_DIR", "{data dir}/exports (`.coditect/exports`; `--data-dir` for `dev`)", "directory that keeps data export archives until they expire (created 0700). Every API and worker process must see the same directory"},
		{"CODITECT_EXPORT_TTL", "168h", "how long a completed data export can be downloaded before it is deleted (at least 1h)"},
		{"STRIPE_SECRET_KEY", "(none: billing off, every organization on the free plan)", "Stripe secret (or restricted) API key, sk_test_… for a test account; turns billing on"},
		{"STRIPE_WEBHOOK_SECRET", "(none: webhooks refused)", "signing secret of the webhook endpoint (whsec_…), from the Stripe dashboard or `stripe listen`"},
		{"STRIPE_PRICE_PRO", "(none: not purchasable)", "Stripe price id (price_…) of the pro plan, a per-seat recurring price"},
		{"STRIPE_PRICE_BUSINESS", "(none: not purchasable)", "Stripe price id of the business plan"},
		{"STRIPE_PRICE_ENTERPRISE", "(none: not purchasable)", "Stripe price id of the enterprise plan"},
		{"STRIPE_API_BASE", "https://api.stripe.com", "Stripe API base URL; set it to a stripe-mock URL in tests"},
		{"STRIPE_METER_EVENT", "(none: usage not reported)", "event name of the Stripe billing meter that daily API calls are reported to"},
		{"STRIPE_GRACE_PERIOD", "168h", "how long a subscription with a failed payment keeps its plan before falling to the free plan's limits"},
		{"CODITECT_METRICS_ADDR", "(none: /metrics is served on CODITECT_ADDR)", "a separate address for GET /metrics (e.g. :9090), so the API port never exposes it; the API port's /metrics then answers 404"},
		{"OTEL_EXPORTER_OTLP_ENDPOINT", "(none: tracing off)", "OTLP collector base URL (e.g. http://otel-collector:4318, or :4317 with grpc); traces go to {endpoint}/v1/traces"},
		{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "(none)", "full OTLP traces URL; wins over OTEL_EXPORTER_OTLP_ENDPOINT"},
		{"OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf", "http/protobuf or grpc"},
		{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL", "protocol for traces only"},
		{"OTEL_EXPORTER_OTLP_HEADERS", "(none)", "headers sent to the collector, k=v,k2=v2 (values URL-encoded), e.g. an API key"},
		{"OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS", "headers for traces only"},
		{"OTEL_SERVICE_NAME", "coditect", "service.name of the spans"},
		{"OTEL_RESOURCE_ATTRIBUTES", "(none)", "extra resource attributes, k=v,k2=v2 (e.g. deployment.environment=prod)"},
		{"OTEL_TRACES_SAMPLER", "parentbased_always_on", "always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio"},
		{"OTEL_TRACES_SAMPLER_ARG", "1.0", "sampling ratio (0 to 1) for the traceidratio samplers"},
		{"OTEL_TRACES_EXPORTER", "otlp", "otlp, or none to turn tracing off"},
		{"OTEL_SDK_DISABLED", "false", "true turns tracing off"},
	}
}

// Load reads and validates the configuration. requireDB is false only for `dev`, which
// can start its own database. Every problem is reported, each naming its variable.
func Load(getenv func(string) string, requireDB bool) (Config, error) {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
	}
	get := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	c := Config{
		DatabaseURL: get("DATABASE_URL", ""),
		RedisURL:    get("REDIS_URL", ""),
		Addr:        get("CODITECT_ADDR", ":8080"),
		BaseDomain:  strings.ToLower(get("CODITECT_BASE_DOMAIN", "localhost")),
	}
	c.DatabaseOwnerURL = get("DATABASE_OWNER_URL", c.DatabaseURL)

	for _, v := range []struct{ name, val string }{{"DATABASE_URL", c.DatabaseURL}, {"DATABASE_OWNER_URL", c.DatabaseOwnerURL}} {
		switch {
		case v.val == "" && requireDB:
			bad(v.name, "is required (a postgres:// URL)")
		case v.val != "":
			if err := checkURL(v.val, "postgres", "postgresql"); err != nil {
				bad(v.name, "%v", err)
			}
		}
	}
	if c.RedisURL != "" {
		if err := checkURL(c.RedisURL, "redis", "rediss", "unix"); err != nil {
			bad("REDIS_URL", "%v", err)
		}
	}
	host, port, err := net.SplitHostPort(c.Addr)
	if err != nil {
		bad("CODITECT_ADDR", "want host:port or :port, got %q", c.Addr)
	} else if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		bad("CODITECT_ADDR", "bad port %q", port)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	c.BaseURL = strings.TrimRight(get("CODITECT_BASE_URL", "http://"+net.JoinHostPort(host, port)), "/")
	if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("CODITECT_BASE_URL", "want an absolute http(s) URL, got %q", c.BaseURL)
	}
	if !validDomain(c.BaseDomain) {
		bad("CODITECT_BASE_DOMAIN", "want a host name like coditect.example.com, got %q", c.BaseDomain)
	}
	if err := c.LogLevel.UnmarshalText([]byte(get("CODITECT_LOG_LEVEL", "info"))); err != nil {
		bad("CODITECT_LOG_LEVEL", "want debug, info, warn or error")
	}
	c.ShutdownTimeout = parse(get("CODITECT_SHUTDOWN_TIMEOUT", "25s"), time.ParseDuration, "CODITECT_SHUTDOWN_TIMEOUT", "a duration like 25s", bad)
	if c.ShutdownTimeout <= 0 {
		bad("CODITECT_SHUTDOWN_TIMEOUT", "must be positive")
	}
	c.DatabaseMaxConns = int32(intIn(get("DATABASE_MAX_CONNS", "20"), 2, 10000, "DATABASE_MAX_CONNS", bad))
	c.MaxBodyBytes = int64(intIn(get("CODITECT_MAX_BODY_BYTES", "1048576"), 1024, 1<<30, "CODITECT_MAX_BODY_BYTES", bad))
	c.Cache = parse(get("CODITECT_CACHE", "true"), strconv.ParseBool, "CODITECT_CACHE", "true or false", bad)
	c.RateLimitTenant = intIn(get("CODITECT_RATE_LIMIT_TENANT", "600"), 0, 100_000_000, "CODITECT_RATE_LIMIT_TENANT", bad)
	c.RateLimitAccount = intIn(get("CODITECT_RATE_LIMIT_PRINCIPAL", "3000"), 0, 100_000_000, "CODITECT_RATE_LIMIT_PRINCIPAL", bad)
	c.RateLimitIP = intIn(get("CODITECT_RATE_LIMIT_IP", "300"), 0, 100_000_000, "CODITECT_RATE_LIMIT_IP", bad)
	c.Workers = parse(get("CODITECT_WORKERS", "false"), strconv.ParseBool, "CODITECT_WORKERS", "true or false", bad)
	c.WorkerConcurrency = intIn(get("CODITECT_WORKER_CONCURRENCY", "10"), 1, 10000, "CODITECT_WORKER_CONCURRENCY", bad)
	c.Argon2 = Argon2{
		MemoryKiB:   uint32(intIn(get("CODITECT_ARGON2_MEMORY_KIB", "65536"), 8*1024, 4*1024*1024, "CODITECT_ARGON2_MEMORY_KIB", bad)),
		Iterations:  uint32(intIn(get("CODITECT_ARGON2_ITERATIONS", "3"), 1, 100, "CODITECT_ARGON2_ITERATIONS", bad)),
		Parallelism: uint8(intIn(get("CODITECT_ARGON2_PARALLELISM", "2"), 1, 64, "CODITECT_ARGON2_PARALLELISM", bad)),
	}
	if k := getenv("CODITECT_SECRET_KEY"); k != "" {
		if len(k) < 32 {
			bad("CODITECT_SECRET_KEY", "must be at least 32 characters (e.g. `openssl rand -base64 48`)")
		}
		c.SecretKey = []byte(k)
	} else if requireDB {
		bad("CODITECT_SECRET_KEY", "is required: at least 32 random characters (e.g. `openssl rand -base64 48`)")
	}
	c.SMTPURL = get("SMTP_URL", "")
	if c.SMTPURL != "" {
		if err := checkURL(c.SMTPURL, "smtp", "smtps"); err != nil {
			bad("SMTP_URL", "%v", err)
		}
	}
	c.MailFrom = get("CODITECT_MAIL_FROM", "CODITECT <no-reply@"+c.BaseDomain+">")
	if _, err := mail.ParseAddress(c.MailFrom); err != nil {
		bad("CODITECT_MAIL_FROM", "want an address like CODITECT <no-reply@example.com>")
	}
	c.CookieSecure = parse(get("CODITECT_COOKIE_SECURE", "true"), strconv.ParseBool, "CODITECT_COOKIE_SECURE", "true or false", bad)
	c.AccessTokenTTL = parse(get("CODITECT_ACCESS_TOKEN_TTL", "15m"), time.ParseDuration, "CODITECT_ACCESS_TOKEN_TTL", "a duration like 15m", bad)
	if c.AccessTokenTTL < time.Minute || c.AccessTokenTTL > time.Hour {
		bad("CODITECT_ACCESS_TOKEN_TTL", "must be between 1m and 1h")
	}
	c.SessionTTL = parse(get("CODITECT_SESSION_TTL", "720h"), time.ParseDuration, "CODITECT_SESSION_TTL", "a duration like 720h", bad)
	if c.SessionTTL < time.Hour {
		bad("CODITECT_SESSION_TTL", "must be at least 1h")
	}
	c.ExportDir = get("CODITECT_EXPORT_DIR", "")
	c.ExportTTL = parse(get("CODITECT_EXPORT_TTL", "168h"), time.ParseDuration, "CODITECT_EXPORT_TTL", "a duration like 168h", bad)
	if c.ExportTTL < time.Hour {
		bad("CODITECT_EXPORT_TTL", "must be at least 1h")
	}
	c.Stripe = Stripe{SecretKey: strings.TrimSpace(getenv("STRIPE_SECRET_KEY")), WebhookSecret: strings.TrimSpace(getenv("STRIPE_WEBHOOK_SECRET")),
		APIBase: strings.TrimRight(get("STRIPE_API_BASE", ""), "/"), MeterEventName: get("STRIPE_METER_EVENT", ""), Prices: map[string]string{}}
	if c.Stripe.APIBase != "" {
		if u, err := url.Parse(c.Stripe.APIBase); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("STRIPE_API_BASE", "want an absolute http(s) URL, got %q", c.Stripe.APIBase)
		}
	}
	for _, plan := range StripePlans {
		name := "STRIPE_PRICE_" + strings.ToUpper(plan)
		if p := get(name, ""); p != "" {
			if !strings.HasPrefix(p, "price_") {
				bad(name, "want a Stripe price id (price_…)")
			}
			c.Stripe.Prices[plan] = p
		}
	}
	if c.Stripe.SecretKey != "" && !strings.HasPrefix(c.Stripe.SecretKey, "sk_") && !strings.HasPrefix(c.Stripe.SecretKey, "rk_") {
		bad("STRIPE_SECRET_KEY", "want a Stripe secret key (sk_… or rk_…)")
	}
	if c.Stripe.WebhookSecret != "" && !strings.HasPrefix(c.Stripe.WebhookSecret, "whsec_") {
		bad("STRIPE_WEBHOOK_SECRET", "want a webhook signing secret (whsec_…)")
	}
	c.Stripe.GracePeriod = parse(get("STRIPE_GRACE_PERIOD", "168h"), time.ParseDuration, "STRIPE_GRACE_PERIOD", "a duration like 168h", bad)
	if c.Stripe.GracePeriod < time.Hour {
		bad("STRIPE_GRACE_PERIOD", "must be at least 1h")
	}
	c.MetricsAddr = get("CODITECT_METRICS_ADDR", "")
	if c.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			bad("CODITECT_METRICS_ADDR", "want host:port or :port, got %q", c.MetricsAddr)
		}
	}
	c.Telemetry = loadTelemetry(get, bad)
	return c, errors.Join(errs...)
}

func loadTelemetry(get func(name, def string) string, bad func(string, string, ...any)) Telemetry {
	t := Telemetry{
		Endpoint:       get("OTEL_EXPORTER_OTLP_ENDPOINT", ""),
		TracesEndpoint: get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", ""),
		ServiceName:    get("OTEL_SERVICE_NAME", "coditect"),
		Sampler:        get("OTEL_TRACES_SAMPLER", "parentbased_always_on"),
	}
	t.Protocol = get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"))
	if t.Protocol != "http/protobuf" && t.Protocol != "grpc" {
		bad("OTEL_EXPORTER_OTLP_PROTOCOL", "want http/protobuf or grpc, got %q", t.Protocol)
	}
	for name, v := range map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": t.Endpoint, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": t.TracesEndpoint} {
		if v != "" {
			if err := checkURL(v, "http", "https"); err != nil {
				bad(name, "%v", err)
			}
		}
	}
	var err error
	// Headers usually carry the collector's API key: errors never echo them.
	if t.Headers, err = keyValues(get("OTEL_EXPORTER_OTLP_TRACES_HEADERS", get("OTEL_EXPORTER_OTLP_HEADERS", ""))); err != nil {
		bad("OTEL_EXPORTER_OTLP_HEADERS", "want k=v,k2=v2")
	}
	if t.ResourceAttributes, err = keyValues(get("OTEL_RESOURCE_ATTRIBUTES", "")); err != nil {
		bad("OTEL_RESOURCE_ATTRIBUTES", "want k=v,k2=v2")
	}
	switch t.Sampler {
	case "always_on", "always_off", "traceidratio", "parentbased_always_on", "parentbased_always_off", "parentbased_traceidratio":
	default:
		bad("OTEL_TRACES_SAMPLER", "want always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio, got %q", t.Sampler)
	}
	t.SamplerArg = parse(get("OTEL_TRACES_SAMPLER_ARG", "1.0"), func(s string) (float64, error) { return strconv.ParseFloat(s, 64) },
		"OTEL_TRACES_SAMPLER_ARG", "a number from 0 to 1", bad)
	if t.SamplerArg < 0 || t.SamplerArg > 1 {
		bad("OTEL_TRACES_SAMPLER_ARG", "want a number from 0 to 1")
	}
	switch get("OTEL_TRACES_EXPORTER", "otlp") {
	case "otlp":
	case "none":
		t.Disabled = true
	default:
		bad("OTEL_TRACES_EXPORTER", "want otlp or none")
	}
	if parse(get("OTEL_SDK_DISABLED", "false"), strconv.ParseBool, "OTEL_SDK_DISABLED", "true or false", bad) {
		t.Disabled = true
	}
	return t
}

// keyValues parses the OTEL_* list form: k=v pairs separated by commas, values
// URL-encoded.
func keyValues(s string) (map[string]string, error) {
	out := map[string]string{}
	if s == "" {
		return out, nil
	}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, errors.New("bad pair")
		}
		dv, err := url.PathUnescape(strings.TrimSpace(v))
		if err != nil {
			return nil, err
		}
		out[k] = dv
	}
	return out, nil
}

// ExportDirIn is where export archives live for a process whose data directory is
// dataDir: CODITECT_EXPORT_DIR when set, otherwise dataDir/exports.
func (c Config) ExportDirIn(dataDir string) string {
	if c.ExportDir != "" {
		return c.ExportDir
	}
	return filepath.Join(dataDir, "exports")
}

func parse[T any](s string, fn func(string) (T, error), name, want string, bad func(string, string, ...any)) T {
	v, err := fn(s)
	if err != nil {
		bad(name, "want %s, got %q", want, s)
	}
	return v
}

func intIn(s string, lo, hi int, name string, bad func(string, string, ...any)) int {
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		bad(name, "want a whole number from %d to %d, got %q", lo, hi, s)
	}
	return n
}

// checkURL validates the URL's shape without echoing it: it may hold a password.
func checkURL(raw string, schemes ...string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("not a valid URL")
	}
	for _, s := range schemes {
		if u.Scheme == s {
			return nil
		}
	}
	return fmt.Errorf("want a %s:// URL", strings.Join(schemes, ":// or "))
}

func validDomain(d string) bool {
	if d == "" || len(d) > 200 {
		return false
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}
