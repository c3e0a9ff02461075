package account

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"strings"
	"time"

	"github.com/coditect/coditect/internal/audit"
	"github.com/coditect/coditect/internal/coditect"
)

// Error codes account adds to the vocabulary.
const (
	CodeLastOwner          coditect.Code = "members.last_owner"
	CodeInvitationInvalid  coditect.Code = "invitation.invalid"
	CodeInvitationEmail    coditect.Code = "invitation.email_mismatch"
	CodeAlreadyMember      coditect.Code = "members.already_member"
	CodeAPIKeyRoleTooHigh  coditect.Code = "api_keys.role_too_high"
	CodeInvitationRoleHigh coditect.Code = "invitation.role_too_high"
)

// TenantStore runs fn in one transaction scoped to the context's tenant.
type TenantStore interface {
	InTenantTx(ctx context.Context, fn func(TenantTx) error) error
}

// invitationTTL is how long an invitation link works.
const invitationTTL = 7 * 24 * time.Hour

// Service is organizations, their members, invitations and API keys.
type Service struct {
	store   TenantStore
	reader  TenantReader
	lookups Lookups
	domain  string
	now     func() time.Time
	usage   *KeyUsage
	billing Billing // nil: no plan limits, no seats
}

// Billing is what account needs from the organization's plan (billing.Service): the
// member limit, the job that brings the subscription's seat count up to date after a
// membership change (nil when there are no seats to sync), and the job that cancels
// the subscription of an organization being deleted (nil when none could bill).
type Billing interface {
	Quota(ctx context.Context, q coditect.Quota) (coditect.Limit, error)
	SeatSyncJob() coditect.TenantBoundJob
	SubscriptionCancelJob(ctx context.Context) (coditect.TenantBoundJob, error)
}

// WithBilling returns a copy of s that enforces the plan's member limit on invitations
// and their acceptance, and syncs seats after membership changes.
func (s *Service) WithBilling(b Billing) *Service {
	c := *s
	c.billing = b
	return &c
}

// memberLimit is the context tenant's member limit (unlimited without billing).
func (s *Service) memberLimit(ctx context.Context) (coditect.Limit, error) {
	if s.billing == nil {
		return coditect.Limit{Max: -1}, nil
	}
	return s.billing.Quota(ctx, coditect.QuotaMembers)
}

// checkSeats enforces the member limit in tx: members, plus the pending invitations
// when inviting (each may become a member).
func checkSeats(ctx context.Context, tx TenantTx, limit coditect.Limit, countPending bool) error {
	if limit.Unlimited() {
		return nil
	}
	members, pending, err := tx.SeatCount(ctx)
	if err != nil {
		return err
	}
	if countPending {
		members += pending
	}
	return limit.Check(members)
}

// syncSeats enqueues the seat sync after a membership change, in its transaction.
func (s *Service) syncSeats(ctx context.Context, tx TenantTx) error {
	if s.billing == nil {
		return nil
	}
	if job := s.billing.SeatSyncJob(); job != nil {
		return tx.Enqueue(ctx, job)
	}
	return nil
}

// NewService returns a Service; baseDomain names organizations' domains.
func NewService(store TenantStore, reader TenantReader, lookups Lookups, baseDomain string, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, reader: reader, lookups: lookups, domain: baseDomain, now: now, usage: NewKeyUsage()}
}

// RunKeyUsage writes API keys' last-use times every interval until ctx ends.
func (s *Service) RunKeyUsage(ctx context.Context, every time.Duration, onErr func(error)) {
	s.usage.Run(ctx, s.lookups, every, onErr)
}

// FlushKeyUsage writes API keys' last-use times now.
func (s *Service) FlushKeyUsage(ctx context.Context) error { return s.usage.Flush(ctx, s.lookups) }

// audit writes the one audit row of a change, in its transaction.
func auditRow(ctx context.Context, tx TenantTx, action, targetType, targetID string, changes any) error {
	e, err := audit.NewEntry(ctx, action, targetType, targetID, changes)
	if err != nil {
		return err
	}
	return tx.AuditLogInsert(ctx, e)
}

