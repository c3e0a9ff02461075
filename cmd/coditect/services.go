package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"time"

	"github.com/coditect/coditect/internal/account"
	"github.com/coditect/coditect/internal/audit"
	"github.com/coditect/coditect/internal/billing"
	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/config"
	"github.com/coditect/coditect/internal/export"
	"github.com/coditect/coditect/internal/identity"
	"github.com/coditect/coditect/internal/identity/token"
	"github.com/coditect/coditect/internal/mail"
	"github.com/coditect/coditect/internal/oauth"
	"github.com/coditect/coditect/internal/postgres"
	"github.com/coditect/coditect/internal/redis"
	"github.com/coditect/coditect/internal/storage"
	"github.com/coditect/coditect/internal/stripe"
	"github.com/coditect/coditect/internal/telemetry"
	"github.com/coditect/coditect/internal/work"
	"github.com/coditect/coditect/internal/worker"
)

// services are the features, built once from the store and configuration.
type services struct {
	store    *postgres.Store
	keys     *identity.Keys
	tokens   *token.Issuer
	mailer   mail.Templated
	identity *identity.Service
	accounts *account.Service
	work     *work.Service
	audit    *audit.Service
	exports  *export.Service
	billing  *billing.Service
	files    *storage.Dir // where exports keep their archives
	redis    *redisLayer  // nil without REDIS_URL
}

// newServices builds every feature service. dataDir receives mail files when no SMTP
// server is configured, and export archives unless CODITECT_EXPORT_DIR says otherwise.
// The caller closes the services (close) when done.
func newServices(ctx context.Context, cfg config.Config, store *postgres.Store, rl *redisLayer, dataDir string, log *slog.Logger, tel *telemetry.Telemetry) (*services, error) {
	keys, err := identity.NewKeys(ctx, store, cfg.SecretKey, cfg.AccessTokenTTL, nil)
	if err != nil {
		return nil, err
	}
	issuer, err := token.NewIssuer(keys.KeySet, cfg.BaseURL, cfg.AccessTokenTTL, nil)
	if err != nil {
		return nil, err
	}
	renderer, err := mail.NewRenderer()
	if err != nil {
		return nil, err
	}
	var sender mail.Sender
	if cfg.SMTPURL != "" {
		if sender, err = mail.NewSMTP(cfg.SMTPURL, cfg.MailFrom); err != nil {
			return nil, err
		}
	} else {
		dir := filepath.Join(dataDir, "mail")
		if sender, err = mail.NewFileSender(dir, cfg.MailFrom, log); err != nil {
			return nil, err
		}
		log.Info("SMTP_URL is not set: emails are written to files", "dir", dir)
	}
	if tel.Enabled() {
		sender = mail.Traced(sender, tel.Tracer.Tracer(telemetry.ScopeName))
	}
	mailer := mail.Templated{Renderer: renderer, Sender: sender}
	var throttle identity.Throttle = identity.NewMemoryThrottle(nil)
	if rl != nil {
		throttle = redis.NewThrottle(rl.client, identity.NewMemoryThrottle(nil))
	}
	// The caches sit in front of the reads every request makes: sessions, API keys,
	// memberships, slugs. Their writes go to the store underneath, which drops them.
	var (
		identityStore identity.Store       = store
		tenantReader  account.TenantReader = store
		lookups       account.Lookups      = store
	)
	if c := rl.readCache(); c != nil {
		identityStore = redis.NewSessionStore(store, c)
		tenantReader = redis.NewAccountReader(store, c)
		lookups = redis.NewLookups(store, c)
	}
	accounts := account.NewService(postgres.AccountStore{Store: store}, tenantReader, lookups, cfg.BaseDomain, nil)
	id, err := identity.NewService(identity.Config{
		Argon2: identity.Argon2Params(cfg.Argon2), SessionTTL: cfg.SessionTTL, AppSecret: cfg.SecretKey,
		BaseURL: cfg.BaseURL, BaseDomain: cfg.BaseDomain,
	}, identity.Deps{Store: identityStore, Accounts: postgres.AccountStore{Store: store}, Tokens: issuer, Throttle: throttle,
		Mailer: mailer, Jobs: store, Grants: store, Log: log})
	if err != nil {
		return nil, err
	}
	files, err := storage.NewDir(cfg.ExportDirIn(dataDir))
	if err != nil {
		return nil, fmt.Errorf("CODITECT_EXPORT_DIR: %w", err)
	}
	bill, err := newBilling(cfg, store, rl, log, tel)
	if err != nil {
		return nil, err
	}
	return &services{store: store, keys: keys, tokens: issuer, mailer: mailer, identity: id, accounts: accounts.WithBilling(bill),
		billing: bill,
		work:    work.NewService(postgres.WorkStore{Store: store}, postgres.WorkStore{Store: store}).WithQuotas(bill),
		audit:   audit.NewService(store),
		exports: export.NewService(postgres.ExportStore{Store: store}, files, export.Config{TTL: cfg.ExportTTL}),
		files:   files, redis: rl}, nil
}

