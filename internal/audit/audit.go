// Package audit describes the append-only record of every change made in a tenant.
package audit

import (
	"context"
	"encoding/json"
	"net/netip"
	"time"

	"github.com/coditect/coditect/internal/coditect"
)

// Entry is one audit row: who did what to which target, from where.
type Entry struct {
	ID         coditect.AuditLogID `json:"id"`
	ActorType  coditect.ActorKind  `json:"actor_type"`
	ActorID    *[16]byte           `json:"-"`
	Action     string              `json:"action"` // e.g. "project.create"
	TargetType string              `json:"target_type"`
	TargetID   string              `json:"target_id"`
	IP         *netip.Addr         `json:"ip"`
	UserAgent  string              `json:"user_agent"`
	Changes    json.RawMessage     `json:"changes"` // changed fields, never secrets
	CreatedAt  time.Time           `json:"created_at"`
}

// RequestInfo is where a change came from: it goes into the change's audit row.
type RequestInfo struct {
	IP        *netip.Addr
	UserAgent string
}

type infoKey struct{}

// WithInfo returns a context carrying the request's origin for audit rows.
func WithInfo(ctx context.Context, info RequestInfo) context.Context {
	return context.WithValue(ctx, infoKey{}, info)
}

// InfoFrom returns the request origin stored by WithInfo.
func InfoFrom(ctx context.Context) (RequestInfo, bool) {
	info, ok := ctx.Value(infoKey{}).(RequestInfo)
	return info, ok
}
