package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/usage"
)

// UsageService reads an organization's metered usage (*usage.Service).
type UsageService interface {
	Usage(ctx context.Context, from, to time.Time) ([]usage.Day, error)
}

// UsageMeter counts API calls per organization on the hot path (*usage.Meter): an
// in-memory counter, flushed to PostgreSQL in batches.
type UsageMeter interface {
	Count(tenant coditect.TenantID)
}

// usageReport is GET /v1/orgs/{org}/billing/usage's body.
type usageReport struct {
	From string      `json:"from,omitempty"` // as asked; absent when defaulted
	To   string      `json:"to,omitempty"`
	Data []usage.Day `json:"data"`
}

// handleUsage: GET /v1/orgs/{org}/billing/usage?from=&to= (UTC dates, both included).
func handleUsage(svc UsageService) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		from, err := usage.ParseDay("from", q.Get("from"))
		if err != nil {
			writeProblem(w, r, err)
			return
		}
		to, err := usage.ParseDay("to", q.Get("to"))
		if err != nil {
			writeProblem(w, r, err)
			return
		}
		days, err := svc.Usage(r.Context(), from, to)
		if err != nil {
			writeProblem(w, r, err)
			return
		}
		rep := usageReport{From: q.Get("from"), To: q.Get("to"), Data: days}
		if rep.Data == nil {
			rep.Data = []usage.Day{}
		}
		writeJSON(w, http.StatusOK, rep)
	})
}

// usageSchemas are the named schemas of the usage API.
func usageSchemas() map[string]jsonSchema {
	return map[string]jsonSchema{
		"UsageDay": {"type": "object", "required": []string{"date", "api_calls"}, "properties": map[string]jsonSchema{
			"date":      {"type": "string", "format": "date"},
			"api_calls": {"type": "integer", "minimum": 0},
		}},
		"UsageReport": {"type": "object", "required": []string{"data"}, "properties": map[string]jsonSchema{
			"from": {"type": "string", "format": "date", "description": "The first day asked for; absent when defaulted."},
			"to":   {"type": "string", "format": "date", "description": "The last day asked for; absent when defaulted (today)."},
			"data": {"type": "array", "items": ref("UsageDay"), "description": "API calls per UTC day, oldest first; days without calls are left out."},
		}},
	}
}

// addUsageRoutes mounts the organization's usage reading.
func addUsageRoutes(rt *router, deps Deps, a *access) {
	h := a.inOrg(unavailable("usage metering"))
	if deps.Usage != nil {
		h = a.inOrg(handleUsage(deps.Usage))
	}
	rt.handle("GET /v1/orgs/{org}/billing/usage", h, operation{
		ID: "getUsage", Summary: "The organization's metered API calls per day", Tags: []string{"billing"},
		Description: "Admin or higher. API calls counted per organization, per UTC day; today includes the calls not yet rolled up " +
			"(counts reach the database within about 30 seconds). from and to are dates (YYYY-MM-DD), both included: by default " +
			"from the first of to's month to today, at most 366 days.",
		PathParams: map[string]string{"org": "The organization's slug or id."},
		Params: []parameter{
			{Name: "from", In: "query", Description: "First day (YYYY-MM-DD, UTC).", Schema: jsonSchema{"type": "string", "format": "date"}},
			{Name: "to", In: "query", Description: "Last day (YYYY-MM-DD, UTC).", Schema: jsonSchema{"type": "string", "format": "date"}},
		},
		Responses: map[int]response{http.StatusOK: {Description: "Usage per day.", Schema: ref("UsageReport")}},
		Problems:  []int{http.StatusUnprocessableEntity},
	})
}
