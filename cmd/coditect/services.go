package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/coditect/coditect/internal/account"
	"github.com/coditect/coditect/internal/audit"
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
	files    *storage.Dir // where exports keep their archives
}

// newServices builds every feature service. dataDir receives mail files when no SMTP
// server is configured, and export archives unless CODITECT_EXPORT_DIR says otherwise.
// The caller closes the services (close) when done.
func newServices(ctx context.Context, cfg config.Config, store *postgres.Store, rdb redis.Client, dataDir string, log *slog.Logger, tel *telemetry.Telemetry) (*services, error) {
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
	if rdb != nil {
		throttle = redis.NewThrottle(rdb, identity.NewMemoryThrottle(nil))
	}
	accounts := account.NewService(postgres.AccountStore{Store: store}, store, store, cfg.BaseDomain, nil)
	id, err := identity.NewService(identity.Config{
		Argon2: identity.Argon2Params(cfg.Argon2), SessionTTL: cfg.SessionTTL, AppSecret: cfg.SecretKey,
		BaseURL: cfg.BaseURL, BaseDomain: cfg.BaseDomain,
	}, identity.Deps{Store: store, Accounts: postgres.AccountStore{Store: store}, Tokens: issuer, Throttle: throttle,
		Mailer: mailer, Jobs: store, Grants: store, Log: log})
	if err != nil {
		return nil, err
	}
	files, err := storage.NewDir(cfg.ExportDirIn(dataDir))
	if err != nil {
		return nil, fmt.Errorf("CODITECT_EXPORT_DIR: %w", err)
	}
	return &services{store: store, keys: keys, tokens: issuer, mailer: mailer, identity: id, accounts: accounts,
		work:    work.NewService(postgres.WorkStore{Store: store}, postgres.WorkStore{Store: store}),
		audit:   audit.NewService(store),
		exports: export.NewService(postgres.ExportStore{Store: store}, files, export.Config{TTL: cfg.ExportTTL}),
		files:   files}, nil
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
	return reg
}

// derivedKey derives a purpose-specific key from the app secret, so one secret never
// serves two purposes directly.
func derivedKey(secret []byte, purpose string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("coditect/" + purpose))
	return m.Sum(nil)
}
