package httpapi

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/usage"
)

func TestUsageIsMeteredPerOrganization(t *testing.T) {
	t.Parallel()
	meter := usage.NewMeter()
	s := newStack(t, func(s *stack, deps *Deps, _ string) http.Handler {
		deps.Usage, deps.Meter = usage.NewService(s.store), meter
		return nil
	})
	ann := s.signup(t, "ann@example.test", "Acme", "acme")
	bob := s.signup(t, "bob@example.test", "Globex", "globex")
	vic := s.join(t, ann, "vic@example.test", coditect.RoleMember)

	for range 3 {
		require.Equal(t, http.StatusOK, s.do(t, "GET", "/v1/orgs/acme", nil, bearer(ann.access)).status)
	}
	require.Equal(t, http.StatusOK, s.do(t, "GET", "/v1/orgs/globex", nil, bearer(bob.access)).status)
	s.do(t, "GET", "/v1/orgs/globex", nil, bearer(ann.access)).problem(t, http.StatusNotFound, "not_found")
	require.NoError(t, meter.Flush(context.Background(), s.store))

	today := time.Now().UTC().Format(time.DateOnly)
	res := s.do(t, "GET", "/v1/orgs/acme/billing/usage", nil, bearer(ann.access))
	require.Equal(t, http.StatusOK, res.status, string(res.body))
	s.requireSchema(t, "UsageReport", res.body)
	days := res.json(t)["data"].([]any)
	require.Len(t, days, 1)
	require.Equal(t, today, days[0].(map[string]any)["date"])
	// Ann's 3 reads and the invitation she sent; not the 404 under another org (never
	// resolved), and not the reads of this very report, which are counted after it.
	require.GreaterOrEqual(t, days[0].(map[string]any)["api_calls"], float64(3))

	t.Run("other organization sees only its own", func(t *testing.T) {
		res := s.do(t, "GET", "/v1/orgs/globex/billing/usage?from="+today+"&to="+today, nil, bearer(bob.access)).json(t)
		require.Equal(t, float64(1), res["data"].([]any)[0].(map[string]any)["api_calls"])
	})
	t.Run("admin or higher", func(t *testing.T) {
		s.do(t, "GET", "/v1/orgs/acme/billing/usage", nil, bearer(vic.access)).problem(t, http.StatusForbidden, "forbidden")
	})
	t.Run("bad dates name the field", func(t *testing.T) {
		p := s.do(t, "GET", "/v1/orgs/acme/billing/usage?from=yesterday", nil, bearer(ann.access)).problem(t, http.StatusUnprocessableEntity, "invalid")
		require.Equal(t, "from", p.Errors[0].Field)
		s.do(t, "GET", "/v1/orgs/acme/billing/usage?from=2026-02-01&to=2026-01-01", nil, bearer(ann.access)).problem(t, http.StatusUnprocessableEntity, "invalid")
	})
}
