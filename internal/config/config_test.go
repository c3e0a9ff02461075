package config

import (
	"maps"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// secret is a valid CODITECT_SECRET_KEY for tests.
const secret = "0123456789abcdef0123456789abcdef"

func env(m map[string]string) func(string) string {
	return func(k string) string {
		if v, ok := m[k]; ok {
			return v
		}
		if k == "CODITECT_SECRET_KEY" {
			return secret
		}
		return ""
	}
}

func TestLoadDefaults(t *testing.T) {
	t.Parallel()
	c, err := Load(env(map[string]string{"DATABASE_URL": "postgres://app@db/coditect"}), true)
	require.NoError(t, err)
	require.Equal(t, "postgres://app@db/coditect", c.DatabaseOwnerURL, "owner URL defaults to DATABASE_URL")
	require.Equal(t, ":8080", c.Addr)
	require.Equal(t, "http://localhost:8080", c.BaseURL)
	require.Equal(t, "localhost", c.BaseDomain)
	require.Equal(t, 25*time.Second, c.ShutdownTimeout)
	require.EqualValues(t, 65536, c.Argon2.MemoryKiB)
	require.False(t, c.Workers)
	require.Equal(t, 168*time.Hour, c.ExportTTL)
	require.Empty(t, c.ExportDir)
	require.Equal(t, filepath.Join(".coditect", "exports"), c.ExportDirIn(".coditect"), "exports live in the data dir by default")
	require.Equal(t, filepath.Join("/tmp/dev", "exports"), c.ExportDirIn("/tmp/dev"))
}

func TestLoadExportSettings(t *testing.T) {
	t.Parallel()
	c, err := Load(env(map[string]string{"DATABASE_URL": "postgres://a@b/c", "CODITECT_EXPORT_DIR": "/srv/coditect/exports", "CODITECT_EXPORT_TTL": "1h"}), true)
	require.NoError(t, err)
	require.Equal(t, "/srv/coditect/exports", c.ExportDirIn(".coditect"), "an explicit directory wins over the data dir")
	require.Equal(t, time.Hour, c.ExportTTL)
	for _, bad := range []string{"soon", "59m", "-1h", "0"} {
		_, err := Load(env(map[string]string{"DATABASE_URL": "postgres://a@b/c", "CODITECT_EXPORT_TTL": bad}), true)
		require.ErrorContains(t, err, "CODITECT_EXPORT_TTL:", bad)
	}
}

func TestLoadDevNeedsNoDatabase(t *testing.T) {
	t.Parallel()
	_, err := Load(env(nil), false)
	require.NoError(t, err)
}

func TestLoadNamesEveryBadVariable(t *testing.T) {
	t.Parallel()
	cases := map[string]map[string]string{
		"DATABASE_URL":                {},
		"DATABASE_OWNER_URL":          {"DATABASE_URL": "postgres://a@b/c", "DATABASE_OWNER_URL": "mysql://x"},
		"REDIS_URL":                   {"DATABASE_URL": "postgres://a@b/c", "REDIS_URL": "http://x"},
		"CODITECT_ADDR":               {"DATABASE_URL": "postgres://a@b/c", "CODITECT_ADDR": "8080"},
		"CODITECT_BASE_URL":           {"DATABASE_URL": "postgres://a@b/c", "CODITECT_BASE_URL": "ftp://x"},
		"CODITECT_BASE_DOMAIN":        {"DATABASE_URL": "postgres://a@b/c", "CODITECT_BASE_DOMAIN": "bad domain"},
		"CODITECT_LOG_LEVEL":          {"DATABASE_URL": "postgres://a@b/c", "CODITECT_LOG_LEVEL": "loud"},
		"CODITECT_SHUTDOWN_TIMEOUT":   {"DATABASE_URL": "postgres://a@b/c", "CODITECT_SHUTDOWN_TIMEOUT": "soon"},
		"DATABASE_MAX_CONNS":          {"DATABASE_URL": "postgres://a@b/c", "DATABASE_MAX_CONNS": "0"},
		"CODITECT_WORKERS":            {"DATABASE_URL": "postgres://a@b/c", "CODITECT_WORKERS": "maybe"},
		"CODITECT_ARGON2_MEMORY_KIB":  {"DATABASE_URL": "postgres://a@b/c", "CODITECT_ARGON2_MEMORY_KIB": "1"},
		"CODITECT_WORKER_CONCURRENCY": {"DATABASE_URL": "postgres://a@b/c", "CODITECT_WORKER_CONCURRENCY": "-3"},
		"CODITECT_SECRET_KEY":         {"DATABASE_URL": "postgres://a@b/c", "CODITECT_SECRET_KEY": "short"},
		"SMTP_URL":                    {"DATABASE_URL": "postgres://a@b/c", "SMTP_URL": "http://mail"},
		"CODITECT_MAIL_FROM":          {"DATABASE_URL": "postgres://a@b/c", "CODITECT_MAIL_FROM": "not an address"},
		"CODITECT_COOKIE_SECURE":      {"DATABASE_URL": "postgres://a@b/c", "CODITECT_COOKIE_SECURE": "sometimes"},
		"CODITECT_ACCESS_TOKEN_TTL":   {"DATABASE_URL": "postgres://a@b/c", "CODITECT_ACCESS_TOKEN_TTL": "1s"},
		"CODITECT_SESSION_TTL":        {"DATABASE_URL": "postgres://a@b/c", "CODITECT_SESSION_TTL": "1m"},
		"CODITECT_EXPORT_TTL":         {"DATABASE_URL": "postgres://a@b/c", "CODITECT_EXPORT_TTL": "30m"},
	}
	for name, vars := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(env(vars), true)
			require.Error(t, err)
			require.Contains(t, err.Error(), name+":")
		})
	}
}

