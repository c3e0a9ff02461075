package export_test

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"encoding/json"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/export"
	"github.com/coditect/coditect/internal/work"
)

// heapSampler records the peak of the process's in-use heap while it runs.
type heapSampler struct {
	stop chan struct{}
	done chan struct{}
	mu   sync.Mutex
	peak uint64
}

func sampleHeap() *heapSampler {
	s := &heapSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			s.mu.Lock()
			s.peak = max(s.peak, ms.HeapInuse)
			s.mu.Unlock()
			select {
			case <-s.stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	return s
}

func (s *heapSampler) Stop() uint64 {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peak
}

const (
	bigTenantTasks = 100_000
	memoryBound    = 64 << 20
)

// TestExportMemoryIsBounded exports a tenant of 100,000 tasks whose JSON is larger
// than the memory bound itself, and checks that the process's heap never holds more
// than the bound while it does: the rows stream from the database to the archive, they
// are never all in memory. It measures the whole process, so it does not call
// t.Parallel(): Go runs it before the parallel tests start, alone.
func TestExportMemoryIsBounded(t *testing.T) {
	f := setup(t)
	ws, err := f.work.CreateWorkspace(f.a.member, work.CreateWorkspaceParams{Name: "big"})
	require.NoError(t, err)
	p, err := f.work.CreateProject(f.a.member, work.CreateProjectParams{WorkspaceID: ws.ID, Name: "big"})
	require.NoError(t, err)

	// Seed with COPY as the superuser: 100,000 tasks with 450-byte descriptions.
	desc := strings.Repeat("The quick brown fox jumps over the lazy dog. ", 11)[:450]
	now := time.Now().UTC()
	i := 0
	n, err := f.admin.CopyFrom(context.Background(), pgx.Identifier{"tasks"},
		[]string{"tenant_id", "id", "project_id", "title", "description", "status", "assignee_id", "created_at", "updated_at"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if i == bigTenantTasks {
				return nil, nil
			}
			i++
			var assignee any
			if i%3 == 0 {
				assignee = f.a.memberID.String()
			}
			return []any{f.a.id.String(), coditect.NewID[coditect.TaskID]().String(), p.ID.String(), "task", desc, "todo", assignee, now, now}, nil
		}))
	require.NoError(t, err)
	require.EqualValues(t, bigTenantTasks, n)

	svc := export.NewService(f.es, f.files, export.Config{TempDir: t.TempDir()}) // default pages of 1,000
	e, err := svc.RequestExport(f.a.admin)
	require.NoError(t, err)

	runtime.GC()
	started := time.Now()
	sampler := sampleHeap()
	err = svc.Run(f.a.system, e.ID)
	peak := sampler.Stop()
	t.Logf("seeded in %s, exported in %s", started.Sub(now), time.Since(started))
	require.NoError(t, err)

	done, err := svc.Export(f.a.admin, e.ID)
	require.NoError(t, err)
	require.Equal(t, export.StatusCompleted, done.Status)
	require.EqualValues(t, bigTenantTasks, done.Counts["tasks"])

	r, _, _, err := svc.Download(f.a.admin, e.ID)
	require.NoError(t, err)
	defer r.Close()
	gz, err := gzip.NewReader(r)
	require.NoError(t, err)
	tr := tar.NewReader(gz)
	hdr, err := tr.Next()
	require.NoError(t, err)
	require.Equal(t, export.ManifestName, hdr.Name)
	var m export.Manifest
	require.NoError(t, json.NewDecoder(tr).Decode(&m))
	var tasksBytes int64
	for _, fe := range m.Files {
		if fe.Name == export.FileTasks {
			tasksBytes = fe.Bytes
		}
	}
	require.Greater(t, tasksBytes, int64(memoryBound), "the data is larger than the bound, so holding it would break it")
	t.Logf("tasks.jsonl %d MiB, archive %d MiB, peak heap in use %d MiB", tasksBytes>>20, done.SizeBytes>>20, peak>>20)
	require.Less(t, peak, uint64(memoryBound), "peak heap in use %d MiB", peak>>20)
}
