package postgres

import (
	"context"

	"github.com/coditect/coditect/internal/account"
	"github.com/coditect/coditect/internal/identity"
)

// The store implements the features' store interfaces; these fail the build when one
// of them gains a method the store lacks.
var (
	_ identity.Store       = (*Store)(nil)
	_ account.TenantReader = (*Store)(nil)
	_ account.Lookups      = (*Store)(nil)
	_ account.TenantTx     = (*Tx)(nil)
	_ account.Store        = AccountStore{}
)

// AccountStore adapts Store to the account feature's Store interface.
type AccountStore struct{ *Store }

// InTenantTx implements account.Store: fn runs in one transaction scoped to the
// context's tenant (see Store.InTx).
func (s AccountStore) InTenantTx(ctx context.Context, fn func(account.TenantTx) error) error {
	return s.InTx(ctx, func(tx *Tx) error { return fn(tx) })
}
