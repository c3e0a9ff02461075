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

// Filter selects audit rows: by actor, by exact action, in [Since, Until), newest
// first before the position (BeforeCreatedAt, BeforeID). Zero values mean "any".
type Filter struct {
	ActorID         *[16]byte
	Action          string
	Since, Until    time.Time
	Limit           int
	BeforeCreatedAt time.Time
	BeforeID        [16]byte
}

// Reader reads the context tenant's audit log.
type Reader interface {
	AuditLogSearch(ctx context.Context, f Filter) ([]Entry, error)
}

// Service serves the audit log to admins. Rows are never changed or deleted through
// it (or any API): the table is append-only for the application role.
type Service struct{ reader Reader }

// NewService returns a Service over r.
func NewService(r Reader) *Service { return &Service{reader: r} }

// List returns audit rows matching f, newest first. It needs admin or higher.
func (s *Service) List(ctx context.Context, f Filter) ([]Entry, error) {
	a, _ := coditect.ActorFrom(ctx)
	if err := coditect.Authorize(a, coditect.ActReadAuditLogs); err != nil {
		return nil, err
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return nil, coditect.Invalid(coditect.FieldError{Field: "until", Message: "must be after since"})
	}
	if len(f.Action) > 100 {
		return nil, coditect.Invalid(coditect.FieldError{Field: "action", Message: "must be at most 100 characters"})
	}
	out, err := s.reader.AuditLogSearch(ctx, f)
	if out == nil {
		out = []Entry{}
	}
	return out, err
}

// NewEntry builds the audit row of a change made by the context's actor, with the
// request's origin. changes is any JSON-encodable value (nil for none) and must hold no
// secrets: it says which fields changed and to what.
func NewEntry(ctx context.Context, action, targetType, targetID string, changes any) (Entry, error) {
	a, _ := coditect.ActorFrom(ctx)
	e := Entry{ID: coditect.NewID[coditect.AuditLogID](), ActorType: a.Kind, ActorID: a.AuditActorID(), Action: action,
		TargetType: targetType, TargetID: targetID}
	if info, ok := InfoFrom(ctx); ok {
		e.IP, e.UserAgent = info.IP, info.UserAgent
	}
	if changes != nil {
		b, err := json.Marshal(changes)
		if err != nil {
			return Entry{}, err
		}
		e.Changes = b
	}
	return e, nil
}