// ResolveTenant turns the {org} of a path (a slug or an id) into the tenant and the
// actor's role in it. Not a member, unknown, or an API key of another organization all
// answer not found: another tenant's existence is not revealed.
func (s *Service) ResolveTenant(ctx context.Context, a coditect.Actor, org string) (coditect.Actor, error) {
	notFound := orgNotFound()
	tenant, err := coditect.ParseID[coditect.TenantID](org)
	if err == nil {
		return s.resolveIn(ctx, a, tenant)
	}
	org = strings.ToLower(org)
	if !ValidSlug(org) {
		return a, notFound
	}
	if tenant, err = s.lookups.TenantBySlug(ctx, org); err != nil {
		if coditect.IsNotFound(err) {
			return a, notFound
		}
		return a, err
	}
	scoped, err := s.resolveIn(ctx, a, tenant)
	if !coditect.IsNotFound(err) {
		return scoped, err
	}
	// A cached slug may name an erased organization whose slug a new one has taken
	// since: ask the database once more before answering 404.
	forget, ok := s.lookups.(interface {
		ForgetSlug(ctx context.Context, slug string)
	})
	if !ok {
		return a, err
	}
	forget.ForgetSlug(ctx, org)
	again, lerr := s.lookups.TenantBySlug(ctx, org)
	if lerr != nil || again == tenant {
		return a, err
	}
	return s.resolveIn(ctx, a, again)
}

// orgNotFound is the one answer for an organization the caller may not see.
func orgNotFound() error {
	return &coditect.Error{Code: coditect.CodeNotFound, Message: "organization not found"}
}

// resolveIn scopes a to tenant: a member's role there, or a bound credential's own
// organization; anything else is not found.
func (s *Service) resolveIn(ctx context.Context, a coditect.Actor, tenant coditect.TenantID) (coditect.Actor, error) {
	notFound := orgNotFound()
	switch a.Kind {
	case coditect.ActorAPIKey, coditect.ActorOAuthClient: // credentials bound to one organization
		if a.Tenant != tenant {
			return a, notFound
		}
		return a, nil
	case coditect.ActorAccount:
		scoped := a
		scoped.Tenant, scoped.Role = tenant, coditect.RoleViewer
		m, err := s.reader.MembershipGet(coditect.WithActor(ctx, scoped), a.AccountID)
		if err != nil {
			if coditect.IsNotFound(err) {
				return a, notFound
			}
			return a, err
		}
		scoped.Role = m.Role
		return scoped, nil
	}
	return a, notFound
}

func actorOf(ctx context.Context) coditect.Actor {
	a, _ := coditect.ActorFrom(ctx)
	return a
}

// CreateOrganization makes a new organization with the signed-in account as owner,
// the same path as sign-up's.
func (s *Service) CreateOrganization(ctx context.Context, name, slug string) (Organization, error) {
	a := actorOf(ctx)
	if a.Kind != coditect.ActorAccount {
		return Organization{}, coditect.Errorf(coditect.CodeForbidden, "only people can create organizations")
	}
	name = strings.TrimSpace(name)
	if slug = strings.TrimSpace(slug); slug == "" {
		slug = SlugFromName(name)
	}
	var fields []coditect.FieldError
	if name == "" || len(name) > 200 {
		fields = append(fields, coditect.FieldError{Field: "name", Message: "must be 1 to 200 characters"})
	}
	if !ValidSlug(slug) {
		fields = append(fields, coditect.FieldError{Field: "slug", Message: "must be 3 to 40 lowercase letters, digits or inner hyphens, and not reserved"})
	}
	if len(fields) > 0 {
		return Organization{}, coditect.Invalid(fields...)
	}
	org := Organization{ID: coditect.NewID[coditect.TenantID](), Slug: slug, Name: name}
	ctx = coditect.WithActor(ctx, coditect.Actor{Kind: a.Kind, AccountID: a.AccountID, SessionID: a.SessionID, Tenant: org.ID, Role: coditect.RoleOwner})
	err := s.store.InTenantTx(ctx, func(tx TenantTx) error {
		var err error
		if org, err = tx.OrganizationCreate(ctx, org, slug+"."+s.domain); err != nil {
			return fieldRename(err, "organization_slug", "slug")
		}
		if err := tx.MembershipCreate(ctx, a.AccountID, coditect.RoleOwner); err != nil {
			return err
		}
		return auditRow(ctx, tx, "organization.create", "organization", org.ID.String(), map[string]string{"name": org.Name, "slug": org.Slug})
	})
	return org, err
}

