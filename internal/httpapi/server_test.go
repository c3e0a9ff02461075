package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/coditect"
)

func TestHealthz(t *testing.T) {
	t.Parallel()
	deps, _, _ := testDeps()
	rec := do(t, NewServer(deps), "GET", "/healthz", nil)
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	require.JSONEq(t, `{"status":"ok"}`, rec.Body.String())
}

func TestReadyz(t *testing.T) {
	t.Parallel()
	up := func(context.Context) error { return nil }
	// A driver error that must never reach the client.
	down := func(context.Context) error {
		return errors.New("dial postgres://coditect:hunter2@db.internal:5432: connection refused")
	}
	tests := []struct {
		name       string
		pg, redis  func(context.Context) error
		wantStatus int
		wantBody   string
	}{
		{"all up", up, up, http.StatusOK,
			`{"status":"ok","checks":{"postgres":{"status":"up"},"redis":{"status":"up"}}}`},
		{"redis down is degraded", up, down, http.StatusOK,
			`{"status":"degraded","checks":{"postgres":{"status":"up"},"redis":{"status":"down","error":"unreachable"}}}`},
		{"postgres down is unavailable", down, up, http.StatusServiceUnavailable,
			`{"status":"unavailable","checks":{"postgres":{"status":"down","error":"unreachable"},"redis":{"status":"up"}}}`},
		{"both down is unavailable", down, down, http.StatusServiceUnavailable,
			`{"status":"unavailable","checks":{"postgres":{"status":"down","error":"unreachable"},"redis":{"status":"down","error":"unreachable"}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			deps, _, logs := testDeps()
			deps.Ready = []ReadyCheck{
				{Name: "postgres", Critical: true, Check: tt.pg},
				{Name: "redis", Check: tt.redis},
			}
			rec := do(t, NewServer(deps), "GET", "/readyz", nil)
			require.Equal(t, tt.wantStatus, rec.Code)
			require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
			require.JSONEq(t, tt.wantBody, rec.Body.String())
			require.NotContains(t, rec.Body.String(), "hunter2")
			if strings.Contains(tt.wantBody, "down") {
				failed := logs.lines(t, "readiness check failed")
				require.NotEmpty(t, failed)
				require.Contains(t, failed[0]["error"], "connection refused", "the full error is logged")
				require.Equal(t, rec.Header().Get(headerRequestID), failed[0]["request_id"])
			}
		})
	}
}

func TestReadyzTimeoutAndPanic(t *testing.T) {
	t.Parallel()
	deps, _, _ := testDeps()
	stuck := make(chan struct{})
	t.Cleanup(func() { close(stuck) })
	checks := []ReadyCheck{
		{Name: "honours_ctx", Critical: true, Check: func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }},
		{Name: "ignores_ctx", Check: func(context.Context) error { <-stuck; return nil }},
		{Name: "panics", Check: func(context.Context) error { panic("boom") }},
	}
	start := time.Now()
	rec := do(t, handleReadyz(deps.Logger, checks, 50*time.Millisecond), "GET", "/readyz", nil)
	require.Less(t, time.Since(start), 5*time.Second, "the overall timeout bounds the answer")
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	require.JSONEq(t, `{"status":"unavailable","checks":{
		"honours_ctx":{"status":"down","error":"timeout"},
		"ignores_ctx":{"status":"down","error":"timeout"},
		"panics":{"status":"down","error":"unreachable"}}}`, rec.Body.String())
}

func TestNewServerRejectsBadReadyChecks(t *testing.T) {
	t.Parallel()
	ok := func(context.Context) error { return nil }
	for name, checks := range map[string][]ReadyCheck{
		"no name":   {{Check: ok}},
		"no check":  {{Name: "postgres"}},
		"duplicate": {{Name: "redis", Check: ok}, {Name: "redis", Check: ok}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			deps, _, _ := testDeps()
			deps.Ready = checks
			require.Panics(t, func() { NewServer(deps) })
		})
	}
}

func TestDepsDefaults(t *testing.T) {
	t.Parallel()
	// Zero Deps work: a private registry, a discarding logger.
	rec := do(t, NewServer(Deps{}), "GET", "/metrics", nil)
	require.Equal(t, http.StatusOK, rec.Code)

	reg := prometheus.NewRegistry()
	require.NotPanics(t, func() { NewServer(Deps{Registerer: reg}) }, "a Registry serves as its own Gatherer")
	require.NotPanics(t, func() { NewServer(Deps{Registerer: reg, Gatherer: reg}) }, "a second server on one registry reuses the metrics")
	require.Panics(t, func() { NewServer(Deps{Gatherer: prometheus.Gatherers{reg}}) }, "nowhere to register")
}

func TestRequestID(t *testing.T) {
	t.Parallel()
	h := NewServer(Deps{})
	tests := []struct {
		name, sent string
		echoed     bool
	}{
		{"uuid", "0190c1b2-7d3e-7a41-9f2c-3b4d5e6f7a8b", true},
		{"all allowed characters", "Ab9._:-", true},
		{"128 chars", strings.Repeat("a", 128), true},
		{"none", "", false},
		{"129 chars", strings.Repeat("a", 129), false},
		{"500 chars", strings.Repeat("x", 500), false},
		{"space", "abc def", false},
		{"newline", "abc\ninjected", false},
		{"slash", "a/b", false},
		{"non-ascii", "café", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := do(t, h, "GET", "/healthz", nil, headerRequestID, tt.sent)
			got := rec.Header().Get(headerRequestID)
			if tt.echoed {
				require.Equal(t, tt.sent, got)
				return
			}
			require.NotEqual(t, tt.sent, got)
			require.True(t, saneRequestID(got), "fresh id %q must itself be sane", got)
		})
	}

	a := do(t, h, "GET", "/healthz", nil).Header().Get(headerRequestID)
	b := do(t, h, "GET", "/healthz", nil).Header().Get(headerRequestID)
	require.NotEqual(t, a, b)
	// Problems carry it too, in the header and the body.
	p := requireProblem(t, do(t, h, "GET", "/nope", nil, headerRequestID, "trace-1"), http.StatusNotFound, "not_found")
	require.Equal(t, "trace-1", p.RequestID)
}

func TestPanicRecovery(t *testing.T) {
	t.Parallel()
	deps, reg, logs := testDeps()
	h := serveWith(deps, func(rt *router) {
		rt.handle("GET /boom", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("ETag", `"stale"`)
			panic("secret internal state")
		}), testOp("boom"))
		rt.handle("GET /ok", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusOK, map[string]string{"ok": "yes"})
		}), testOp("ok"))
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	res, err := srv.Client().Get(srv.URL + "/boom")
	require.NoError(t, err)
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.NoError(t, res.Body.Close())
	require.Equal(t, http.StatusInternalServerError, res.StatusCode)
	require.Equal(t, "application/problem+json", res.Header.Get("Content-Type"))
	require.Empty(t, res.Header.Get("ETag"), "headers of the abandoned response are dropped")
	var p problem
	require.NoError(t, json.Unmarshal(body, &p))
	require.Equal(t, "internal", p.Code)
	require.Equal(t, res.Header.Get(headerRequestID), p.RequestID)
	require.NotContains(t, string(body), "secret internal state")

	panics := logs.lines(t, "panic serving request")
	require.Len(t, panics, 1)
	require.Equal(t, p.RequestID, panics[0]["request_id"])
	require.Equal(t, "secret internal state", panics[0]["panic"])
	require.Contains(t, panics[0]["stack"], "TestPanicRecovery")

	// The server keeps serving.
	res, err = srv.Client().Get(srv.URL + "/ok")
	require.NoError(t, err)
	require.NoError(t, res.Body.Close())
	require.Equal(t, http.StatusOK, res.StatusCode)

	// The panic is counted as the 500 it was answered with.
	require.Contains(t, metricsText(t, reg), `coditect_http_requests_total{method="GET",route="GET /boom",status="500"} 1`)
}

func TestPanicAfterResponseStartedAborts(t *testing.T) {
	t.Parallel()
	deps, _, logs := testDeps()
	h := serveWith(deps, func(rt *router) {
		rt.handle("GET /half", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusOK, map[string]string{"partial": "yes"})
			panic("after writing")
		}), testOp("half"))
		rt.handle("GET /abort", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			panic(http.ErrAbortHandler)
		}), testOp("abort"))
	})
	// net/http turns ErrAbortHandler into a dropped connection; a bare ServeHTTP sees it.
	require.PanicsWithValue(t, http.ErrAbortHandler, func() { do(t, h, "GET", "/half", nil) })
	require.Len(t, logs.lines(t, "panic serving request"), 1)
	require.PanicsWithValue(t, http.ErrAbortHandler, func() { do(t, h, "GET", "/abort", nil) })
	require.Len(t, logs.lines(t, "panic serving request"), 1, "ErrAbortHandler is passed on without a log line")
}

func TestUnknownRouteAndWrongMethod(t *testing.T) {
	t.Parallel()
	h := NewServer(Deps{})

	rec := do(t, h, "GET", "/v1/orgs/acme/nothing-here", nil)
	requireProblem(t, rec, http.StatusNotFound, "not_found")

	rec = do(t, h, "DELETE", "/healthz", nil)
	requireProblem(t, rec, http.StatusMethodNotAllowed, "method_not_allowed")
	require.Equal(t, "GET, HEAD", rec.Header().Get("Allow"))

	rec = do(t, h, "HEAD", "/healthz", nil)
	require.Equal(t, http.StatusOK, rec.Code, "GET routes answer HEAD")
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	deps, _, _ := testDeps()
	h := NewServer(deps)
	do(t, h, "GET", "/healthz", nil)
	do(t, h, "GET", "/healthz", nil)
	do(t, h, "GET", "/v1/orgs/0190c1b2-7d3e-7a41-9f2c-3b4d5e6f7a8b/secret-tenant-path", nil)
	do(t, h, "BREW", "/healthz", nil)

	rec := do(t, h, "GET", "/metrics", nil)
	require.Equal(t, http.StatusOK, rec.Code)
	text := rec.Body.String()
	require.Contains(t, text, `coditect_http_requests_total{method="GET",route="GET /healthz",status="200"} 2`)
	require.Contains(t, text, `coditect_http_requests_total{method="GET",route="unmatched",status="404"} 1`)
	require.Contains(t, text, `coditect_http_requests_total{method="OTHER",route="unmatched",status="405"} 1`)
	require.Contains(t, text, `coditect_http_request_duration_seconds_bucket{method="GET",route="GET /healthz",le="0.001"}`)
	require.Contains(t, text, `coditect_http_request_duration_seconds_bucket{method="GET",route="GET /healthz",le="10"}`)
	require.Contains(t, text, `coditect_http_requests_in_flight 1`, "the scrape itself is in flight")
	require.NotContains(t, text, "0190c1b2", "raw paths and tenant ids never become labels")
	require.NotContains(t, text, "secret-tenant-path")
}

// metricsText renders reg in the text exposition format through the real handler.
func metricsText(t *testing.T, reg *prometheus.Registry) string {
	t.Helper()
	rec := do(t, handleMetrics(nil, reg), "GET", "/metrics", nil)
	require.Equal(t, http.StatusOK, rec.Code)
	return rec.Body.String()
}

func TestAccessLog(t *testing.T) {
	t.Parallel()
	deps, _, logs := testDeps()
	var actor coditect.Actor
	actor.Kind = coditect.ActorAccount
	require.NoError(t, actor.Tenant.UnmarshalText([]byte("0190c1b2-7d3e-7a41-9f2c-000000000001")))
	require.NoError(t, actor.AccountID.UnmarshalText([]byte("0190c1b2-7d3e-7a41-9f2c-000000000002")))
	h := serveWith(deps, func(rt *router) {
		rt.handle("GET /v1/orgs/{org}/things", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// As authentication will: a copy of the request carries the actor inward.
			r = r.WithContext(coditect.WithActor(r.Context(), actor))
			setLogActor(r.Context(), actor)
			writeJSON(w, http.StatusCreated, map[string]string{"org": r.PathValue("org")})
		}), testOp("things"))
		rt.handle("POST /v1/invitations/{token}/accept", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusNoContent)
		}), testOp("accept"))
		rt.handle("GET /fails", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			writeProblem(w, r, fmt.Errorf("query failed: password=hunter2"))
		}), testOp("fails"))
	})

	rec := do(t, h, "GET", "/v1/orgs/acme/things?api_key=supersecret", nil,
		"User-Agent", "test-agent/1.0", "Authorization", "Bearer tok-secret", headerRequestID, "req-42")
	require.Equal(t, http.StatusCreated, rec.Code)
	do(t, h, "POST", "/v1/invitations/inv-secret-123/accept", nil)
	rec = do(t, h, "GET", "/fails", nil)
	p := requireProblem(t, rec, http.StatusInternalServerError, "internal")
	require.NotContains(t, rec.Body.String(), "hunter2")
	do(t, NewServer(deps), "GET", "/healthz", nil)

	lines := logs.lines(t, "http request")
	require.Len(t, lines, 4, "one line per request")
	first := lines[0]
	require.Equal(t, "INFO", first["level"])
	require.Equal(t, "req-42", first["request_id"])
	require.Equal(t, "GET", first["method"])
	require.Equal(t, "GET /v1/orgs/{org}/things", first["route"])
	require.Equal(t, "/v1/orgs/acme/things", first["path"])
	require.EqualValues(t, 201, first["status"])
	require.IsType(t, float64(0), first["duration_ms"])
	require.EqualValues(t, len(`{"org":"acme"}`+"\n"), first["bytes"])
	require.Equal(t, "192.0.2.1", first["remote_ip"])
	require.Equal(t, "test-agent/1.0", first["user_agent"])
	require.Equal(t, "0190c1b2-7d3e-7a41-9f2c-000000000001", first["tenant_id"])
	require.Equal(t, "0190c1b2-7d3e-7a41-9f2c-000000000002", first["account_id"])

	require.Equal(t, "/v1/invitations/REDACTED/accept", lines[1]["path"])
	require.NotContains(t, lines[1], "tenant_id")

	require.Equal(t, "ERROR", lines[2]["level"])
	require.Equal(t, p.RequestID, lines[2]["request_id"])
	require.Equal(t, "internal", lines[2]["error_code"])
	require.Contains(t, lines[2]["error"], "hunter2", "the cause of a 500 is logged, not shown")

	require.Equal(t, "DEBUG", lines[3]["level"], "successful probes are logged at debug level")

	all := logs.String()
	for _, secret := range []string{"supersecret", "tok-secret", "inv-secret-123", "Authorization"} {
		require.NotContains(t, all, secret)
	}
}

func TestLogPath(t *testing.T) {
	t.Parallel()
	tests := []struct{ pattern, path, want string }{
		{"", "/anything?x", "/anything?x"},
		{"GET /v1/orgs/{org}", "/v1/orgs/acme", "/v1/orgs/acme"},
		{"POST /v1/invitations/{token}/accept", "/v1/invitations/abc/accept", "/v1/invitations/REDACTED/accept"},
		{"GET /v1/x/{refresh_token}", "/v1/x/abc", "/v1/x/REDACTED"},
		{"GET /v1/x/{client_secret}", "/v1/x/abc", "/v1/x/REDACTED"},
		{"GET /v1/x/{tokenizer}", "/v1/x/abc", "/v1/x/abc"},
		{"GET /", strings.Repeat("a", 600), strings.Repeat("a", 512)},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, logPath(tt.pattern, tt.path), tt.pattern)
	}
}

func TestFlushThroughMiddleware(t *testing.T) {
	t.Parallel()
	deps, _, _ := testDeps()
	// The handler runs on the server's goroutine: it reports instead of failing the test.
	type report struct {
		isFlusher           bool
		flushErr, deadlnErr error
	}
	reports := make(chan report, 2)
	h := serveWith(deps, func(rt *router) {
		rt.handle("GET /stream", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var rep report
			_, rep.isFlusher = w.(http.Flusher)
			w.Header().Set("Content-Type", "text/event-stream")
			_, _ = io.WriteString(w, "data: 1\n\n")
			rep.flushErr = http.NewResponseController(w).Flush()
			rep.deadlnErr = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(time.Minute))
			reports <- rep
		}), testOp("stream"))
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	res, err := srv.Client().Get(srv.URL + "/stream")
	require.NoError(t, err)
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.NoError(t, res.Body.Close())
	require.Equal(t, "data: 1\n\n", string(body))
	rep := <-reports
	require.True(t, rep.isFlusher)
	require.NoError(t, rep.flushErr)
	require.NoError(t, rep.deadlnErr, "Unwrap lets ResponseController reach net/http's writer")

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/stream", nil))
	require.True(t, rec.Flushed)
	<-reports
}