// newBilling builds billing: with Stripe when STRIPE_SECRET_KEY is set, otherwise
// every organization is on the free plan and the Stripe routes answer 503. Invoices
// are cached in Redis when there is one; owners' notices go out as mail jobs.
func newBilling(cfg config.Config, store *postgres.Store, rl *redisLayer, log *slog.Logger, tel *telemetry.Telemetry) (*billing.Service, error) {
	var bs billing.Store = postgres.BillingStore{Store: store}
	if c := rl.readCache(); c != nil {
		bs = redis.NewBillingStore(bs, c) // entitlements on every request: cached
	}
	d := billing.Deps{Store: bs, Log: log,
		Mailer: func(to string, n billing.Notice) (coditect.TenantBoundJob, error) {
			args, err := mail.NewSendArgs(mail.KindBillingNotice, to, mail.BillingNoticeData{OrganizationName: n.OrganizationName,
				Reason: n.Kind, Date: n.Date.UTC().Format(time.DateOnly), URL: cfg.BaseURL + "/billing"})
			return &args, err
		}}
	if rl != nil {
		d.Cache = redis.NewBillingCache(rl.cache) // Stripe's answers: cached even with CODITECT_CACHE off
	}
	if cfg.Stripe.Enabled() {
		// Outbound Stripe calls are client spans (and carry traceparent).
		client := &http.Client{Timeout: 30 * time.Second, Transport: tel.Transport(nil)}
		gw, err := stripe.New(stripe.Config{SecretKey: cfg.Stripe.SecretKey, WebhookSecret: cfg.Stripe.WebhookSecret, APIBase: cfg.Stripe.APIBase,
			HTTPClient: client})
		if err != nil {
			return nil, err
		}
		d.Gateway = gw
	} else {
		log.Info("STRIPE_SECRET_KEY is not set: billing is off, every organization is on the free plan")
	}
	return billing.NewService(d, billing.Config{Prices: cfg.Stripe.Prices, GracePeriod: cfg.Stripe.GracePeriod,
		MeterEventName: cfg.Stripe.MeterEventName,
		SuccessURL:     cfg.BaseURL + "/billing?checkout=success", CancelURL: cfg.BaseURL + "/billing?checkout=canceled",
		ReturnURL: cfg.BaseURL + "/billing"}), nil
}

// close releases what the services hold open (the export directory).
func (s *services) close() {
	if s.files != nil {
		_ = s.files.Close()
	}
}

// newOAuthProvider builds the OAuth 2.0 / OpenID Connect provider: its issuer is the
// public base URL, its ID tokens are signed with the identity signing keys (so the
// JWKS httpapi serves at /.well-known/jwks.json, the discovery document's jwks_uri,
// verifies them), people sign in through identity (same throttling and second factor
// as POST /v1/auth/login), and its codes and tokens live in PostgreSQL. A base URL
// that cannot be an issuer (http on a non-loopback host, or with a path) leaves the
// provider off with a warning: nil, nil.
func newOAuthProvider(cfg config.Config, svc *services, log *slog.Logger) (*oauth.Provider, error) {
	if err := oauth.CheckIssuer(cfg.BaseURL); err != nil {
		log.Warn("the OAuth provider is off: CODITECT_BASE_URL cannot be its issuer (want https://host, or http on a loopback host, with no path)",
			"base_url", cfg.BaseURL, "error", err.Error())
		return nil, nil
	}
	p, err := oauth.New(oauth.Config{
		Issuer:          cfg.BaseURL,
		GlobalSecret:    derivedKey(cfg.SecretKey, "oauth"),
		AccessTokenTTL:  cfg.AccessTokenTTL,
		RefreshTokenTTL: cfg.SessionTTL,
		ExtraScopes:     []string{oauth.ScopeAPIRead, oauth.ScopeAPIWrite},
		Log:             log,
	}, postgres.OAuthStore{Store: svc.store}, svc.keys.KeySet, svc.identity)
	if err != nil {
		return nil, fmt.Errorf("OAuth provider: %w", err)
	}
	return p, nil
}

// refreshKeys reloads the signing keys every minute so a rotation done by any replica
// reaches this one well within the time old keys keep verifying.
func (s *services) refreshKeys(ctx context.Context, log *slog.Logger) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.keys.Refresh(ctx); err != nil {
				log.Warn("refresh signing keys", "error", err.Error())
			}
		}
	}
}