func fieldRename(err error, from, to string) error {
	var e *coditect.Error
	if ce, ok := err.(*coditect.Error); ok {
		e = ce
		for i := range e.Fields {
			if e.Fields[i].Field == from {
				e.Fields[i].Field = to
			}
		}
	}
	return err
}

// Organization returns the context's organization.
func (s *Service) Organization(ctx context.Context) (Organization, error) {
	if err := coditect.Authorize(actorOf(ctx), coditect.ActReadOrganization); err != nil {
		return Organization{}, err
	}
	return s.reader.OrganizationGet(ctx)
}

// Members lists the organization's members.
func (s *Service) Members(ctx context.Context, p Page) ([]Membership, error) {
	if err := coditect.Authorize(actorOf(ctx), coditect.ActReadMembers); err != nil {
		return nil, err
	}
	ms, err := s.reader.MembershipList(ctx, p)
	if err != nil || len(ms) == 0 {
		return ms, err
	}
	// The people: only accounts this tenant's own list names.
	ids := make([]coditect.AccountID, len(ms))
	for i, m := range ms {
		ids[i] = m.AccountID
	}
	profiles, err := s.lookups.AccountProfiles(ctx, ids)
	if err != nil {
		return nil, err
	}
	for i := range ms {
		ms[i].Name, ms[i].Email = profiles[ms[i].AccountID].Name, profiles[ms[i].AccountID].Email
	}
	return ms, nil
}

// ChangeRole sets a member's role. The last owner cannot be demoted, and only an owner
// can make or unmake owners.
func (s *Service) ChangeRole(ctx context.Context, id coditect.AccountID, role coditect.Role) (Membership, error) {
	a := actorOf(ctx)
	if err := coditect.Authorize(a, coditect.ActManageMembers); err != nil {
		return Membership{}, err
	}
	if !role.Valid() {
		return Membership{}, coditect.Invalid(coditect.FieldError{Field: "role", Message: "must be viewer, member, admin or owner"})
	}
	var out Membership
	err := s.store.InTenantTx(ctx, func(tx TenantTx) error {
		owners, err := tx.MembershipOwnersForUpdate(ctx)
		if err != nil {
			return err
		}
		m, err := tx.MembershipGetForUpdate(ctx, id)
		if err != nil {
			return err
		}
		if (m.Role == coditect.RoleOwner || role == coditect.RoleOwner) && !a.Role.AtLeast(coditect.RoleOwner) {
			return &coditect.Error{Code: coditect.CodeForbidden, Message: "only an owner can grant or remove the owner role"}
		}
		if m.Role == coditect.RoleOwner && role != coditect.RoleOwner && owners <= 1 {
			return &coditect.Error{Code: CodeLastOwner, Kind: coditect.CodeConflict, Message: "the last owner cannot be demoted; make someone else owner first"}
		}
		if m.Role == role {
			out = m
			return nil
		}
		if err := tx.MembershipUpdateRole(ctx, id, role); err != nil {
			return err
		}
		out = m
		out.Role = role
		return auditRow(ctx, tx, "member.update", "member", id.String(), map[string]string{"role": string(role), "previous_role": string(m.Role)})
	})
	return out, err
}

