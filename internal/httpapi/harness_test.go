package httpapi

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
)

// logBuffer collects JSON log lines; handlers may log from other goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines returns the decoded log lines whose msg is msg.
func (b *logBuffer) lines(t *testing.T, msg string) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b.buf.Bytes()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var line map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &line))
		if line["msg"] == msg {
			out = append(out, line)
		}
	}
	return out
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testDeps returns Deps with a private registry and a debug-level logger into logs.
func testDeps() (Deps, *prometheus.Registry, *logBuffer) {
	logs := &logBuffer{}
	reg := prometheus.NewRegistry()
	return Deps{
		Logger:     slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Registerer: reg,
		Gatherer:   reg,
		Version:    "test",
	}, reg, logs
}

// testOp is the least documentation rt.handle accepts, for test-only routes.
func testOp(id string) operation {
	return operation{ID: id, Summary: id, Tags: []string{"test"}, Responses: map[int]response{200: {Description: "ok"}}}
}

// serveWith wraps test-only routes in the real middleware.
func serveWith(deps Deps, add func(rt *router)) http.Handler {
	deps = withDefaults(deps)
	rt := newRouter()
	add(rt)
	return withMiddleware(deps, newMetrics(deps.Registerer), rt)
}

func do(t *testing.T, h http.Handler, method, target string, body io.Reader, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, body)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// requireProblem checks rec is a problem+json answer with status and code, and returns it.
func requireProblem(t *testing.T, rec *httptest.ResponseRecorder, status int, code string) problem {
	t.Helper()
	require.Equal(t, status, rec.Code, rec.Body.String())
	require.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"))
	var p problem
	dec := json.NewDecoder(strings.NewReader(rec.Body.String()))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&p))
	require.Equal(t, status, p.Status)
	require.Equal(t, code, p.Code)
	require.Equal(t, http.StatusText(status), p.Title)
	require.Equal(t, problemTypeBase+code, p.Type)
	require.NotEmpty(t, p.Detail)
	require.NotEmpty(t, p.RequestID)
	require.Equal(t, rec.Header().Get(headerRequestID), p.RequestID)
	return p
}
