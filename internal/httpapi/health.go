package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// readyTimeout bounds a whole /readyz run: probes call it every few seconds and must get
// an answer even when a dependency hangs.
const readyTimeout = 2 * time.Second

// handleHealthz answers liveness: if this runs, the process serves. It checks no
// dependency, so a database outage never makes Kubernetes restart healthy pods.
func handleHealthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}

// checkResult is one entry of the readiness body.
type checkResult struct {
	Status string `json:"status"` // "up" or "down"
	Error  string `json:"error,omitempty"`
}

// handleReadyz runs every check concurrently, each bounded by timeout overall. A failing
// critical check answers 503 ("unavailable"), a failing other one 200 ("degraded"). The
// body says only "timeout" or "unreachable" per check: driver errors can hold hosts,
// user names or connection strings. The full error goes to the log.
func handleReadyz(logger *slog.Logger, checks []ReadyCheck, timeout time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		errs := runChecks(ctx, checks)

		status, overall := http.StatusOK, "ok"
		results := make(map[string]checkResult, len(checks))
		for i, c := range checks {
			err := errs[i]
			if err == nil {
				results[c.Name] = checkResult{Status: "up"}
				continue
			}
			shown := "unreachable"
			if errors.Is(err, context.DeadlineExceeded) {
				shown = "timeout"
			}
			results[c.Name] = checkResult{Status: "down", Error: shown}
			level := slog.LevelWarn
			if c.Critical {
				level = slog.LevelError
				status, overall = http.StatusServiceUnavailable, "unavailable"
			} else if overall == "ok" {
				overall = "degraded"
			}
			logger.LogAttrs(r.Context(), level, "readiness check failed",
				slog.String("request_id", requestIDFrom(r.Context())),
				slog.String("check", c.Name),
				slog.Bool("critical", c.Critical),
				slog.String("error", err.Error()))
		}
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, status, map[string]any{"status": overall, "checks": results})
	})
}

// runChecks returns each check's error, in order. A check still running when ctx ends
// counts as failed with ctx's error; it is left to finish on its own, since a check that
// ignores its context cannot be stopped.
func runChecks(ctx context.Context, checks []ReadyCheck) []error {
	type done struct {
		i   int
		err error
	}
	results := make(chan done, len(checks)) // buffered: late checks never block
	for i, c := range checks {
		go func() {
			defer func() {
				if v := recover(); v != nil { // a panic here would kill the process
					results <- done{i, fmt.Errorf("check panicked: %v", v)}
				}
			}()
			results <- done{i, c.Check(ctx)}
		}()
	}
	errs := make([]error, len(checks))
	answered := make([]bool, len(checks))
	for range checks {
		select {
		case d := <-results:
			errs[d.i], answered[d.i] = d.err, true
		case <-ctx.Done():
			for i := range errs {
				if !answered[i] {
					errs[i] = fmt.Errorf("no answer: %w", ctx.Err())
				}
			}
			return errs
		}
	}
	return errs
}

// handleMetrics serves the Prometheus exposition of g. Gathering errors are logged and
// the rest is still served, so one broken collector does not blind the dashboards.
func handleMetrics(logger *slog.Logger, g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{
		ErrorLog:      promLogger{logger},
		ErrorHandling: promhttp.ContinueOnError,
	})
}

// promLogger adapts slog to promhttp's logger.
type promLogger struct{ logger *slog.Logger }

// Println logs a promhttp error.
func (l promLogger) Println(v ...any) { l.logger.Error("serving metrics", "error", fmt.Sprint(v...)) }
