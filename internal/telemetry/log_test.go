package telemetry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/trace"

	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/telemetry"
)

func setup(t *testing.T) (*slog.Logger, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	return slog.New(telemetry.NewLogHandler(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))), &buf
}

func lines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for l := range strings.SplitSeq(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &m), l)
		out = append(out, m)
	}
	return out
}

func TestLogHandlerAddsContextIDs(t *testing.T) {
	t.Parallel()
	log, buf := setup(t)
	tenant, acct := coditect.NewID[coditect.TenantID](), coditect.NewID[coditect.AccountID]()
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	ctx := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled}))
	ctx = telemetry.WithRequestID(ctx, "req-1")
	ctx = coditect.WithActor(ctx, coditect.Actor{Kind: coditect.ActorAccount, Tenant: tenant, AccountID: acct})

	log.InfoContext(ctx, "inside")
	log.InfoContext(ctx, "explicit", "tenant_id", "given") // a field the caller set wins, no duplicate key
	log.With("request_id", "with").InfoContext(ctx, "with")
	log.Info("outside")

	got := lines(t, buf)
	require.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", got[0]["trace_id"])
	require.Equal(t, "00f067aa0ba902b7", got[0]["span_id"])
	require.Equal(t, "req-1", got[0]["request_id"])
	require.Equal(t, tenant.String(), got[0]["tenant_id"])
	require.Equal(t, acct.String(), got[0]["account_id"])
	require.Equal(t, "given", got[1]["tenant_id"])
	require.Equal(t, 1, strings.Count(strings.Split(buf.String(), "\n")[1], `"tenant_id"`))
	require.Equal(t, 1, strings.Count(strings.Split(buf.String(), "\n")[2], `"request_id"`))
	for _, k := range []string{"trace_id", "span_id", "request_id", "tenant_id", "account_id"} {
		require.NotContains(t, got[3], k, "no ids outside a request or job")
	}
}

func TestLogHandlerRedactsSecrets(t *testing.T) {
	t.Parallel()
	log, buf := setup(t)
	const secret = "s3cr3t-value-never-logged"
	log.Info("flat", "password", secret, "refresh_token", secret, "client_secret", secret, "Authorization", secret,
		"cookie", secret, "api_key", secret, "totp_code", secret, "otpauth_url", secret, "x-api-key", secret)
	log.Info("nested", slog.Group("request", slog.Group("headers", slog.String("Set-Cookie", secret))),
		slog.Group("payment_method", slog.Group("card", slog.String("number", secret), slog.String("cvc", secret))))
	log.With("new_password", secret).WithGroup("g").Info("with", "recovery_codes", []string{secret})
	log.Info("values", "header", "Bearer "+secret, "key", "cdk_ab_"+secret)
	log.Info("camel and shapes", "accessToken", secret, "clientSecret", secret, "stripe", "sk_live_"+secret,
		"hook", "whsec_"+secret, "jwt", "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0."+secret)
	log.Info("kept", "api_key_id", "k1", "api_key_prefix", "cdk_ab", "discarded", 3, "session_id", "s1", "token_count", 2)
	require.NotContains(t, buf.String(), secret)

	got := lines(t, buf)
	require.Equal(t, telemetry.Redacted, got[0]["password"])
	require.Equal(t, telemetry.Redacted, got[1]["payment_method"].(map[string]any)["card"])
	kept := got[5]
	require.Equal(t, "k1", kept["api_key_id"])
	require.Equal(t, "cdk_ab", kept["api_key_prefix"], "a prefix is the public part of a key")
	require.Equal(t, float64(3), kept["discarded"])
	require.Equal(t, "s1", kept["session_id"])
}