// RemoveMember removes a member (or lets a member leave). The last owner cannot.
func (s *Service) RemoveMember(ctx context.Context, id coditect.AccountID) error {
	a := actorOf(ctx)
	leaving := a.Kind == coditect.ActorAccount && a.AccountID == id
	if !leaving {
		if err := coditect.Authorize(a, coditect.ActManageMembers); err != nil {
			return err
		}
	}
	return s.store.InTenantTx(ctx, func(tx TenantTx) error {
		owners, err := tx.MembershipOwnersForUpdate(ctx)
		if err != nil {
			return err
		}
		m, err := tx.MembershipGetForUpdate(ctx, id)
		if err != nil {
			return err
		}
		if m.Role == coditect.RoleOwner && !leaving && !a.Role.AtLeast(coditect.RoleOwner) {
			return &coditect.Error{Code: coditect.CodeForbidden, Message: "only an owner can remove an owner"}
		}
		if m.Role == coditect.RoleOwner && owners <= 1 {
			return &coditect.Error{Code: CodeLastOwner, Kind: coditect.CodeConflict, Message: "the last owner cannot leave or be removed; make someone else owner first"}
		}
		if err := tx.MembershipDelete(ctx, id); err != nil {
			return err
		}
		if err := s.syncSeats(ctx, tx); err != nil {
			return err
		}
		return auditRow(ctx, tx, "member.remove", "member", id.String(), map[string]string{"role": string(m.Role)})
	})
}

// InvitationArgs is the job that emails an invitation. The accept token is minted
// when the job runs, so no secret sits in the job table.
type InvitationArgs struct {
	coditect.TenantJob
	InvitationID coditect.InvitationID `json:"invitation_id"`
}

// Kind implements coditect.Job.
func (InvitationArgs) Kind() string { return "account.send_invitation" }

// Invite creates an invitation and enqueues its email, in one transaction. Only an
// owner may invite owners.
func (s *Service) Invite(ctx context.Context, email string, role coditect.Role) (Invitation, error) {
	a := actorOf(ctx)
	if err := coditect.Authorize(a, coditect.ActManageInvitations); err != nil {
		return Invitation{}, err
	}
	var fields []coditect.FieldError
	email = strings.ToLower(strings.TrimSpace(email))
	if at := strings.LastIndexByte(email, '@'); at < 1 || at == len(email)-1 || len(email) > 254 || strings.ContainsAny(email, " \t\r\n<>\",;") {
		fields = append(fields, coditect.FieldError{Field: "email", Message: "must be an email address"})
	}
	if !role.Valid() {
		fields = append(fields, coditect.FieldError{Field: "role", Message: "must be viewer, member, admin or owner"})
	}
	if len(fields) > 0 {
		return Invitation{}, coditect.Invalid(fields...)
	}
	if role == coditect.RoleOwner && !a.Role.AtLeast(coditect.RoleOwner) {
		return Invitation{}, &coditect.Error{Code: CodeInvitationRoleHigh, Kind: coditect.CodeForbidden, Message: "only an owner can invite owners"}
	}
	inv := Invitation{ID: coditect.NewID[coditect.InvitationID](), Email: email, Role: role, ExpiresAt: s.now().Add(invitationTTL)}
	if a.Kind == coditect.ActorAccount {
		id := a.AccountID
		inv.InvitedBy = &id
	}
	// The real token is minted by the email job; until then the stored hash has no
	// known preimage, so nothing can accept the invitation.
	inv.TokenHash = randomBytes(32)
	limit, err := s.memberLimit(ctx)
	if err != nil {
		return Invitation{}, err
	}
	err = s.store.InTenantTx(ctx, func(tx TenantTx) error {
		if err := checkSeats(ctx, tx, limit, true); err != nil {
			return err
		}
		if err := tx.InvitationCreate(ctx, inv); err != nil {
			return err
		}
		if err := auditRow(ctx, tx, "invitation.create", "invitation", inv.ID.String(), map[string]string{"email": email, "role": string(role)}); err != nil {
			return err
		}
		return tx.Enqueue(ctx, &InvitationArgs{InvitationID: inv.ID})
	})
	inv.CreatedAt = s.now()
	return inv, err
}

// Invitations lists the organization's invitations.
func (s *Service) Invitations(ctx context.Context, p Page) ([]Invitation, error) {
	if err := coditect.Authorize(actorOf(ctx), coditect.ActManageInvitations); err != nil {
		return nil, err
	}
	return s.reader.InvitationList(ctx, p)
}

