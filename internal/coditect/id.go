package coditect

import (
	"encoding/hex"
	"errors"
)

// idKind tags an ID so that, for example, a TenantID cannot be passed where an
// AccountID is expected.
type idKind interface{ idKindName() string }

type (
	tenantKind    struct{}
	accountKind   struct{}
	workspaceKind struct{}
	projectKind   struct{}
	taskKind      struct{}
	sessionKind   struct{}
	apiKeyKind    struct{}
	auditKind     struct{}
	inviteKind    struct{}
	oauthKind     struct{}
	acctEvKind    struct{}
)

func (tenantKind) idKindName() string    { return "tenant" }
func (accountKind) idKindName() string   { return "account" }
func (workspaceKind) idKindName() string { return "workspace" }
func (projectKind) idKindName() string   { return "project" }
func (taskKind) idKindName() string      { return "task" }
func (sessionKind) idKindName() string   { return "session" }
func (apiKeyKind) idKindName() string    { return "api_key" }
func (auditKind) idKindName() string     { return "audit_log" }
func (inviteKind) idKindName() string    { return "invitation" }
func (acctEvKind) idKindName() string    { return "account_event" }
func (oauthKind) idKindName() string     { return "oauth_client" }

// ID is a UUID tagged with the kind of thing it identifies. The zero ID is "none".
type ID[K idKind] [16]byte

// TenantID identifies an organization; it is the tenant_id of every tenant-owned row.
type TenantID = ID[tenantKind]

// AccountID identifies a global user identity.
type AccountID = ID[accountKind]

// WorkspaceID identifies a workspace inside a tenant.
type WorkspaceID = ID[workspaceKind]

// ProjectID identifies a project inside a tenant.
type ProjectID = ID[projectKind]

// TaskID identifies a task inside a tenant.
type TaskID = ID[taskKind]

// SessionID identifies a login session of an account.
type SessionID = ID[sessionKind]

// APIKeyID identifies an API key of a tenant.
type APIKeyID = ID[apiKeyKind]

// AuditLogID identifies one audit log row.
type AuditLogID = ID[auditKind]

// InvitationID identifies an invitation inside a tenant.
type InvitationID = ID[inviteKind]

// AccountEventID identifies one entry of an account's security trail.
type AccountEventID = ID[acctEvKind]

// OAuthClientID identifies an OAuth client registered by a tenant (the row's id, not
// its public client_id).
type OAuthClientID = ID[oauthKind]

// ErrInvalidID is returned by ParseID for anything that is not a canonical UUID.
var ErrInvalidID = errors.New("invalid id: want a UUID like 0190c1b2-7d3e-7a41-9f2c-3b4d5e6f7a8b")

// NewID returns a fresh time-ordered UUID (version 7), so ids sort roughly by creation
// and B-tree inserts stay local.
// Use it as NewID[TenantID]().
func NewID[T ~[16]byte]() T { return T(newV7()) }

// ParseID parses the canonical 36-character textual form of a UUID (either case).
// Use it as ParseID[ProjectID](s).
func ParseID[T ~[16]byte](s string) (T, error) {
	u, ok := parseUUID(s)
	if !ok {
		return T{}, ErrInvalidID
	}
	return T(u), nil
}

// MustParseID is ParseID for constants in tests and seeds; it panics on bad input.
func MustParseID[T ~[16]byte](s string) T {
	id, err := ParseID[T](s)
	if err != nil {
		panic(err)
	}
	return id
}

// IsZero reports whether the id is unset.
func (id ID[K]) IsZero() bool { return id == ID[K]{} }

// String returns the canonical lowercase form, e.g. 0190c1b2-7d3e-7a41-9f2c-3b4d5e6f7a8b.
func (id ID[K]) String() string { return formatUUID(id) }

// Bytes returns the 16 raw bytes, for adapters that store UUIDs natively.
func (id ID[K]) Bytes() [16]byte { return id }

// MarshalText implements encoding.TextMarshaler so ids are JSON strings.
func (id ID[K]) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (id *ID[K]) UnmarshalText(b []byte) error {
	v, err := ParseID[ID[K]](string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}

func parseUUID(s string) ([16]byte, bool) {
	var u [16]byte
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, false
	}
	j := 0
	for i := 0; i < 36; {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			i++
			continue
		}
		hi, ok1 := fromHex(s[i])
		lo, ok2 := fromHex(s[i+1])
		if !ok1 || !ok2 {
			return u, false
		}
		u[j] = hi<<4 | lo
		j++
		i += 2
	}
	return u, true
}

func fromHex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func formatUUID(u [16]byte) string {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}
