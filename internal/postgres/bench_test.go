package postgres_test

import (
	"context"
	"testing"

	"github.com/coditect/coditect/internal/work"
)

// The store's tenant-scoped read (BEGIN READ ONLY + SET LOCAL + SELECT + COMMIT in one
// pipelined round trip) against the bare SELECT on the same pool: the difference is
// the whole cost of tenant scoping and row-level security.
//
//	go test ./internal/postgres/ -run '^$' -bench . -benchtime 5000x

func BenchmarkWorkspaceGetStore(b *testing.B) {
	bn := setupBench(b)
	w := createWorkspace(b, bn, bn.a, "bench")
	b.ResetTimer()
	for b.Loop() {
		if _, err := bn.store.WorkspaceGet(bn.a, w.ID); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWorkspaceGetRawSQL(b *testing.B) {
	bn := setupBench(b)
	w := createWorkspace(b, bn, bn.a, "bench")
	pool := rawPool(b, bn)
	tenant := tenantOf(b, bn, bn.a)
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		var name string
		// As a superuser-free owner connection would without RLS: plain query, no tx.
		if err := pool.QueryRow(ctx, "SELECT name FROM workspaces WHERE tenant_id = $1 AND id = $2", tenant, w.ID.String()).Scan(&name); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWorkspaceListStore(b *testing.B) {
	bn := setupBench(b)
	for range 50 {
		createWorkspace(b, bn, bn.a, "bench")
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := bn.store.WorkspaceList(bn.a, work.Page{Limit: 50}); err != nil {
			b.Fatal(err)
		}
	}
}
