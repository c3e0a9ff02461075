package postgres

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/coditect/coditect/internal/account"
	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/identity"
	"github.com/coditect/coditect/internal/postgres/internal/dbsqlc"
)

// The identity.Store methods. Accounts, sessions, MFA state, recovery codes, email
// tokens and signing keys are not tenant data, so everything here runs in global
// transactions (s.global); each statement is keyed by the account, the token hash or
// the key id it is about.

func sessionOut(r dbsqlc.SessionGetRow) identity.Session {
	return identity.Session{ID: coditect.SessionID(r.ID), AccountID: coditect.AccountID(r.AccountID), RefreshHash: r.RefreshHash,
		CookieHash: r.CookieHash, RefreshGeneration: int(r.RefreshGeneration), UserAgent: r.UserAgent, IP: r.Ip,
		CreatedAt: r.CreatedAt, LastUsedAt: r.LastUsedAt, ExpiresAt: r.ExpiresAt, RevokedAt: r.RevokedAt}
}

// changed turns an UPDATE's row count into "not found" when it touched nothing.
func changed(n int64, err error, what string) error { return deleted(n, err, what) }

// AccountGet returns an account by id.
func (s *Store) AccountGet(ctx context.Context, id coditect.AccountID) (account.Account, error) {
	var out account.Account
	err := s.global(ctx, func(q *dbsqlc.Queries) error {
		r, err := q.AccountGet(ctx, uid(id))
		out = accountOut(r.ID, r.Email, r.Name, r.PasswordHash)
		out.EmailVerifiedAt, out.CreatedAt = r.EmailVerifiedAt, r.CreatedAt
		return err
	})
	return out, dbError(err, "account")
}

