package token

import (
	"errors"
	"sync/atomic"
)

// Rotator holds the KeySet in use and swaps it atomically, so Issuers reading Keys
// never lock and never see a half-rotated set. It does not persist or schedule
// anything: the caller stores keys and decides when to rotate. It is safe for
// concurrent use.
type Rotator struct {
	keys atomic.Pointer[KeySet]
}

// NewRotator returns a Rotator holding initial.
func NewRotator(initial KeySet) *Rotator {
	r := &Rotator{}
	r.keys.Store(&initial)
	return r
}

// Keys returns the KeySet in use. Pass r.Keys to NewIssuer.
func (r *Rotator) Keys() KeySet {
	if ks := r.keys.Load(); ks != nil {
		return *ks
	}
	return KeySet{}
}

// Set replaces the KeySet wholesale, e.g. with the set another process rotated to and
// stored.
func (r *Rotator) Set(ks KeySet) { r.keys.Store(&ks) }

// Rotate makes newKey the signing key and keeps the keepPrevious most recent former
// keys (the old current key first) for verification; older ones are dropped and tokens
// they signed stop verifying. Keep at least one previous key for longer than the token
// TTL, or tokens issued just before the rotation fail. It returns the new set, or an
// error (leaving the set unchanged) if newKey is invalid or its id is already in use.
func (r *Rotator) Rotate(newKey Key, keepPrevious int) (KeySet, error) {
	keepPrevious = max(keepPrevious, 0)
	for {
		oldPtr := r.keys.Load()
		var old KeySet
		if oldPtr != nil {
			old = *oldPtr
		}
		var prev []Key
		if !old.IsZero() {
			prev = append([]Key{old.Current()}, old.s.previous...)
		}
		prev = prev[:min(len(prev), keepPrevious)]
		for _, k := range prev {
			if k.ID == newKey.ID {
				return KeySet{}, errors.New("token: rotate: new key reuses a kept key's id")
			}
		}
		ks, err := NewKeySet(newKey, prev...)
		if err != nil {
			return KeySet{}, err
		}
		if r.keys.CompareAndSwap(oldPtr, &ks) {
			return ks, nil
		}
	}
}
