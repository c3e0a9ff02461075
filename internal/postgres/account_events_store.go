package postgres

import (
	"context"

	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/identity"
	"github.com/coditect/coditect/internal/postgres/internal/dbsqlc"
)

// AccountEventAdd appends to an account's security trail.
func (s *Store) AccountEventAdd(ctx context.Context, e identity.AccountEvent) error {
	err := s.global(ctx, func(q *dbsqlc.Queries) error {
		return q.AccountEventInsert(ctx, dbsqlc.AccountEventInsertParams{AccountID: uid(e.AccountID), ID: uid(e.ID), Event: e.Event,
			Ip: e.IP, UserAgent: e.UserAgent})
	})
	return dbError(err, "account event")
}

// AccountEvents returns an account's most recent security events, newest first.
func (s *Store) AccountEvents(ctx context.Context, id coditect.AccountID, limit int) ([]identity.AccountEvent, error) {
	var out []identity.AccountEvent
	err := s.global(ctx, func(q *dbsqlc.Queries) error {
		rows, err := q.AccountEventList(ctx, dbsqlc.AccountEventListParams{AccountID: uid(id), Limit: pageLimit(limit)})
		for _, r := range rows {
			out = append(out, identity.AccountEvent{ID: coditect.AccountEventID(r.ID), AccountID: coditect.AccountID(r.AccountID),
				Event: r.Event, IP: r.Ip, UserAgent: r.UserAgent, CreatedAt: r.CreatedAt})
		}
		return err
	})
	return out, dbError(err, "account event")
}
