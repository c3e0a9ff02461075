package postgres

import (
	"context"

	"github.com/coditect/coditect/internal/account"
	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/identity"
	"github.com/coditect/coditect/internal/work"
)

// The store implements the features' store interfaces; these fail the build when one
// of them gains a method the store lacks.
var (
	_ identity.Store       = (*Store)(nil)
	_ account.TenantReader = (*Store)(nil)
	_ account.Lookups      = (*Store)(nil)
	_ account.TenantTx     = (*Tx)(nil)
	_ account.ErasureStore = (*Store)(nil)
	_ account.Store        = AccountStore{}
	_ work.Tx              = (*Tx)(nil)
	_ work.Reader          = WorkStore{}
	_ work.TxStore         = WorkStore{}
)

// AccountStore adapts Store to the account feature's Store interface.
type AccountStore struct{ *Store }

// InTenantTx implements account.Store: fn runs in one transaction scoped to the
// context's tenant (see Store.InTx).
func (s AccountStore) InTenantTx(ctx context.Context, fn func(account.TenantTx) error) error {
	return s.InTx(ctx, func(tx *Tx) error { return fn(tx) })
}

// WorkStore adapts Store to the work feature's Reader and TxStore interfaces.
type WorkStore struct{ *Store }

// InTenantTx implements work.TxStore: fn runs in one transaction scoped to the
// context's tenant (see Store.InTx).
func (s WorkStore) InTenantTx(ctx context.Context, fn func(work.Tx) error) error {
	return s.InTx(ctx, func(tx *Tx) error { return fn(tx) })
}

// IsMember implements work.Reader: whether the account is a member of the context's
// tenant.
func (s WorkStore) IsMember(ctx context.Context, id coditect.AccountID) (bool, error) {
	_, err := s.MembershipGet(ctx, id)
	if coditect.IsNotFound(err) {
		return false, nil
	}
	return err == nil, err
}
