package httpapi

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/telemetry"
)

const headerRequestID = "X-Request-ID"

// requestState is the per-request record every layer shares. Inner layers see only copies
// of *http.Request (r.WithContext), so this mutable holder, put in the context before
// anything else runs, is how outer layers learn what inner ones found out: the route, the
// actor, the status. Only the goroutine serving the request touches it.
type requestState struct {
	id       string
	route    string // the matched pattern; "" when no route matched
	quiet    bool   // a probe route: successful requests are logged at debug level
	actor    coditect.Actor
	hasActor bool
	status   int // the final status written so far; 0 before the response started
	bytes    int64
	errCode  coditect.Code // the code of the problem answered, if any
	err      error         // the cause behind a 5xx problem; logged, never shown
}

type stateKey struct{}

// stateFrom returns the request's state. Outside the middleware (a handler under test) it
// returns a throwaway record, so callers never need a nil check.
func stateFrom(ctx context.Context) *requestState {
	if st, ok := ctx.Value(stateKey{}).(*requestState); ok {
		return st
	}
	return &requestState{}
}

// requestIDFrom returns the id of the request ctx belongs to ("" outside a request).
func requestIDFrom(ctx context.Context) string { return stateFrom(ctx).id }

// setLogActor records who the request acts for, so the access log line carries tenant_id
// and account_id. Authentication and tenant resolution call it once they know.
func setLogActor(ctx context.Context, a coditect.Actor) {
	st := stateFrom(ctx)
	st.actor, st.hasActor = a, true
	// The request's span carries them too: per-tenant questions are answered from
	// traces, never from metric labels.
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		if !a.Tenant.IsZero() {
			span.SetAttributes(telemetry.AttrTenantID.String(a.Tenant.String()))
		}
		if !a.AccountID.IsZero() {
			span.SetAttributes(telemetry.AttrAccountID.String(a.AccountID.String()))
		}
	}
}

// quietLog marks a route as a probe: its successful requests are logged at debug level so
// load-balancer and Kubernetes probes do not drown the access log.
func quietLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		stateFrom(r.Context()).quiet = true
		next.ServeHTTP(w, r)
	})
}

func withRequestState(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), stateKey{}, &requestState{})))
	})
}

// recoverPanics turns a panic into a logged 500 problem so one bad request cannot take the
// process down.
func recoverPanics(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v) // net/http's own signal to drop the connection quietly
			}
			st := stateFrom(r.Context())
			logger.LogAttrs(r.Context(), slog.LevelError, "panic serving request",
				slog.String("request_id", st.id),
				slog.String("method", r.Method),
				slog.String("route", st.route),
				slog.String("panic", fmt.Sprint(v)),
				slog.String("stack", string(debug.Stack())))
			if st.status != 0 {
				// Part of a response is already on the wire; cutting the connection is the
				// only way left to tell the client it is incomplete.
				panic(http.ErrAbortHandler)
			}
			// Drop whatever the handler prepared (ETag, Content-Length…): it described a
			// response that will not be sent.
			h := w.Header()
			id := h.Get(headerRequestID)
			clear(h)
			h.Set(headerRequestID, id)
			writeProblem(w, r, &coditect.Error{Code: coditect.CodeInternal, Message: "panic", Err: fmt.Errorf("panic: %v", v)})
		}()
		next.ServeHTTP(w, r)
	})
}

// assignRequestID echoes a sane client X-Request-ID (so a gateway's id threads through)
// and otherwise makes a fresh one; either way the response carries it.
func assignRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(headerRequestID)
		if !saneRequestID(id) {
			id = rand.Text()
		}
		stateFrom(r.Context()).id = id
		w.Header().Set(headerRequestID, id)
		next.ServeHTTP(w, r.WithContext(telemetry.WithRequestID(r.Context(), id)))
	})
}

// saneRequestID accepts 1–128 characters of [A-Za-z0-9._:-]: enough for UUIDs and trace
// ids, too little to smuggle log lines or header tricks.
func saneRequestID(id string) bool {
	if len(id) == 0 || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '.' || c == '_' || c == ':' || c == '-'
		if !ok {
			return false
		}
	}
	return true
}

// traceRequests starts the request's server span, continuing the caller's W3C trace
// context, and names it after the matched route once the mux has decided ("GET
// /v1/orgs/{org}/projects"; never the raw path, which holds ids and sometimes
// tokens). Probes and /metrics are not traced: they would drown the real traces.
func traceRequests(tp trace.TracerProvider, prop propagation.TextMapPropagator, next http.Handler) http.Handler {
	tracer := tp.Tracer(telemetry.ScopeName)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		if r.Method == http.MethodGet && (r.URL.Path == "/healthz" || r.URL.Path == "/readyz" || r.URL.Path == "/metrics") {
			next.ServeHTTP(w, r.WithContext(ctx))
			return
		}
		st := stateFrom(ctx)
		ctx, span := tracer.Start(ctx, methodLabel(r.Method), trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(semconv.HTTPRequestMethodKey.String(methodLabel(r.Method)), attribute.String("request_id", st.id)))
		finished := false
		defer func() {
			route := st.route
			if route == "" {
				route = routeUnmatched
			}
			status := st.status
			switch {
			case status == 0 && !finished:
				status = http.StatusInternalServerError // a panic on its way to recoverPanics
			case status == 0:
				status = http.StatusOK
			}
			span.SetName(route)
			span.SetAttributes(semconv.HTTPRoute(route), semconv.HTTPResponseStatusCode(status))
			if status >= 500 {
				span.SetStatus(codes.Error, http.StatusText(status))
			}
			span.End()
		}()
		next.ServeHTTP(w, r.WithContext(ctx))
		finished = true
	})
}

