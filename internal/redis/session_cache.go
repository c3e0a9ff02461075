package redis

import (
	"context"

	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/identity"
)

// SessionStore is identity.Store with live sessions served from the session cache:
// after the first check, a request signed in with a session cookie or an access token
// costs no database round trip to prove its session is live. Every store method that
// ends or changes a session invalidates the account's cached sessions after the
// database took the change (and the cache's version check stops a concurrent read from
// putting the old session back), so a revoked session fails on the very next request.
type SessionStore struct {
	identity.Store
	cache *Cache
}

// NewSessionStore wraps next with the session cache.
func NewSessionStore(next identity.Store, cache *Cache) *SessionStore {
	return &SessionStore{Store: next, cache: cache}
}

// SessionGet implements identity.Store: a live session only, like the database's.
func (s *SessionStore) SessionGet(ctx context.Context, accountID coditect.AccountID, id coditect.SessionID) (identity.Session, error) {
	var c cachedSession
	st, hit := s.cache.get(ctx, accountOwner(accountID), CacheSession, id.String(), SessionTTL, &c)
	if hit && c.AccountID == accountID && c.ID == id {
		if !s.cache.now().Before(c.ExpiresAt) {
			return identity.Session{}, coditect.Errorf(coditect.CodeNotFound, "session not found")
		}
		return identity.Session(c), nil
	}
	sess, err := s.Store.SessionGet(ctx, accountID, id)
	if err != nil {
		return sess, err // not found is not cached: a session is created live and never revived
	}
	sess.RevokedAt = nil
	s.cache.fill(ctx, st, SessionTTL, cachedSession(sess))
	return sess, nil
}

// SessionRotate implements identity.Store; the new refresh hash invalidates the
// cached copy.
func (s *SessionStore) SessionRotate(ctx context.Context, accountID coditect.AccountID, id coditect.SessionID, oldHash, newHash []byte) (bool, error) {
	ok, err := s.Store.SessionRotate(ctx, accountID, id, oldHash, newHash)
	s.cache.InvalidateAccount(ctx, accountID) // also after an error: the change may have committed
	return ok, err
}

// SessionRevoke implements identity.Store (logout, revoking one session).
func (s *SessionStore) SessionRevoke(ctx context.Context, accountID coditect.AccountID, id coditect.SessionID) error {
	err := s.Store.SessionRevoke(ctx, accountID, id)
	s.cache.InvalidateAccount(ctx, accountID)
	return err
}

// AccountSetPassword implements identity.Store: it revokes every session of the
// account, so every cached one goes too.
func (s *SessionStore) AccountSetPassword(ctx context.Context, id coditect.AccountID, hash string) error {
	err := s.Store.AccountSetPassword(ctx, id, hash)
	s.cache.InvalidateAccount(ctx, id)
	return err
}
