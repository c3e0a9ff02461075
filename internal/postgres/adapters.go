package postgres

import (
	"context"

	"github.com/coditect/coditect/internal/account"
)

// AccountStore adapts Store to the account feature's Store interface.
type AccountStore struct{ *Store }

// InTenantTx implements account.Store.
func (s AccountStore) InTenantTx(ctx context.Context, fn func(account.Tx) error) error {
	return s.InTx(ctx, func(tx *Tx) error { return fn(tx) })
}
