package httpapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/postgres"
)

func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	f := workSetup(t)
	s, ann, mem := f.stack, f.owner, f.member
	count := func(name string) int {
		return s.queryInt(t, "SELECT count(*) FROM workspaces WHERE name = $1", name)
	}
	post := func(p person, org, key string, body any) answer {
		return s.do(t, "POST", "/v1/orgs/"+org+"/workspaces", body, bearer(p.access), withHeader(headerIdempotencyKey, key))
	}

	t.Run("a retry returns the first response and creates nothing", func(t *testing.T) {
		t.Parallel()
		first := post(ann, "acme", "retry-1", map[string]any{"name": "Retried"})
		require.Equal(t, http.StatusCreated, first.status, string(first.body))
		require.Empty(t, first.header.Get(headerReplayed))
		for _, org := range []string{"acme", ann.orgID} { // by slug or by id, the same request
			again := post(ann, org, "retry-1", map[string]any{"name": "Retried"})
			require.Equal(t, http.StatusCreated, again.status, string(again.body))
			require.Equal(t, "true", again.header.Get(headerReplayed))
			require.Equal(t, string(first.body), string(again.body))
			for _, h := range []string{"Location", "ETag", "Content-Type"} {
				require.Equal(t, first.header.Get(h), again.header.Get(h), h)
			}
			require.NotEqual(t, first.header.Get(headerRequestID), again.header.Get(headerRequestID))
		}
		require.Equal(t, 1, count("Retried"))
		id := first.json(t)["id"].(string)
		require.Equal(t, []string{"workspace.create"}, actions(s.auditLog(t, ann, "acme", ""), id))
	})

	t.Run("the same key with another request is 422", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, http.StatusCreated, post(ann, "acme", "reuse-1", map[string]any{"name": "First"}).status)
		p := post(ann, "acme", "reuse-1", map[string]any{"name": "Second"}).problem(t, http.StatusUnprocessableEntity, "idempotency.key_reused")
		require.Equal(t, headerIdempotencyKey, p.Errors[0].Field)
		s.do(t, "POST", "/v1/orgs/acme/projects", map[string]any{"name": "First"}, bearer(ann.access), withHeader(headerIdempotencyKey, "reuse-1")).
			problem(t, http.StatusUnprocessableEntity, "idempotency.key_reused")
		require.Equal(t, 0, count("Second"))
		require.Equal(t, 1, count("First"))
	})

	t.Run("keys are per principal and per organization", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, http.StatusCreated, post(ann, "acme", "shared", map[string]any{"name": "Shared"}).status)
		other := post(mem, "acme", "shared", map[string]any{"name": "Shared"})
		require.Equal(t, http.StatusCreated, other.status, string(other.body))
		require.Empty(t, other.header.Get(headerReplayed), "another person's key is their own")
		// Ann in another organization of hers (she owns none but acme: make one).
		res := s.do(t, "POST", "/v1/orgs", map[string]any{"name": "Ann Two", "slug": "ann-two"}, bearer(ann.access))
		require.Equal(t, http.StatusCreated, res.status, string(res.body))
		elsewhere := post(ann, "ann-two", "shared", map[string]any{"name": "Shared"})
		require.Equal(t, http.StatusCreated, elsewhere.status, string(elsewhere.body))
		require.Empty(t, elsewhere.header.Get(headerReplayed))
		require.Equal(t, 3, count("Shared"))
	})

	t.Run("client errors are kept and replayed", func(t *testing.T) {
		t.Parallel()
		first := post(ann, "acme", "bad-1", map[string]any{"name": ""})
		first.problem(t, http.StatusUnprocessableEntity, "invalid")
		again := post(ann, "acme", "bad-1", map[string]any{"name": ""})
		again.problem(t, http.StatusUnprocessableEntity, "invalid")
		require.Equal(t, "true", again.header.Get(headerReplayed))
		require.Equal(t, string(first.body), string(again.body))
	})

	t.Run("invalid keys", func(t *testing.T) {
		t.Parallel()
		for _, key := range []string{strings.Repeat("k", 256), "has space", "tab\tkey", "ünï"} {
			p := post(ann, "acme", key, map[string]any{"name": "Never"}).problem(t, http.StatusUnprocessableEntity, "invalid")
			require.Equal(t, headerIdempotencyKey, p.Errors[0].Field, key)
		}
		twice := s.do(t, "POST", "/v1/orgs/acme/workspaces", map[string]any{"name": "Never"}, bearer(ann.access), func(r *http.Request) {
			r.Header.Add(headerIdempotencyKey, "a")
			r.Header.Add(headerIdempotencyKey, "b")
		})
		twice.problem(t, http.StatusUnprocessableEntity, "invalid")
		require.Equal(t, 0, count("Never"))
		ok := post(ann, "acme", strings.Repeat("k", 255), map[string]any{"name": "Longest key"})
		require.Equal(t, http.StatusCreated, ok.status, string(ok.body))
	})

	t.Run("concurrent requests with one key create one resource", func(t *testing.T) {
		t.Parallel()
		const n = 6
		answers := make([]answer, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				answers[i] = post(ann, "acme", "race-1", map[string]any{"name": "Raced"})
			})
		}
		close(start)
		wg.Wait()
		firsts, replays, busy := 0, 0, 0
		var body string
		for _, a := range answers {
			switch {
			case a.status == http.StatusCreated && a.header.Get(headerReplayed) == "":
				firsts++
				body = string(a.body)
			case a.status == http.StatusCreated:
				replays++
			case a.status == http.StatusConflict:
				a.problem(t, http.StatusConflict, "idempotency.in_progress")
				require.Equal(t, "1", a.header.Get("Retry-After"))
				busy++
			default:
				t.Fatalf("unexpected answer %d %s", a.status, a.body)
			}
		}
		require.Equal(t, 1, firsts)
		require.Equal(t, n, firsts+replays+busy)
		for _, a := range answers {
			if a.status == http.StatusCreated {
				require.Equal(t, body, string(a.body))
			}
		}
		require.Equal(t, 1, count("Raced"))
		// Once the first is done, a retry gets its answer.
		again := post(ann, "acme", "race-1", map[string]any{"name": "Raced"})
		require.Equal(t, http.StatusCreated, again.status)
		require.Equal(t, body, string(again.body))
	})

	t.Run("secrets in kept responses are sealed", func(t *testing.T) {
		t.Parallel()
		req := map[string]any{"name": "deploy", "role": "member"}
		first := s.do(t, "POST", "/v1/orgs/acme/api-keys", req, bearer(ann.access), withHeader(headerIdempotencyKey, "key-1"))
		require.Equal(t, http.StatusCreated, first.status, string(first.body))
		again := s.do(t, "POST", "/v1/orgs/acme/api-keys", req, bearer(ann.access), withHeader(headerIdempotencyKey, "key-1"))
		require.Equal(t, http.StatusCreated, again.status)
		require.Equal(t, string(first.body), string(again.body), "the one answer with the secret, again")
		require.Equal(t, 1, s.queryInt(t, "SELECT count(*) FROM api_keys WHERE name = 'deploy'"))
		secret := first.json(t)["secret"].(string)
		require.Equal(t, 0, s.queryInt(t, `SELECT count(*) FROM idempotency_keys WHERE key = 'key-1'
			AND (position(convert_to($1, 'UTF8') IN response_body) > 0 OR position('deploy' IN encode(response_body, 'escape')) > 0)`, secret))
		require.Equal(t, 1, s.queryInt(t, "SELECT count(*) FROM idempotency_keys WHERE key = 'key-1' AND status = 201"))
	})

	t.Run("POSTs without a tenant ignore the header", func(t *testing.T) {
		t.Parallel()
		body := map[string]any{"name": "Tenantless", "slug": "tenantless"}
		first := s.do(t, "POST", "/v1/orgs", body, bearer(mem.access), withHeader(headerIdempotencyKey, "org-1"))
		require.Equal(t, http.StatusCreated, first.status, string(first.body))
		s.do(t, "POST", "/v1/orgs", body, bearer(mem.access), withHeader(headerIdempotencyKey, "org-1")).
			problem(t, http.StatusConflict, "organization.slug_taken")
	})

	t.Run("documented on every POST inside an organization", func(t *testing.T) {
		t.Parallel()
		var doc struct {
			Paths map[string]map[string]struct {
				Parameters []struct{ Name, In string } `json:"parameters"`
				Responses  map[string]any              `json:"responses"`
			} `json:"paths"`
		}
		require.NoError(t, json.Unmarshal(servedOpenAPI(t), &doc))
		n := 0
		for path, item := range doc.Paths {
			op, ok := item["post"]
			if !ok {
				continue
			}
			has := false
			for _, p := range op.Parameters {
				has = has || p.Name == headerIdempotencyKey && p.In == "header"
			}
			require.Equal(t, strings.HasPrefix(path, "/v1/orgs/{org}"), has, path)
			if has {
				n++
				require.Contains(t, op.Responses, "409", path)
				require.Contains(t, op.Responses, "422", path)
			}
		}
		require.GreaterOrEqual(t, n, 6)
	})
}

