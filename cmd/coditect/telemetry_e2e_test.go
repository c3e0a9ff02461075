package main

import (
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// otlpSpan is one span an OTLP receiver got, flattened for assertions.
type otlpSpan struct {
	traceID, spanID, parentID, name string
	kind                            tracepb.Span_SpanKind
	attrs                           map[string]string
}

// otlpReceiver is an in-process OTLP/HTTP traces endpoint (POST /v1/traces,
// protobuf), standing in for a collector.
type otlpReceiver struct {
	mu    sync.Mutex
	spans []otlpSpan
	raw   strings.Builder // every attribute value, to grep for secrets
}

func startOTLP(t *testing.T) (*otlpReceiver, string) {
	t.Helper()
	rcv := &otlpReceiver{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" {
			http.NotFound(w, r)
			return
		}
		body, err := io.ReadAll(r.Body)
		var req coltracepb.ExportTraceServiceRequest
		if err != nil || proto.Unmarshal(body, &req) != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		rcv.add(&req)
		b, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(b)
	}))
	t.Cleanup(srv.Close)
	return rcv, srv.URL
}

func (r *otlpReceiver) add(req *coltracepb.ExportTraceServiceRequest) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				sp := otlpSpan{traceID: hex.EncodeToString(s.TraceId), spanID: hex.EncodeToString(s.SpanId),
					parentID: hex.EncodeToString(s.ParentSpanId), name: s.Name, kind: s.Kind, attrs: map[string]string{}}
				for _, a := range s.Attributes {
					v := a.Value.GetStringValue()
					switch x := a.Value.Value.(type) {
					case *commonpb.AnyValue_IntValue:
						v = strconv.FormatInt(x.IntValue, 10)
					case *commonpb.AnyValue_BoolValue:
						v = strconv.FormatBool(x.BoolValue)
					case *commonpb.AnyValue_ArrayValue:
						b, _ := json.Marshal(x.ArrayValue)
						v = string(b)
					}
					sp.attrs[a.Key] = v
					r.raw.WriteString(a.Key + "=" + v + "\n")
				}
				for _, e := range s.Events {
					for _, a := range e.Attributes {
						r.raw.WriteString(a.Key + "=" + a.Value.GetStringValue() + "\n")
					}
				}
				r.raw.WriteString(s.Name + "\n")
				r.spans = append(r.spans, sp)
			}
		}
	}
}

func (r *otlpReceiver) all() []otlpSpan {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]otlpSpan(nil), r.spans...)
}