// observe writes the access log line and the RED metrics for every request, including
// those that panic (recorded as 500, which is what recoverPanics answers).
func observe(logger *slog.Logger, m *metrics, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := stateFrom(r.Context())
		start := time.Now()
		m.inFlight.Inc()
		finished := false
		defer func() {
			m.inFlight.Dec()
			status := st.status
			switch {
			case status == 0 && !finished:
				status = http.StatusInternalServerError
			case status == 0:
				status = http.StatusOK // a handler that writes nothing sends 200
			}
			route := st.route
			if route == "" {
				route = routeUnmatched
			}
			elapsed := time.Since(start)
			m.observe(r.Method, route, status, elapsed)
			logAccess(logger, r, st, route, status, elapsed)
		}()
		next.ServeHTTP(&recordingWriter{ResponseWriter: w, st: st}, r)
		finished = true
	})
}

// logAccess writes the one line per request. It never logs headers, bodies or query
// strings: they carry credentials and personal data.
func logAccess(logger *slog.Logger, r *http.Request, st *requestState, route string, status int, elapsed time.Duration) {
	level := slog.LevelInfo
	switch {
	case status >= 500:
		level = slog.LevelError // what alerting on error lines must see
	case st.quiet && status < 400:
		level = slog.LevelDebug
	}
	if !logger.Enabled(r.Context(), level) {
		return
	}
	attrs := make([]slog.Attr, 0, 15)
	attrs = append(attrs,
		slog.String("request_id", st.id),
		slog.String("method", r.Method),
		slog.String("route", route),
		slog.String("path", logPath(st.route, r.URL.Path)),
		slog.Int("status", status),
		slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
		slog.Int64("bytes", st.bytes),
		slog.String("remote_ip", remoteIP(r)),
		slog.String("user_agent", truncate(r.UserAgent(), 256)),
	)
	if st.hasActor {
		if !st.actor.Tenant.IsZero() {
			attrs = append(attrs, slog.String("tenant_id", st.actor.Tenant.String()))
		}
		if !st.actor.AccountID.IsZero() {
			attrs = append(attrs, slog.String("account_id", st.actor.AccountID.String()))
		}
		if !st.actor.APIKeyID.IsZero() {
			attrs = append(attrs, slog.String("api_key_id", st.actor.APIKeyID.String()))
		}
		if !st.actor.OAuthClientID.IsZero() {
			attrs = append(attrs, slog.String("oauth_client_id", st.actor.OAuthClientID.String()))
		}
	}
	if st.errCode != "" {
		attrs = append(attrs, slog.String("error_code", string(st.errCode)))
	}
	if st.err != nil {
		attrs = append(attrs, slog.String("error", st.err.Error()))
	}
	logger.LogAttrs(r.Context(), level, "http request", attrs...)
}

// logPath returns the path to log, with path wildcards that carry secrets (an invitation
// token in /v1/invitations/{token}/accept) replaced, since log readers must not be able
// to use them.
func logPath(pattern, path string) string {
	path = truncate(path, 512)
	_, patternPath, ok := strings.Cut(pattern, " ")
	if !ok {
		return path
	}
	pat := strings.Split(patternPath, "/")
	segs := strings.Split(path, "/")
	if len(pat) != len(segs) {
		return path
	}
	for i, p := range pat {
		name := strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(p, "{"), "}"), "...")
		if len(name) < len(p) && (name == "token" || strings.HasSuffix(name, "_token") || strings.Contains(name, "secret")) {
			segs[i] = "REDACTED"
		}
	}
	return strings.Join(segs, "/")
}

// remoteIP is the peer's address. Behind a load balancer that is the balancer; trusting
// X-Forwarded-For needs configuration of which proxies to believe, so it is not done here.
func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// limitBody caps the request body. The limit bites when a handler reads past it, and
// decodeJSON turns that into 413.
func limitBody(max int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// MaxBytesReader asks net/http to close the connection after an oversized body,
		// but only when it is given net/http's own writer, not a wrapper.
		r.Body = http.MaxBytesReader(innermost(w), r.Body, max)
		next.ServeHTTP(w, r)
	})
}

func innermost(w http.ResponseWriter) http.ResponseWriter {
	for {
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return w
		}
		w = u.Unwrap()
	}
}

// recordingWriter notes the status and size of the response in the request state.
type recordingWriter struct {
	http.ResponseWriter
	st *requestState
}

// WriteHeader records the final status.
func (w *recordingWriter) WriteHeader(code int) {
	// 1xx answers (103 Early Hints) may come first; only the final status counts.
	if w.st.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.st.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write counts the bytes sent; writing without WriteHeader means 200.
func (w *recordingWriter) Write(b []byte) (int, error) {
	if w.st.status == 0 {
		w.st.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.st.bytes += int64(n)
	return n, err
}

// FlushError lets http.ResponseController flush through the wrapper and see the error.
func (w *recordingWriter) FlushError() error {
	if w.st.status == 0 {
		w.st.status = http.StatusOK
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Flush keeps plain `w.(http.Flusher)` assertions working (streaming, promhttp).
func (w *recordingWriter) Flush() { _ = w.FlushError() }

// Unwrap gives http.ResponseController the underlying writer for Hijack, deadlines, etc.
func (w *recordingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
