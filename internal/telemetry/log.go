package telemetry

import (
	"context"
	"log/slog"
	"strings"

	"go.opentelemetry.io/otel/trace"

	"github.com/coditect/coditect/internal/coditect"
)

// Redacted replaces the value of every secret-looking attribute.
const Redacted = "[REDACTED]"

type requestIDKey struct{}

// WithRequestID puts the request id in ctx, for the log lines written inside the
// request.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the request id WithRequestID stored ("" outside a request).
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// NewLogHandler wraps h: every record gets trace_id and span_id (from the span in
// the context), request_id, and tenant_id and account_id (from the actor in the
// context) unless it already has them, and the value of every attribute whose key
// names a secret (password, token, secret, authorization, cookie, api key, card data…)
// is replaced by [REDACTED], at any depth of groups. Log by key, not by formatting a
// secret into the message: messages are not inspected.
func NewLogHandler(h slog.Handler) slog.Handler { return &logHandler{next: h} }

type logHandler struct {
	next    slog.Handler
	grouped bool            // WithGroup was called: record attributes are no longer top-level
	has     map[string]bool // top-level keys already added with WithAttrs
}

func (h *logHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h *logHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	present := make(map[string]bool, 8)
	r.Attrs(func(a slog.Attr) bool {
		present[a.Key] = true
		out.AddAttrs(redact(a))
		return true
	})
	add := func(key, val string) {
		if val != "" && !present[key] && !h.has[key] {
			// Added after a WithGroup these would land inside the group; that is
			// still the same line, and the group keeps them apart from its fields.
			out.AddAttrs(slog.String(key, val))
		}
	}
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		add("trace_id", sc.TraceID().String())
		add("span_id", sc.SpanID().String())
	}
	add("request_id", RequestID(ctx))
	if a, ok := coditect.ActorFrom(ctx); ok {
		if !a.Tenant.IsZero() {
			add("tenant_id", a.Tenant.String())
		}
		if !a.AccountID.IsZero() {
			add("account_id", a.AccountID.String())
		}
	}
	return h.next.Handle(ctx, out)
}

func (h *logHandler) WithAttrs(as []slog.Attr) slog.Handler {
	has := make(map[string]bool, len(h.has)+len(as))
	for k := range h.has {
		has[k] = true
	}
	red := make([]slog.Attr, len(as))
	for i, a := range as {
		red[i] = redact(a)
		if !h.grouped {
			has[a.Key] = true
		}
	}
	return &logHandler{next: h.next.WithAttrs(red), grouped: h.grouped, has: has}
}

func (h *logHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return &logHandler{next: h.next.WithGroup(name), grouped: true, has: h.has}
}

// redact returns a with secret values replaced, looking into groups.
func redact(a slog.Attr) slog.Attr {
	if Secret(a.Key) {
		return slog.String(a.Key, Redacted)
	}
	v := a.Value.Resolve()
	if v.Kind() != slog.KindGroup {
		if v.Kind() == slog.KindString && looksLikeCredential(v.String()) {
			return slog.String(a.Key, Redacted)
		}
		return slog.Attr{Key: a.Key, Value: v}
	}
	group := v.Group()
	out := make([]slog.Attr, len(group))
	for i, g := range group {
		out[i] = redact(g)
	}
	return slog.Attr{Key: a.Key, Value: slog.GroupValue(out...)}
}

// secretWords are the words of an attribute key (split at _ - . and case changes are
// not considered) whose values are never logged. Stripe's card data (number, cvc,
// exp_month…) sits under "card" or "payment_method_details.card", which redacts the
// whole group.
var secretWords = map[string]bool{
	"password": true, "passwd": true, "passphrase": true, "secret": true, "token": true,
	"authorization": true, "cookie": true, "credential": true, "credentials": true,
	"otp": true, "totp": true, "otpauth": true, "card": true, "cvc": true, "cvv": true,
	"iban": true, "signature": true, "apikey": true, "pan": true,
}

// secretPairs are two-word keys that name secrets only together.
var secretPairs = map[string]bool{
	"api_key": true, "private_key": true, "recovery_code": true, "recovery_codes": true,
	"account_number": true, "session_key": true, "card_number": true, "set_cookie": true,
}

// Secret says whether an attribute key names a secret. Identifiers of secrets
// (api_key_id, token_id, session_id) and their public parts (api_key_prefix) are not
// secrets and stay readable.
func Secret(key string) bool {
	k := strings.ToLower(snakeCase(key))
	if k == "id" || strings.HasSuffix(k, "_id") || strings.HasSuffix(k, "_ids") || strings.HasSuffix(k, "_prefix") ||
		strings.HasSuffix(k, "_count") || strings.HasSuffix(k, "_at") || strings.HasSuffix(k, "_ttl") {
		return false
	}
	words := strings.FieldsFunc(k, func(r rune) bool { return r == '_' || r == '-' || r == '.' || r == ' ' })
	for i, w := range words {
		if secretWords[w] || (i > 0 && secretPairs[words[i-1]+"_"+w]) {
			return true
		}
	}
	return false
}

// snakeCase splits camelCase words (accessToken → access_Token) so that keys from
// JSON-minded code are judged word by word like snake_case ones.
func snakeCase(key string) string {
	var b strings.Builder
	for i, r := range key {
		if i > 0 && r >= 'A' && r <= 'Z' {
			if prev := key[i-1]; prev >= 'a' && prev <= 'z' || prev >= '0' && prev <= '9' {
				b.WriteByte('_')
			}
		}
		b.WriteRune(r)
	}
	return b.String()
}

// credentialPrefixes start values that are credentials whatever key they are under:
// Stripe secret and restricted keys and webhook secrets, and JWTs (a base64url JSON
// header always starts "eyJ").
var credentialPrefixes = []string{"sk_live_", "sk_test_", "rk_live_", "rk_test_", "whsec_"}

// looksLikeCredential catches credentials logged under an innocent key: a bearer or
// basic Authorization value, a Stripe secret, a JWT, or one of CODITECT's own API keys
// (cdk_<prefix>_<secret>; the prefix alone, cdk_<prefix>, is public).
func looksLikeCredential(s string) bool {
	low := strings.ToLower(s)
	if strings.HasPrefix(low, "bearer ") || strings.HasPrefix(low, "basic ") {
		return true
	}
	for _, p := range credentialPrefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	if strings.HasPrefix(s, "eyJ") && strings.Count(s, ".") == 2 {
		return true
	}
	rest, ok := strings.CutPrefix(s, "cdk_")
	return ok && strings.Contains(rest, "_")
}