// RevokeInvitation makes an invitation unusable.
func (s *Service) RevokeInvitation(ctx context.Context, id coditect.InvitationID) error {
	if err := coditect.Authorize(actorOf(ctx), coditect.ActManageInvitations); err != nil {
		return err
	}
	return s.store.InTenantTx(ctx, func(tx TenantTx) error {
		if err := tx.InvitationRevoke(ctx, id); err != nil {
			return err
		}
		return auditRow(ctx, tx, "invitation.revoke", "invitation", id.String(), nil)
	})
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// InvitationToken returns a fresh accept token and its hash.
func InvitationToken() (string, []byte) {
	tok := "inv_" + base64.RawURLEncoding.EncodeToString(randomBytes(32))
	return tok, HashSecret(tok)
}

// HashSecret is the SHA-256 of a random token or key secret. SHA-256 suffices for
// high-entropy random secrets (there is nothing to brute-force); passwords use argon2id.
func HashSecret(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// APIKeyPrefixLen is the length of the public lookup part of a key.
const apiKeyPrefixLen = 12

// NewAPIKeySecret returns a key string "cdk_<prefix>_<secret>", its prefix and the hash
// of the whole key.
func NewAPIKeySecret() (key, prefix string, hash []byte) {
	prefix = strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(randomBytes(10)))[:apiKeyPrefixLen]
	key = "cdk_" + prefix + "_" + base64.RawURLEncoding.EncodeToString(randomBytes(32))
	return key, prefix, HashSecret(key)
}

// ParseAPIKey splits a presented key; ok is false when it is not shaped like one.
func ParseAPIKey(key string) (prefix string, ok bool) {
	rest, found := strings.CutPrefix(key, "cdk_")
	if !found || len(rest) != apiKeyPrefixLen+1+43 || rest[apiKeyPrefixLen] != '_' {
		return "", false
	}
	return rest[:apiKeyPrefixLen], true
}

// CreatedAPIKey is a new key with its secret, shown once.
type CreatedAPIKey struct {
	APIKey
	Secret string `json:"secret"`
}

// CreateAPIKey makes an organization API key with a role no higher than the creator's.
func (s *Service) CreateAPIKey(ctx context.Context, name string, role coditect.Role) (CreatedAPIKey, error) {
	a := actorOf(ctx)
	if err := coditect.Authorize(a, coditect.ActManageAPIKeys); err != nil {
		return CreatedAPIKey{}, err
	}
	name = strings.TrimSpace(name)
	var fields []coditect.FieldError
	if name == "" || len(name) > 200 {
		fields = append(fields, coditect.FieldError{Field: "name", Message: "must be 1 to 200 characters"})
	}
	if !role.Valid() {
		fields = append(fields, coditect.FieldError{Field: "role", Message: "must be viewer, member, admin or owner"})
	}
	if len(fields) > 0 {
		return CreatedAPIKey{}, coditect.Invalid(fields...)
	}
	if !a.Role.AtLeast(role) {
		return CreatedAPIKey{}, &coditect.Error{Code: CodeAPIKeyRoleTooHigh, Kind: coditect.CodeForbidden, Message: "a key cannot have a higher role than yours"}
	}
	secret, prefix, hash := NewAPIKeySecret()
	k := APIKey{ID: coditect.NewID[coditect.APIKeyID](), Name: name, Prefix: prefix, SecretHash: hash, Role: role, CreatedAt: s.now()}
	if a.Kind == coditect.ActorAccount {
		id := a.AccountID
		k.CreatedBy = &id
	}
	err := s.store.InTenantTx(ctx, func(tx TenantTx) error {
		if err := tx.APIKeyCreate(ctx, k); err != nil {
			return err
		}
		return auditRow(ctx, tx, "api_key.create", "api_key", k.ID.String(), map[string]string{"name": name, "role": string(role), "prefix": prefix})
	})
	return CreatedAPIKey{APIKey: k, Secret: secret}, err
}

// APIKeys lists the organization's keys (never their secrets).
func (s *Service) APIKeys(ctx context.Context, p Page) ([]APIKey, error) {
	if err := coditect.Authorize(actorOf(ctx), coditect.ActManageAPIKeys); err != nil {
		return nil, err
	}
	return s.reader.APIKeyList(ctx, p)
}

// RevokeAPIKey revokes a key; it stops working at once.
func (s *Service) RevokeAPIKey(ctx context.Context, id coditect.APIKeyID) error {
	if err := coditect.Authorize(actorOf(ctx), coditect.ActManageAPIKeys); err != nil {
		return err
	}
	return s.store.InTenantTx(ctx, func(tx TenantTx) error {
		if err := tx.APIKeyRevoke(ctx, id); err != nil {
			return err
		}
		return auditRow(ctx, tx, "api_key.revoke", "api_key", id.String(), nil)
	})
}

// AuthenticateAPIKey checks a presented key and returns the API-key actor, already
// scoped to the key's organization with the key's role.
func (s *Service) AuthenticateAPIKey(ctx context.Context, key string) (coditect.Actor, error) {
	invalid := &coditect.Error{Code: "auth.api_key_invalid", Kind: coditect.CodeUnauthorized, Message: "invalid API key"}
	prefix, ok := ParseAPIKey(key)
	if !ok {
		return coditect.Actor{}, invalid
	}
	tenant, id, err := s.lookups.APIKeyByPrefix(ctx, prefix)
	if err != nil {
		if coditect.IsNotFound(err) {
			return coditect.Actor{}, invalid
		}
		return coditect.Actor{}, err
	}
	actor := coditect.Actor{Kind: coditect.ActorAPIKey, APIKeyID: id, Tenant: tenant, Role: coditect.RoleViewer}
	k, err := s.reader.APIKeyGet(coditect.WithActor(ctx, actor), id)
	if err != nil {
		if coditect.IsNotFound(err) {
			return coditect.Actor{}, invalid
		}
		return coditect.Actor{}, err
	}
	now := s.now()
	if !hmac.Equal(k.SecretHash, HashSecret(key)) || k.RevokedAt != nil || (k.ExpiresAt != nil && now.After(*k.ExpiresAt)) {
		return coditect.Actor{}, invalid
	}
	actor.Role = k.Role
	s.usage.Record(tenant, id, now)
	return actor, nil
}

// Mailer sends one templated email.
type Mailer interface {
	Mail(ctx context.Context, kind, to string, data any) error
}

// SendInvitation runs the invitation job: it mints the accept token (replacing the
// placeholder hash) and emails the link. A retry mints a new token; an old link that
// was never delivered simply stops working.
func (s *Service) SendInvitation(ctx context.Context, id coditect.InvitationID, mailer Mailer, baseURL string) error {
	var inv Invitation
	var tok string
	err := s.store.InTenantTx(ctx, func(tx TenantTx) error {
		var err error
		if inv, err = tx.InvitationGetForUpdate(ctx, id); err != nil {
			return err
		}
		if inv.AcceptedAt != nil || inv.RevokedAt != nil || !s.now().Before(inv.ExpiresAt) {
			tok = ""
			return nil
		}
		var hash []byte
		tok, hash = InvitationToken()
		return tx.InvitationSetToken(ctx, id, hash, inv.ExpiresAt)
	})
	if coditect.IsNotFound(err) {
		return nil // revoked and gone: nothing to send
	}
	if err != nil || tok == "" {
		return err
	}
	org, err := s.reader.OrganizationGet(ctx)
	if err != nil {
		return err
	}
	return mailer.Mail(ctx, "invitation", inv.Email, map[string]any{
		"InviterName": "A colleague", "OrganizationName": org.Name, "Role": string(inv.Role),
		"AcceptURL": baseURL + "/invitations/accept?token=" + tok, "ExpiresIn": inv.ExpiresAt.Sub(s.now()).Round(time.Hour),
	})
}

// PendingInvitation is what the accept page shows about an invitation.
type PendingInvitation struct {
	Organization Organization  `json:"organization"`
	Email        string        `json:"email"`
	Role         coditect.Role `json:"role"`
	ExpiresAt    time.Time     `json:"expires_at"`
}

func invalidInvitation() error {
	return &coditect.Error{Code: CodeInvitationInvalid, Kind: coditect.CodeNotFound, Message: "this invitation is invalid, used, revoked or expired"}
}

// invitationScope finds the tenant of a token and returns a context scoped to it as a
// system actor: accepting needs the tenant before the person is a member.
func (s *Service) invitationScope(ctx context.Context, token string) (context.Context, coditect.InvitationID, error) {
	if !strings.HasPrefix(token, "inv_") || len(token) > 100 {
		return ctx, coditect.InvitationID{}, invalidInvitation()
	}
	tenant, id, err := s.lookups.InvitationByToken(ctx, HashSecret(token))
	if err != nil {
		if coditect.IsNotFound(err) {
			return ctx, id, invalidInvitation()
		}
		return ctx, id, err
	}
	return coditect.WithActor(ctx, coditect.SystemActor(tenant)), id, nil
}

// AcceptInvitation adds the account (whose verified address is email) to the
// invitation's organization with the invited role. If newAccount is set, that account is
// created first, in the same transaction.
func (s *Service) AcceptInvitation(ctx context.Context, token string, who coditect.AccountID, email string, newAccount *Account) (Organization, Membership, error) {
	a := actorOf(ctx)
	tctx, id, err := s.invitationScope(ctx, strings.TrimSpace(token))
	if err != nil {
		return Organization{}, Membership{}, err
	}
	// The audit row names the person accepting, inside the invitation's tenant.
	sys, _ := coditect.ActorFrom(tctx)
	tctx = coditect.WithActor(tctx, coditect.Actor{Kind: coditect.ActorAccount, AccountID: who, SessionID: a.SessionID, Tenant: sys.Tenant, Role: sys.Role})
	limit, err := s.memberLimit(tctx)
	if err != nil {
		return Organization{}, Membership{}, err
	}
	var m Membership
	err = s.store.InTenantTx(tctx, func(tx TenantTx) error {
		inv, err := tx.InvitationGetForUpdate(tctx, id)
		if err != nil {
			return err
		}
		if inv.AcceptedAt != nil || inv.RevokedAt != nil || !s.now().Before(inv.ExpiresAt) || !hmac.Equal(inv.TokenHash, HashSecret(token)) {
			return invalidInvitation()
		}
		if !strings.EqualFold(inv.Email, email) {
			return &coditect.Error{Code: CodeInvitationEmail, Kind: coditect.CodeForbidden, Message: "this invitation was sent to another email address"}
		}
		// The plan may have shrunk since the invitation was sent.
		if err := checkSeats(tctx, tx, limit, false); err != nil {
			return err
		}
		if newAccount != nil {
			if err := tx.AccountCreate(tctx, *newAccount); err != nil {
				return err
			}
		}
		if err := tx.InvitationAccept(tctx, id, who); err != nil {
			if coditect.ErrorKind(err) == coditect.CodeConflict {
				return &coditect.Error{Code: CodeAlreadyMember, Kind: coditect.CodeConflict, Message: "you are already a member of this organization"}
			}
			return err
		}
		m = Membership{Tenant: sys.Tenant, AccountID: who, Role: inv.Role, CreatedAt: s.now()}
		if err := s.syncSeats(tctx, tx); err != nil {
			return err
		}
		return auditRow(tctx, tx, "invitation.accept", "invitation", id.String(), map[string]string{"role": string(inv.Role)})
	})
	if err != nil {
		return Organization{}, Membership{}, err
	}
	org, err := s.reader.OrganizationGet(tctx)
	return org, m, err
}

// InvitationByToken describes a live invitation for the accept page.
func (s *Service) InvitationByToken(ctx context.Context, token string) (PendingInvitation, error) {
	tctx, id, err := s.invitationScope(ctx, strings.TrimSpace(token))
	if err != nil {
		return PendingInvitation{}, err
	}
	var inv Invitation
	err = s.store.InTenantTx(tctx, func(tx TenantTx) error {
		inv, err = tx.InvitationGetForUpdate(tctx, id)
		return err
	})
	if err != nil {
		return PendingInvitation{}, err
	}
	if inv.AcceptedAt != nil || inv.RevokedAt != nil || !s.now().Before(inv.ExpiresAt) || !hmac.Equal(inv.TokenHash, HashSecret(strings.TrimSpace(token))) {
		return PendingInvitation{}, invalidInvitation()
	}
	org, err := s.reader.OrganizationGet(tctx)
	return PendingInvitation{Organization: org, Email: inv.Email, Role: inv.Role, ExpiresAt: inv.ExpiresAt}, err
}