func TestLoadNeverEchoesSecrets(t *testing.T) {
	t.Parallel()
	_, err := Load(env(map[string]string{"DATABASE_URL": "mysql://u:hunter2@h/db"}), true)
	require.Error(t, err)
	require.NotContains(t, err.Error(), "hunter2")
}

func TestVarsDocumentsEveryVariable(t *testing.T) {
	t.Parallel()
	read := map[string]bool{}
	_, _ = Load(func(k string) string { read[k] = true; return "" }, false)
	documented := map[string]bool{}
	for _, v := range Vars() {
		documented[v.Name] = true
	}
	require.Equal(t, read, documented)
}

func TestTelemetryConfig(t *testing.T) {
	t.Parallel()
	base := map[string]string{"DATABASE_URL": "postgres://u@h/db", "CODITECT_SECRET_KEY": strings.Repeat("k", 32)}
	with := func(kv ...string) map[string]string {
		m := maps.Clone(base)
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	c, err := Load(env(base), true)
	require.NoError(t, err)
	require.False(t, c.Telemetry.Enabled(), "off without an endpoint")
	require.Equal(t, "coditect", c.Telemetry.ServiceName)
	require.Empty(t, c.MetricsAddr)

	c, err = Load(env(with("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318", "OTEL_EXPORTER_OTLP_HEADERS", "api-key=abc%3D,x=y",
		"OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=prod", "CODITECT_METRICS_ADDR", ":9090")), true)
	require.NoError(t, err)
	require.True(t, c.Telemetry.Enabled())
	require.Equal(t, map[string]string{"api-key": "abc=", "x": "y"}, c.Telemetry.Headers)
	require.Equal(t, map[string]string{"deployment.environment": "prod"}, c.Telemetry.ResourceAttributes)
	require.Equal(t, ":9090", c.MetricsAddr)

	c, err = Load(env(with("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318", "OTEL_SDK_DISABLED", "true")), true)
	require.NoError(t, err)
	require.False(t, c.Telemetry.Enabled())

	for _, bad := range [][2]string{
		{"OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"},
		{"OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318"},
		{"OTEL_TRACES_SAMPLER", "sometimes"},
		{"OTEL_TRACES_SAMPLER_ARG", "2"},
		{"OTEL_TRACES_EXPORTER", "jaeger"},
		{"OTEL_SDK_DISABLED", "perhaps"},
		{"CODITECT_METRICS_ADDR", "nope"},
	} {
		_, err := Load(env(with(bad[0], bad[1])), true)
		require.ErrorContains(t, err, bad[0]+":", bad[1])
	}
	_, err = Load(env(with("OTEL_EXPORTER_OTLP_HEADERS", "secret-api-key-value")), true)
	require.ErrorContains(t, err, "OTEL_EXPORTER_OTLP_HEADERS")
	require.NotContains(t, err.Error(), "secret-api-key-value", "headers carry credentials")
}
