package identity

import (
	"context"
	"net/netip"
	"time"

	"github.com/coditect/coditect/internal/account"
	"github.com/coditect/coditect/internal/coditect"
)

// Session is one signed-in device or client of an account. Its refresh token (and,
// for browsers, its cookie) are stored only as SHA-256 hashes. A session is the
// refresh-token family: reusing a rotated refresh token revokes it.
type Session struct {
	ID                coditect.SessionID `json:"id"`
	AccountID         coditect.AccountID `json:"-"`
	RefreshHash       []byte             `json:"-"`
	CookieHash        []byte             `json:"-"`
	RefreshGeneration int                `json:"-"`
	UserAgent         string             `json:"user_agent"`
	IP                *netip.Addr        `json:"ip"`
	CreatedAt         time.Time          `json:"created_at"`
	LastUsedAt        time.Time          `json:"last_used_at"`
	ExpiresAt         time.Time          `json:"expires_at"`
	RevokedAt         *time.Time         `json:"-"`
}

// MFAState is an account's TOTP enrolment. Secrets are sealed with the app secret.
type MFAState struct {
	Secret        []byte     // sealed; nil when MFA is off
	PendingSecret []byte     // sealed; set between enrolment and its first verified code
	EnabledAt     *time.Time // nil when MFA is off
	LastStep      int64      // the last accepted TOTP time step (replay protection)
}

// Email token purposes.
const (
	PurposeVerifyEmail   = "verify_email"
	PurposePasswordReset = "password_reset"
)

// EmailToken is a single-use, expiring token sent by email, stored by its hash.
type EmailToken struct {
	Hash      []byte
	AccountID coditect.AccountID
	Purpose   string
	Email     string
	ExpiresAt time.Time
}

// SigningKey is a stored access-token signing key, sealed with the app secret.
type SigningKey struct {
	ID        string
	Alg       string
	Sealed    []byte
	CreatedAt time.Time
	RetiredAt *time.Time
}

// AccountEvent is one entry of an account's security trail.
type AccountEvent struct {
	ID        coditect.AccountEventID `json:"id"`
	AccountID coditect.AccountID      `json:"-"`
	Event     string                  `json:"event"` // e.g. "login.succeeded", "login.failed", "mfa.enabled"
	IP        *netip.Addr             `json:"ip"`
	UserAgent string                  `json:"user_agent"`
	CreatedAt time.Time               `json:"created_at"`
}

// Store is what identity needs from persistence. None of it is tenant data: accounts,
// sessions, MFA and email tokens are keyed by account or by token hash.
type Store interface {
	AccountGet(ctx context.Context, id coditect.AccountID) (account.Account, error)
	AccountByEmail(ctx context.Context, email string) (account.Account, error)
	AccountMemberships(ctx context.Context, id coditect.AccountID) ([]account.Membership, error)
	// AccountSetPassword stores a new hash and revokes every session of the account.
	AccountSetPassword(ctx context.Context, id coditect.AccountID, hash string) error
	AccountMarkEmailVerified(ctx context.Context, id coditect.AccountID, email string) error

	SessionCreate(ctx context.Context, s Session) error
	SessionGet(ctx context.Context, accountID coditect.AccountID, id coditect.SessionID) (Session, error)
	// SessionRotate swaps the refresh hash if oldHash is current and the session is
	// live; false means it was not (a reused or unknown token).
	SessionRotate(ctx context.Context, accountID coditect.AccountID, id coditect.SessionID, oldHash, newHash []byte) (bool, error)
	SessionRevoke(ctx context.Context, accountID coditect.AccountID, id coditect.SessionID) error
	SessionList(ctx context.Context, accountID coditect.AccountID) ([]Session, error)

	MFAGet(ctx context.Context, accountID coditect.AccountID) (MFAState, error)
	MFASetPending(ctx context.Context, accountID coditect.AccountID, sealed []byte) error
	// MFAEnable makes the pending secret active, records step as used and replaces the
	// recovery codes, in one transaction.
	MFAEnable(ctx context.Context, accountID coditect.AccountID, step int64, recoveryHashes [][]byte) error
	MFADisable(ctx context.Context, accountID coditect.AccountID) error
	// MFAUseStep records step as used if it is newer than the last one; false = replay.
	MFAUseStep(ctx context.Context, accountID coditect.AccountID, step int64) (bool, error)
	RecoveryCodeHashes(ctx context.Context, accountID coditect.AccountID) ([][]byte, error)
	// RecoveryCodeUse deletes one code; false means it was not there (already used).
	RecoveryCodeUse(ctx context.Context, accountID coditect.AccountID, hash []byte) (bool, error)

	EmailTokenCreate(ctx context.Context, t EmailToken) error
	// EmailTokenConsume marks a live token of purpose used and returns it; a used,
	// expired or unknown token is not found.
	EmailTokenConsume(ctx context.Context, hash []byte, purpose string) (EmailToken, error)

	AccountEventAdd(ctx context.Context, e AccountEvent) error
	AccountEvents(ctx context.Context, id coditect.AccountID, limit int) ([]AccountEvent, error)

	SigningKeys(ctx context.Context) ([]SigningKey, error)
	SigningKeyAdd(ctx context.Context, k SigningKey) error
	SigningKeyRetire(ctx context.Context, id string) error
}
