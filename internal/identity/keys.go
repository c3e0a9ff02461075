package identity

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/coditect/coditect/internal/identity/token"
)

// KeyStore persists sealed signing keys.
type KeyStore interface {
	SigningKeys(ctx context.Context) ([]SigningKey, error)
	SigningKeyAdd(ctx context.Context, k SigningKey) error
	SigningKeyRetire(ctx context.Context, id string) error
}

// Keys keeps every replica's access-token keys in step with the database: the newest
// live key signs, older ones still verify until retired for longer than a token lives.
type Keys struct {
	store   KeyStore
	secret  []byte
	rotator *token.Rotator
	keep    time.Duration // how long a retired key still verifies
	now     func() time.Time
}

// NewKeys loads the stored keys (creating the first one if there is none).
func NewKeys(ctx context.Context, store KeyStore, secret []byte, accessTTL time.Duration, now func() time.Time) (*Keys, error) {
	if now == nil {
		now = time.Now
	}
	k := &Keys{store: store, secret: secret, keep: 2 * accessTTL, now: now}
	set, err := k.load(ctx)
	if err != nil {
		return nil, err
	}
	if set.IsZero() {
		if err := k.add(ctx); err != nil {
			return nil, err
		}
		if set, err = k.load(ctx); err != nil {
			return nil, err
		}
	}
	k.rotator = token.NewRotator(set)
	return k, nil
}

// KeySet returns the current set (for the token issuer and JWKS).
func (k *Keys) KeySet() token.KeySet { return k.rotator.Keys() }

// Refresh reloads the keys, picking up a rotation done by another replica.
func (k *Keys) Refresh(ctx context.Context) error {
	set, err := k.load(ctx)
	if err != nil {
		return err
	}
	if !set.IsZero() {
		k.rotator.Set(set)
	}
	return nil
}

// RotateIfOlder rotates when the current signing key is older than age, so the
// periodic job (which also runs when a worker starts) rotates once per period, not on
// every deploy.
func (k *Keys) RotateIfOlder(ctx context.Context, age time.Duration) error {
	if err := k.Refresh(ctx); err != nil {
		return err
	}
	if cur := k.KeySet().Current(); !cur.CreatedAt.IsZero() && k.now().Sub(cur.CreatedAt) < age {
		return nil
	}
	return k.Rotate(ctx)
}

// Rotate adds a new signing key and retires the previous ones; they keep verifying for
// twice the access-token lifetime, then drop out of the set.
func (k *Keys) Rotate(ctx context.Context) error {
	old, err := k.store.SigningKeys(ctx)
	if err != nil {
		return err
	}
	if err := k.add(ctx); err != nil {
		return err
	}
	for _, o := range old {
		if o.RetiredAt == nil {
			if err := k.store.SigningKeyRetire(ctx, o.ID); err != nil {
				return err
			}
		}
	}
	return k.Refresh(ctx)
}

func (k *Keys) add(ctx context.Context) error {
	key, err := token.GenerateKey(token.ES256)
	if err != nil {
		return err
	}
	sealed, err := token.Seal(key, k.secret)
	if err != nil {
		return err
	}
	return k.store.SigningKeyAdd(ctx, SigningKey{ID: key.ID, Alg: string(token.ES256), Sealed: sealed, CreatedAt: k.now()})
}

// load builds the set: the newest unretired key is current; unretired older ones and
// recently retired ones verify.
func (k *Keys) load(ctx context.Context) (token.KeySet, error) {
	stored, err := k.store.SigningKeys(ctx)
	if err != nil {
		return token.KeySet{}, err
	}
	sort.Slice(stored, func(i, j int) bool { return stored[i].CreatedAt.After(stored[j].CreatedAt) })
	var current *token.Key
	var previous []token.Key
	for _, s := range stored {
		if s.RetiredAt != nil && k.now().Sub(*s.RetiredAt) > k.keep {
			continue
		}
		key, err := token.Open(s.ID, s.Sealed, k.secret)
		if err != nil {
			return token.KeySet{}, fmt.Errorf("signing key %s cannot be opened (was CODITECT_SECRET_KEY changed?): %w", s.ID, err)
		}
		key.CreatedAt = s.CreatedAt
		if current == nil && s.RetiredAt == nil {
			current = &key
			continue
		}
		previous = append(previous, key)
	}
	if current == nil {
		return token.KeySet{}, nil
	}
	return token.NewKeySet(*current, previous...)
}