// TestTracesEndToEnd: a sign-up (which writes in one transaction and enqueues the
// welcome job that sends an email) is one trace, continuing the caller's W3C trace
// context, from the HTTP server span through its SQL to the job and its SMTP send, with
// tenant and account ids as span attributes, no SQL parameters, and the trace id on the
// log lines.
func TestTracesEndToEnd(t *testing.T) {
	t.Parallel()
	rcv, otlpURL := startOTLP(t)
	sink, smtpURL := startSMTP(t)
	env := dbEnv(t)
	env["SMTP_URL"] = smtpURL
	env["REDIS_URL"] = os.Getenv("CODITECT_TEST_REDIS_URL")
	env["CODITECT_LOG_LEVEL"] = "info"
	env["CODITECT_ARGON2_MEMORY_KIB"] = "8192"
	env["CODITECT_ARGON2_ITERATIONS"] = "1"
	env["OTEL_EXPORTER_OTLP_ENDPOINT"] = otlpURL
	env["OTEL_SERVICE_NAME"] = "coditect-test"
	p := start(t, env, "serve", "--workers")

	const traceID, parentID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	const password = "trace me not, passphrase 9"
	body := `{"email":"tess@example.com","password":"` + password + `","name":"Tess","organization_name":"Traced Org"}`
	req, err := http.NewRequest("POST", p.url+"/v1/signup", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("traceparent", "00-"+traceID+"-"+parentID+"-01")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	var signup struct {
		AccessToken  string `json:"access_token"`
		Account      struct{ ID string }
		Organization struct{ ID string }
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&signup))
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	sink.waitToken(t, "tess@example.com", "verify") // the welcome job ran and mailed

	c := api{t: t, base: p.url}
	require.Equal(t, http.StatusOK, c.call("GET", "/v1/orgs/traced-org/workspaces", signup.AccessToken, nil, nil))
	// Login is throttled through Redis: its commands are spans of the login's trace.
	require.Equal(t, http.StatusOK, c.call("POST", "/v1/auth/login", "", map[string]any{"email": "tess@example.com", "password": password}, nil))
	status, _, _ := get(t, p.url+"/readyz") // pings Redis outside any trace: no span
	require.Equal(t, http.StatusOK, status)

	p.stop() // shutdown flushes the buffered spans
	require.NoError(t, <-p.done)
	p.done <- nil

	spans := rcv.all()
	byID := map[string]otlpSpan{}
	for _, s := range spans {
		byID[s.spanID] = s
	}
	// descends says whether s has an ancestor (or is) the span with id.
	descends := func(s otlpSpan, id string) bool {
		for range len(spans) + 1 {
			if s.spanID == id || s.parentID == id {
				return true
			}
			p, ok := byID[s.parentID]
			if !ok {
				return false
			}
			s = p
		}
		return false
	}
	var server otlpSpan
	for _, s := range spans {
		if s.name == "POST /v1/signup" {
			server = s
		}
	}
	require.Equal(t, traceID, server.traceID, "the server span continues the caller's trace")
	require.Equal(t, parentID, server.parentID)
	require.Equal(t, tracepb.Span_SPAN_KIND_SERVER, server.kind)
	require.Equal(t, "201", server.attrs["http.response.status_code"])

	var sql, batch, job, mailSpan int
	var jobSpan otlpSpan
	for _, s := range spans {
		if s.traceID != traceID {
			continue
		}
		require.True(t, descends(s, server.spanID) || s.spanID == parentID, "span %q is connected to the request", s.name)
		for k := range s.attrs {
			require.NotContains(t, k, "db.query.parameter", "SQL parameters are never recorded")
			require.NotContains(t, k, "pgx.query.parameters")
		}
		switch {
		case s.attrs["db.system.name"] == "postgresql" && s.attrs["db.query.text"] != "":
			sql++
		case s.name == "batch start" || s.attrs["db.operation.batch.size"] != "":
			batch++
		case s.name == "job identity.welcome":
			job++
			jobSpan = s
		case s.name == "mail send":
			mailSpan++
			require.True(t, descends(s, jobSpan.spanID) || jobSpan.spanID == "", "the SMTP send is inside a job")
		}
	}
	require.Positive(t, sql, "SQL statements are spans of the request's trace")
	require.Positive(t, batch, "pipelined batches (BEGIN; SET LOCAL; …) are spans")
	require.Equal(t, 1, job, "the welcome job is part of the trace")
	require.Equal(t, signup.Organization.ID, jobSpan.attrs["tenant_id"])
	require.Equal(t, tracepb.Span_SPAN_KIND_CONSUMER, jobSpan.kind)
	require.Positive(t, mailSpan, "the SMTP send is part of the trace")

	// An organization request's span carries the tenant and account.
	var orgSpan otlpSpan
	for _, s := range spans {
		if s.name == "GET /v1/orgs/{org}/workspaces" {
			orgSpan = s
		}
	}
	require.Equal(t, signup.Organization.ID, orgSpan.attrs["tenant_id"])
	require.Equal(t, signup.Account.ID, orgSpan.attrs["account_id"])

	var login otlpSpan
	for _, s := range spans {
		if s.name == "POST /v1/auth/login" {
			login = s
		}
	}
	// Redis serves most requests (caches, rate limits): every Redis span sits under a
	// request's or a job's span, never in a trace of its own.
	roots := map[string][]string{} // trace id → its server and consumer span ids
	for _, s := range spans {
		if s.kind == tracepb.Span_SPAN_KIND_SERVER || s.kind == tracepb.Span_SPAN_KIND_CONSUMER {
			roots[s.traceID] = append(roots[s.traceID], s.spanID)
		}
	}
	var redisSpans, loginRedis int
	for _, s := range spans {
		if s.attrs["db.system"] == "redis" || s.attrs["db.system.name"] == "redis" {
			under := false
			for _, root := range roots[s.traceID] {
				under = under || descends(s, root)
			}
			require.True(t, under, "Redis span %q sits under a request's or job's span (no orphan traces)", s.name)
			redisSpans++
			if s.traceID == login.traceID {
				loginRedis++
			}
		}
	}
	require.Positive(t, redisSpans, "Redis commands are spans")
	require.Positive(t, loginRedis, "the login's throttle check is in its trace")

	// Nothing secret went into a span.
	rcv.mu.Lock()
	raw := rcv.raw.String()
	rcv.mu.Unlock()
	require.NotContains(t, raw, password)
	require.NotContains(t, raw, signup.AccessToken)

	// The access log line of the sign-up carries the trace id.
	var signupLine bool
	for line := range strings.SplitSeq(p.stderr.String(), "\n") {
		var l map[string]any
		if json.Unmarshal([]byte(line), &l) != nil {
			continue
		}
		if l["route"] == "POST /v1/signup" {
			signupLine = true
			require.Equal(t, traceID, l["trace_id"])
			require.NotEmpty(t, l["span_id"])
			require.NotEmpty(t, l["request_id"])
		}
		if l["route"] == "GET /v1/orgs/{org}/workspaces" {
			require.Equal(t, signup.Organization.ID, l["tenant_id"])
			require.NotEmpty(t, l["trace_id"])
		}
	}
	require.True(t, signupLine, "the sign-up's access log line")
}

var metricsListeningRE = regexp.MustCompile(`metrics on (http://[0-9.:]+)/metrics`)

// TestMetricsAddr: with CODITECT_METRICS_ADDR, /metrics moves to its own listener and
// the API port answers 404 for it.
func TestMetricsAddr(t *testing.T) {
	t.Parallel()
	env := dbEnv(t)
	env["CODITECT_METRICS_ADDR"] = "127.0.0.1:0"
	p := start(t, env, "serve")
	m := metricsListeningRE.FindStringSubmatch(p.stdout.String())
	require.NotNil(t, m, p.stdout.String())
	status, body, _ := get(t, m[1]+"/metrics")
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, "coditect_db_pool_max_conns")
	status, _, _ = get(t, p.url+"/metrics")
	require.Equal(t, http.StatusNotFound, status)
	status, _, _ = get(t, p.url+"/healthz")
	require.Equal(t, http.StatusOK, status)
}
