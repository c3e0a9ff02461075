package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/coditect/coditect/internal/coditect"
)

// scope says which rows a transaction may reach.
type scope struct {
	tenant      coditect.TenantID // zero for global (non-tenant) work
	maintenance string            // app.maintenance for a named cross-tenant system exception
	readOnly    bool
	single      bool // exactly one statement: BEGIN, SET LOCAL, it and COMMIT in one round trip
	// quiet: the transaction changes nothing a cache holds (usage counters, key last-use
	// times, idempotency claims), so committing it does not drop the tenant's caches.
	quiet bool
}

// tenantScope is the one place the store reads the tenant from the context. It fails
// closed: without an actor that carries a tenant there is no scope and no statement.
func tenantScope(ctx context.Context) (scope, error) {
	t, err := coditect.TenantFrom(ctx)
	if err != nil {
		return scope{}, err
	}
	return scope{tenant: t}, nil
}

// settings are the SET LOCALs sent right after BEGIN. The tenant is a
// coditect.TenantID, whose String() is always a canonical UUID, so inlining it is safe
// (SET takes no bind parameters). Only SET LOCAL reaches Citus workers; set_config() and
// session-level SET do not.
func (s scope) settings() []string {
	var out []string
	if !s.tenant.IsZero() {
		out = append(out, "SET LOCAL app.tenant_id = '"+s.tenant.String()+"'")
	}
	if s.maintenance != "" {
		out = append(out, "SET LOCAL app.maintenance = '"+s.maintenance+"'")
	}
	return out
}

// pipeTx is a transaction that sends nothing until its first statement, then sends
// BEGIN, the SET LOCALs and that statement as one pipelined batch: scoping a
// transaction to a tenant costs no extra round trip. In single mode the COMMIT rides in
// the same batch, so a tenant-scoped read is exactly one round trip. pipeTx implements
// the generated code's DBTX; later statements go to the real pgx.Tx.
type pipeTx struct {
	conn  *pgxpool.Conn
	scope scope
	sent  bool             // the first batch went out
	tx    pgx.Tx           // the transaction begun by the first batch (not in single mode)
	br    pgx.BatchResults // the first batch, until its statement's rows are consumed
	err   error            // an error surfaced while closing the first batch
}

// first sends the opening batch with sql as its last statement (before COMMIT in single
// mode) and returns the results positioned at sql's result.
func (t *pipeTx) first(ctx context.Context, sql string, args []any) (pgx.BatchResults, error) {
	if t.scope.single && sql == "" {
		return nil, errors.New("postgres: a single-statement read cannot open an empty transaction")
	}
	b := &pgx.Batch{}
	opts := pgx.TxOptions{}
	if t.scope.readOnly {
		opts.AccessMode = pgx.ReadOnly
	}
	if t.scope.single {
		b.Queue("BEGIN READ ONLY")
	} else {
		b.BeginTx(opts)
	}
	n := 1
	for _, s := range t.scope.settings() {
		b.Queue(s)
		n++
	}
	if sql != "" {
		b.Queue(sql, args...)
	}
	if t.scope.single {
		b.Queue("COMMIT")
	}
	t.sent = true
	br := t.conn.SendBatch(ctx, b)
	if !t.scope.single {
		t.tx = br.Tx()
	}
	for range n {
		if _, err := br.Exec(); err != nil {
			_ = br.Close()
			return nil, err
		}
	}
	return br, nil
}

func (t *pipeTx) next() error {
	if t.br != nil {
		return errors.New("postgres: the previous statement's rows are still open")
	}
	if t.sent && t.scope.single {
		return errors.New("postgres: a single-statement read ran a second statement")
	}
	return nil
}

// Exec implements DBTX.
func (t *pipeTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if err := t.next(); err != nil {
		return pgconn.CommandTag{}, err
	}
	if t.sent {
		return t.tx.Exec(ctx, sql, args...)
	}
	br, err := t.first(ctx, sql, args)
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil && cerr != nil {
		err = cerr
	}
	return tag, err
}

// Query implements DBTX.
func (t *pipeTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if err := t.next(); err != nil {
		return nil, err
	}
	if t.sent {
		return t.tx.Query(ctx, sql, args...)
	}
	br, err := t.first(ctx, sql, args)
	if err != nil {
		return nil, err
	}
	rows, err := br.Query()
	if err != nil {
		_ = br.Close()
		return nil, err
	}
	t.br = br
	return &firstRows{Rows: rows, tx: t}, nil
}

// QueryRow implements DBTX.
func (t *pipeTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if err := t.next(); err != nil {
		return errRow{err}
	}
	if t.sent {
		return t.tx.QueryRow(ctx, sql, args...)
	}
	rows, err := t.Query(ctx, sql, args...)
	if err != nil {
		return errRow{err}
	}
	return firstRow{rows}
}

// pgxTx returns the underlying transaction for libraries that need a pgx.Tx (River's
// InsertTx), beginning it first if no statement has run yet.
func (t *pipeTx) pgxTx(ctx context.Context) (pgx.Tx, error) {
	if err := t.next(); err != nil {
		return nil, err
	}
	if !t.sent {
		br, err := t.first(ctx, "", nil)
		if err != nil {
			return nil, err
		}
		if err := br.Close(); err != nil {
			return nil, err
		}
	}
	return t.tx, nil
}

// commit finishes the transaction. Nothing sent means nothing to commit.
func (t *pipeTx) commit(ctx context.Context) error {
	switch {
	case t.br != nil:
		return errors.New("postgres: commit with rows still open")
	case !t.sent:
		return nil
	case t.scope.single:
		return t.err // COMMIT went with the statement; a failure surfaced on close
	}
	return t.tx.Commit(ctx)
}

// rollback undoes whatever is open. It asks the connection whether a transaction block
// is still open (a failed pipelined statement leaves it aborted), so it is safe after
// commit and after any failure.
func (t *pipeTx) rollback(ctx context.Context) {
	if t.br != nil {
		_ = t.br.Close()
		t.br = nil
	}
	if t.conn.Conn().PgConn().TxStatus() != 'I' {
		_, _ = t.conn.Exec(ctx, "ROLLBACK")
	}
}

// firstRows closes the first batch once its rows are done, consuming the queued COMMIT
// in single mode and keeping any error for commit.
type firstRows struct {
	pgx.Rows
	tx *pipeTx
}

func (r *firstRows) Close() {
	r.Rows.Close()
	if r.tx.br == nil {
		return
	}
	err := r.tx.br.Close()
	r.tx.br = nil
	if err == nil {
		err = r.Rows.Err()
	}
	if err != nil && r.tx.err == nil {
		r.tx.err = err
	}
}

// Err reports the rows' error or, after Close, the batch's.
func (r *firstRows) Err() error {
	if err := r.Rows.Err(); err != nil {
		return err
	}
	return r.tx.err
}

// firstRow gives QueryRow semantics (ErrNoRows, close after Scan) over firstRows.
type firstRow struct{ rows pgx.Rows }

func (r firstRow) Scan(dest ...any) error {
	defer r.rows.Close()
	if !r.rows.Next() {
		r.rows.Close()
		if err := r.rows.Err(); err != nil {
			return err
		}
		return pgx.ErrNoRows
	}
	if err := r.rows.Scan(dest...); err != nil {
		return err
	}
	r.rows.Close()
	return r.rows.Err()
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }
