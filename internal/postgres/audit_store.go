package postgres

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/coditect/coditect/internal/audit"
	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/postgres/internal/dbsqlc"
)

// AuditLogInsert appends e to the transaction tenant's audit log.
func (tx *Tx) AuditLogInsert(ctx context.Context, e audit.Entry) error {
	var actor *uuid.UUID
	if e.ActorID != nil {
		u := uuid.UUID(*e.ActorID)
		actor = &u
	}
	changes := []byte(e.Changes)
	if len(changes) == 0 {
		changes = []byte("{}")
	}
	err := tx.q.AuditLogInsert(ctx, dbsqlc.AuditLogInsertParams{TenantID: tenantUID(tx.tenant), ID: uid(e.ID), ActorType: string(e.ActorType),
		ActorID: actor, Action: e.Action, TargetType: e.TargetType, TargetID: e.TargetID, Ip: e.IP, UserAgent: e.UserAgent, Changes: changes})
	return dbError(err, "audit log")
}

// AuditLogList returns the context tenant's audit rows newest first, before the
// position (before, beforeID); zero values start at the newest.
func (s *Store) AuditLogList(ctx context.Context, limit int, before time.Time, beforeID [16]byte) ([]audit.Entry, error) {
	return s.AuditLogSearch(ctx, audit.Filter{Limit: limit, BeforeCreatedAt: before, BeforeID: beforeID})
}

// AuditLogSearch returns the context tenant's audit rows newest first, matching f,
// before the position (f.BeforeCreatedAt, f.BeforeID); zero values start at the newest.
func (s *Store) AuditLogSearch(ctx context.Context, f audit.Filter) ([]audit.Entry, error) {
	before, until := f.BeforeCreatedAt, f.Until
	if before.IsZero() {
		before = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if until.IsZero() {
		until = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	var actor *uuid.UUID
	if f.ActorID != nil {
		u := uuid.UUID(*f.ActorID)
		actor = &u
	}
	var action *string
	if f.Action != "" {
		action = &f.Action
	}
	var out []audit.Entry
	err := s.read(ctx, func(q *dbsqlc.Queries, tenant uuid.UUID) error {
		rows, err := q.AuditLogList(ctx, dbsqlc.AuditLogListParams{TenantID: tenant, Limit: pageLimit(f.Limit), ActorID: actor, Action: action,
			Since: f.Since, Until: until, BeforeCreatedAt: before, BeforeID: uuid.UUID(f.BeforeID)})
		for _, r := range rows {
			e := audit.Entry{ID: coditect.AuditLogID(r.ID), ActorType: coditect.ActorKind(r.ActorType), Action: r.Action,
				TargetType: r.TargetType, TargetID: r.TargetID, IP: r.Ip, UserAgent: r.UserAgent, Changes: r.Changes, CreatedAt: r.CreatedAt}
			if r.ActorID != nil {
				b := [16]byte(*r.ActorID)
				e.ActorID = &b
			}
			out = append(out, e)
		}
		return err
	})
	return out, dbError(err, "audit log")
}