// TestIdempotencyReleasesFailedRequests drives the middleware directly: a first
// response of 500 or above, or a panic, is not kept, so the retry runs again.
func TestIdempotencyReleasesFailedRequests(t *testing.T) {
	t.Parallel()
	s := setup(t)
	ann := s.signup(t, "ann@example.test", "Acme", "acme")
	m := newIdempotency(postgres.IdempotencyKeys{Store: s.store}, []byte("a cursor key of at least thirty-two bytes!"), slog.New(slog.DiscardHandler))
	actor := coditect.Actor{Kind: coditect.ActorAccount, AccountID: coditect.MustParseID[coditect.AccountID](ann.accountID),
		Tenant: coditect.MustParseID[coditect.TenantID](ann.orgID), Role: coditect.RoleOwner}
	calls := 0
	var fail func(w http.ResponseWriter)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		if fail != nil {
			fail(w)
			return
		}
		w.Header().Set("Location", "/somewhere")
		writeJSON(w, http.StatusCreated, map[string]int{"call": calls})
	})
	send := func(key string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", "/v1/orgs/acme/things", strings.NewReader(`{"a":1}`))
		req.Header.Set(headerIdempotencyKey, key)
		req = req.WithContext(coditect.WithActor(context.Background(), actor))
		rec := httptest.NewRecorder()
		m.serve(rec, req, actor, h)
		return rec
	}

	fail = func(w http.ResponseWriter) { w.WriteHeader(http.StatusServiceUnavailable) }
	require.Equal(t, http.StatusServiceUnavailable, send("k1").Code)
	fail = func(http.ResponseWriter) { panic("boom") }
	require.Panics(t, func() { send("k1") })
	fail = nil
	rec := send("k1")
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	require.JSONEq(t, `{"call":3}`, rec.Body.String())
	rec = send("k1")
	require.Equal(t, http.StatusCreated, rec.Code)
	require.JSONEq(t, `{"call":3}`, rec.Body.String(), "kept now")
	require.Equal(t, "/somewhere", rec.Header().Get("Location"))
	require.Equal(t, "true", rec.Header().Get(headerReplayed))
	require.Equal(t, 3, calls)

	// A kept response another server sealed with another key is not replayed.
	other := newIdempotency(postgres.IdempotencyKeys{Store: s.store}, []byte("another cursor key, also thirty-two bytes long"), slog.New(slog.DiscardHandler))
	req := httptest.NewRequest("POST", "/v1/orgs/acme/things", strings.NewReader(`{"a":1}`))
	req.Header.Set(headerIdempotencyKey, "k1")
	req = req.WithContext(coditect.WithActor(context.Background(), actor))
	rec = httptest.NewRecorder()
	other.serve(rec, req, actor, h)
	require.Equal(t, http.StatusConflict, rec.Code, rec.Body.String())
	require.Contains(t, rec.Body.String(), `"code":"idempotency.unreplayable"`)
	require.Equal(t, 3, calls)
}