// orgReader reads the context tenant's organization for jobs that run as its system
// actor.
type orgReader struct{ store *postgres.Store }

func (o orgReader) OrganizationGet(ctx context.Context) (account.Organization, error) {
	return o.store.OrganizationGet(ctx)
}

// jobs declares every background job and schedule in one place.
func jobs(s *services, cfg config.Config, log *slog.Logger) *worker.Registry {
	reg := worker.NewRegistry()
	worker.AddSystem(reg, &worker.PurgeWorker{Store: s.store, Log: log})
	reg.Every(time.Hour, func() coditect.Job { return worker.PurgeArgs{} })
	worker.AddSystem(reg, &worker.OAuthPurgeWorker{Store: s.store, Log: log})
	reg.Every(time.Hour, func() coditect.Job { return worker.OAuthPurgeArgs{} })
	const rotateKeys = 7 * 24 * time.Hour
	worker.AddSystem(reg, &worker.RotateKeysWorker{Keys: s.keys, Every: rotateKeys, Log: log})
	reg.Every(rotateKeys, func() coditect.Job { return worker.RotateKeysArgs{} })

	worker.AddSystem(reg, &worker.WeeklyReportFanOutWorker{Tenants: s.store, Log: log})
	reg.Weekly(time.Monday, 6*time.Hour, worker.WeeklyReportFanOut) // Mondays 06:00 UTC, about the last ISO week
	worker.AddTenant(reg, &worker.WeeklyReportWorker{Store: s.store, BaseURL: cfg.BaseURL, Log: log})
	worker.AddTenant(reg, &worker.WeeklyReportMailWorker{Mailer: s.mailer})

	worker.AddSystem(reg, &worker.UsageRollupWorker{Store: s.store, Log: log})
	reg.Every(time.Hour, worker.UsageRollup)

	worker.AddTenant(reg, &worker.WelcomeWorker{Identity: s.identity, Orgs: orgReader{s.store}})
	worker.AddSystem(reg, &worker.VerifyEmailWorker{Identity: s.identity})
	worker.AddSystem(reg, &worker.PasswordResetWorker{Identity: s.identity})
	worker.AddTenant(reg, &worker.EraseWorker{Store: s.store, Log: log})
	worker.AddTenant(reg, &worker.ExportWorker{Exports: s.exports, Log: log})
	worker.AddSystem(reg, &worker.ExportPurgeWorker{Exports: s.exports, Log: log})
	reg.Every(time.Hour, func() coditect.Job { return worker.ExportPurgeArgs{} })
	worker.AddTenant(reg, &worker.InvitationWorker{Accounts: s.accounts, Mailer: s.mailer, BaseURL: cfg.BaseURL})
	worker.AddTenant(reg, &mail.SendWorker{Renderer: s.mailer.Renderer, Sender: s.mailer.Sender})
	worker.AddSystem(reg, &mail.SystemSendWorker{Renderer: s.mailer.Renderer, Sender: s.mailer.Sender})
	worker.AddSystem(reg, &worker.CacheInvalidateWorker{Cache: s.redis.invalidator()})

	worker.AddSystem(reg, &worker.StripeEventWorker{Billing: s.billing})
	worker.AddTenant(reg, &worker.SeatSyncWorker{Billing: s.billing})
	worker.AddTenant(reg, &worker.DowngradeWorker{Billing: s.billing})
	worker.AddSystem(reg, &worker.UsageReportWorker{Billing: s.billing})
	worker.AddTenant(reg, &worker.CancelSubscriptionWorker{Billing: s.billing})
	reg.Every(time.Hour, func() coditect.Job { return billing.ReportUsageArgs{} })
	return reg
}

// derivedKey derives a purpose-specific key from the app secret, so one secret never
// serves two purposes directly.
func derivedKey(secret []byte, purpose string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("coditect/" + purpose))
	return m.Sum(nil)
}

// tenantRate is an organization's API rate limit: its plan's (plans.api_rate_limit),
// read through the query cache, so changing a plan or a plan's limit takes effect
// without a deploy. CODITECT_RATE_LIMIT_TENANT=0 turns the limit off; while the plan
// cannot be read, that variable's value applies.
func (s *services) tenantRate(cfg config.Config, log *slog.Logger) func(ctx context.Context, t coditect.TenantID) int {
	if cfg.RateLimitTenant <= 0 {
		return func(context.Context, coditect.TenantID) int { return 0 }
	}
	return func(ctx context.Context, t coditect.TenantID) int {
		e, err := s.billing.Entitlements(coditect.WithActor(ctx, coditect.SystemActor(t)))
		if err != nil {
			log.WarnContext(ctx, "reading the plan's rate limit", "error", err.Error())
			return cfg.RateLimitTenant
		}
		return int(e.APIRateLimit)
	}
}