// AccountProfiles implements account.Lookups: the name and email of each account in
// ids that exists (a global read; accounts are not tenant data).
func (s *Store) AccountProfiles(ctx context.Context, ids []coditect.AccountID) (map[coditect.AccountID]account.Profile, error) {
	out := make(map[coditect.AccountID]account.Profile, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	uids := make([]uuid.UUID, len(ids))
	for i, id := range ids {
		uids[i] = uid(id)
	}
	err := s.global(ctx, func(q *dbsqlc.Queries) error {
		rows, err := q.AccountProfiles(ctx, uids)
		for _, r := range rows {
			out[coditect.AccountID(r.ID)] = account.Profile{Name: r.Name, Email: r.Email}
		}
		return err
	})
	return out, dbError(err, "account")
}

// AccountSetPassword stores a new password hash and revokes every live session of the
// account, in one transaction: a password change (or reset) signs out everywhere.
func (s *Store) AccountSetPassword(ctx context.Context, id coditect.AccountID, hash string) error {
	err := s.global(ctx, func(q *dbsqlc.Queries) error {
		n, err := q.AccountSetPassword(ctx, dbsqlc.AccountSetPasswordParams{ID: uid(id), PasswordHash: hash})
		if err := changed(n, err, "account"); err != nil {
			return err
		}
		return q.SessionRevokeAll(ctx, uid(id))
	})
	return dbError(err, "account")
}

// AccountMarkEmailVerified marks the account's email verified, but only while email
// is still the account's address (the one the verification link was sent to);
// otherwise the account is not found. Verifying again keeps the first time.
func (s *Store) AccountMarkEmailVerified(ctx context.Context, id coditect.AccountID, email string) error {
	err := s.global(ctx, func(q *dbsqlc.Queries) error {
		n, err := q.AccountMarkEmailVerified(ctx, dbsqlc.AccountMarkEmailVerifiedParams{ID: uid(id), Email: email})
		return changed(n, err, "account")
	})
	return dbError(err, "account")
}

// SessionCreate stores a new session. Its CreatedAt and LastUsedAt are the server's
// now(); RevokedAt is ignored (a new session is live).
func (s *Store) SessionCreate(ctx context.Context, sess identity.Session) error {
	err := s.global(ctx, func(q *dbsqlc.Queries) error {
		return q.SessionInsert(ctx, dbsqlc.SessionInsertParams{AccountID: uid(sess.AccountID), ID: uid(sess.ID), RefreshHash: sess.RefreshHash,
			CookieHash: sess.CookieHash, RefreshGeneration: int32(sess.RefreshGeneration), UserAgent: sess.UserAgent, Ip: sess.IP,
			ExpiresAt: sess.ExpiresAt})
	})
	return dbError(err, "session")
}

// SessionGet returns a live session of the account; a revoked, expired or unknown
// session (or one of another account) is not found.
func (s *Store) SessionGet(ctx context.Context, accountID coditect.AccountID, id coditect.SessionID) (identity.Session, error) {
	var out identity.Session
	err := s.global(ctx, func(q *dbsqlc.Queries) error {
		r, err := q.SessionGet(ctx, dbsqlc.SessionGetParams{AccountID: uid(accountID), ID: uid(id)})
		out = sessionOut(r)
		return err
	})
	return out, dbError(err, "session")
}

// SessionRotate swaps the refresh hash from oldHash to newHash if oldHash is current
// and the session is live, bumping its generation and last use. false means it was
// not: a reused (already rotated) token, an unknown or dead session, or another
// account's session. It never revokes anything itself; the caller decides.
func (s *Store) SessionRotate(ctx context.Context, accountID coditect.AccountID, id coditect.SessionID, oldHash, newHash []byte) (bool, error) {
	var n int64
	err := s.global(ctx, func(q *dbsqlc.Queries) (err error) {
		n, err = q.SessionRotate(ctx, dbsqlc.SessionRotateParams{AccountID: uid(accountID), ID: uid(id), OldHash: oldHash, NewHash: newHash})
		return err
	})
	return n == 1, dbError(err, "session")
}

// SessionRevoke revokes one session of the account. Revoking an already revoked
// session succeeds and keeps its first revocation time; an unknown session, or one of
// another account, is not found.
func (s *Store) SessionRevoke(ctx context.Context, accountID coditect.AccountID, id coditect.SessionID) error {
	err := s.global(ctx, func(q *dbsqlc.Queries) error {
		n, err := q.SessionRevoke(ctx, dbsqlc.SessionRevokeParams{AccountID: uid(accountID), ID: uid(id)})
		return changed(n, err, "session")
	})
	return dbError(err, "session")
}

// SessionList returns the account's live sessions, most recently used first (at most
// maxPage of them).
func (s *Store) SessionList(ctx context.Context, accountID coditect.AccountID) ([]identity.Session, error) {
	var out []identity.Session
	err := s.global(ctx, func(q *dbsqlc.Queries) error {
		rows, err := q.SessionList(ctx, dbsqlc.SessionListParams{AccountID: uid(accountID), Limit: maxPage})
		for _, r := range rows {
			out = append(out, sessionOut(dbsqlc.SessionGetRow(r)))
		}
		return err
	})
	return out, dbError(err, "session")
}

// MFAGet returns the account's TOTP state.
func (s *Store) MFAGet(ctx context.Context, accountID coditect.AccountID) (identity.MFAState, error) {
	var out identity.MFAState
	err := s.global(ctx, func(q *dbsqlc.Queries) error {
		r, err := q.MFAGet(ctx, uid(accountID))
		out = identity.MFAState{Secret: r.TotpSecret, PendingSecret: r.TotpPendingSecret, EnabledAt: r.TotpEnabledAt, LastStep: r.TotpLastStep}
		return err
	})
	return out, dbError(err, "account")
}

// MFASetPending stores a sealed secret awaiting its first verified code, replacing any
// earlier pending one. An active secret stays active until MFAEnable.
func (s *Store) MFASetPending(ctx context.Context, accountID coditect.AccountID, sealed []byte) error {
	err := s.global(ctx, func(q *dbsqlc.Queries) error {
		n, err := q.MFASetPending(ctx, dbsqlc.MFASetPendingParams{ID: uid(accountID), TotpPendingSecret: sealed})
		return changed(n, err, "account")
	})
	return dbError(err, "account")
}

// MFAEnable, in one transaction, makes the pending secret active, records step as used
// (never moving the last step back) and replaces all recovery codes with
// recoveryHashes. Without a pending secret it is not found and nothing changes.
func (s *Store) MFAEnable(ctx context.Context, accountID coditect.AccountID, step int64, recoveryHashes [][]byte) error {
	id := uid(accountID)
	err := s.global(ctx, func(q *dbsqlc.Queries) error {
		n, err := q.MFAActivate(ctx, dbsqlc.MFAActivateParams{ID: id, Step: step})
		if err := changed(n, err, "pending MFA secret"); err != nil {
			return err
		}
		if err := q.RecoveryCodeDeleteAll(ctx, id); err != nil {
			return err
		}
		if len(recoveryHashes) == 0 {
			return nil
		}
		return q.RecoveryCodeInsertMany(ctx, dbsqlc.RecoveryCodeInsertManyParams{AccountID: id, CodeHashes: recoveryHashes})
	})
	return dbError(err, "recovery code")
}

// MFADisable turns MFA off: it clears the active and pending secrets and deletes the
// recovery codes, in one transaction. The last used step is kept, so codes accepted
// before stay unusable.
func (s *Store) MFADisable(ctx context.Context, accountID coditect.AccountID) error {
	id := uid(accountID)
	err := s.global(ctx, func(q *dbsqlc.Queries) error {
		n, err := q.MFADisable(ctx, id)
		if err := changed(n, err, "account"); err != nil {
			return err
		}
		return q.RecoveryCodeDeleteAll(ctx, id)
	})
	return dbError(err, "account")
}

// MFAUseStep records step as the last used TOTP step if it is newer than the last
// one; false means it was not (a replay, or an unknown account).
func (s *Store) MFAUseStep(ctx context.Context, accountID coditect.AccountID, step int64) (bool, error) {
	var n int64
	err := s.global(ctx, func(q *dbsqlc.Queries) (err error) {
		n, err = q.MFAUseStep(ctx, dbsqlc.MFAUseStepParams{ID: uid(accountID), TotpLastStep: step})
		return err
	})
	return n == 1, dbError(err, "account")
}

// RecoveryCodeHashes returns the hashes of the account's unused recovery codes.
func (s *Store) RecoveryCodeHashes(ctx context.Context, accountID coditect.AccountID) ([][]byte, error) {
	var out [][]byte
	err := s.global(ctx, func(q *dbsqlc.Queries) (err error) {
		out, err = q.RecoveryCodeList(ctx, uid(accountID))
		return err
	})
	return out, dbError(err, "recovery code")
}

// RecoveryCodeUse deletes one recovery code of the account; false means it was not
// there (already used, or never the account's).
func (s *Store) RecoveryCodeUse(ctx context.Context, accountID coditect.AccountID, hash []byte) (bool, error) {
	var n int64
	err := s.global(ctx, func(q *dbsqlc.Queries) (err error) {
		n, err = q.RecoveryCodeUse(ctx, dbsqlc.RecoveryCodeUseParams{AccountID: uid(accountID), CodeHash: hash})
		return err
	})
	return n == 1, dbError(err, "recovery code")
}

// EmailTokenCreate stores a single-use email token by its hash.
func (s *Store) EmailTokenCreate(ctx context.Context, t identity.EmailToken) error {
	err := s.global(ctx, func(q *dbsqlc.Queries) error {
		return q.EmailTokenCreate(ctx, dbsqlc.EmailTokenCreateParams{TokenHash: t.Hash, AccountID: uid(t.AccountID), Purpose: t.Purpose,
			Email: t.Email, ExpiresAt: t.ExpiresAt})
	})
	return dbError(err, "email token")
}

// EmailTokenConsume marks a live, unused token of purpose used and returns it; a used,
// expired, unknown or other-purpose token is not found. Two concurrent consumers of
// one token cannot both succeed: the UPDATE's row lock serializes them and the second
// sees used_at set.
func (s *Store) EmailTokenConsume(ctx context.Context, hash []byte, purpose string) (identity.EmailToken, error) {
	var out identity.EmailToken
	err := s.global(ctx, func(q *dbsqlc.Queries) error {
		r, err := q.EmailTokenConsume(ctx, dbsqlc.EmailTokenConsumeParams{TokenHash: hash, Purpose: purpose})
		out = identity.EmailToken{Hash: r.TokenHash, AccountID: coditect.AccountID(r.AccountID), Purpose: r.Purpose, Email: r.Email, ExpiresAt: r.ExpiresAt}
		return err
	})
	return out, dbError(err, "email token")
}

// SigningKeys returns every stored signing key, retired ones included, oldest first.
func (s *Store) SigningKeys(ctx context.Context) ([]identity.SigningKey, error) {
	var out []identity.SigningKey
	err := s.global(ctx, func(q *dbsqlc.Queries) error {
		rows, err := q.SigningKeyList(ctx)
		for _, r := range rows {
			out = append(out, identity.SigningKey{ID: r.ID, Alg: r.Alg, Sealed: r.SealedKey, CreatedAt: r.CreatedAt, RetiredAt: r.RetiredAt})
		}
		return err
	})
	return out, dbError(err, "signing key")
}

// SigningKeyAdd stores a sealed signing key. A zero CreatedAt means now; an id in use
// is a conflict.
func (s *Store) SigningKeyAdd(ctx context.Context, k identity.SigningKey) error {
	var created *time.Time
	if !k.CreatedAt.IsZero() {
		created = &k.CreatedAt
	}
	err := s.global(ctx, func(q *dbsqlc.Queries) error {
		return q.SigningKeyAdd(ctx, dbsqlc.SigningKeyAddParams{ID: k.ID, Alg: k.Alg, SealedKey: k.Sealed, CreatedAt: created, RetiredAt: k.RetiredAt})
	})
	return dbError(err, "signing key")
}

// SigningKeyRetire marks a key retired.
// Retiring it again keeps the first time; an unknown id is not found.
func (s *Store) SigningKeyRetire(ctx context.Context, id string) error {
	err := s.global(ctx, func(q *dbsqlc.Queries) error {
		n, err := q.SigningKeyRetire(ctx, id)
		return changed(n, err, "signing key")
	})
	return dbError(err, "signing key")
}
