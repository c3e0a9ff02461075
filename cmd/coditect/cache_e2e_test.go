package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// hit sends a request and returns its status, headers and body.
func hit(t *testing.T, method, url, bearer string, body any) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	require.NoError(t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, b
}

type signedUp struct {
	tokens
	Organization struct{ ID, Slug string }
}

func signUp(t *testing.T, base, email, org string) signedUp {
	t.Helper()
	var s signedUp
	c := api{t: t, base: base}
	require.Equal(t, http.StatusCreated, c.call("POST", "/v1/signup", "", map[string]any{"email": email,
		"password": "correct horse battery staple", "name": "Tess", "organization_name": org}, &s))
	return s
}

func redisEnv(t *testing.T, redisURL string) map[string]string {
	env := dbEnv(t)
	env["REDIS_URL"] = redisURL
	env["CODITECT_RATE_LIMIT_IP"] = "0" // parallel tests share 127.0.0.1
	return env
}

// TestCachesEndToEnd: the response cache answers repeated GETs, never across tenants
// or roles, and every write drops it; revoked sessions and API keys fail at once.
func TestCachesEndToEnd(t *testing.T) {
	t.Parallel()
	p := start(t, redisEnv(t, os.Getenv("CODITECT_TEST_REDIS_URL")), "serve")
	a := signUp(t, p.url, "ann@example.com", "Cache Alpha")
	org := p.url + "/v1/orgs/" + a.Organization.Slug
	var ws struct{ ID string }
	status, _, b := hit(t, "POST", org+"/workspaces", a.AccessToken, map[string]any{"name": "Ops"})
	require.Equal(t, http.StatusCreated, status, string(b))
	require.NoError(t, json.Unmarshal(b, &ws))
	status, _, b = hit(t, "POST", org+"/projects", a.AccessToken, map[string]any{"workspace_id": ws.ID, "name": "First"})
	require.Equal(t, http.StatusCreated, status, string(b))

	status, h, first := hit(t, "GET", org+"/projects", a.AccessToken, nil)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "MISS", h.Get("X-Cache"))
	status, h, again := hit(t, "GET", org+"/projects", a.AccessToken, nil)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "HIT", h.Get("X-Cache"))
	require.JSONEq(t, string(first), string(again))
	require.Equal(t, "no-store", h.Get("Cache-Control"), "the server's cache is not a shared HTTP cache's")

	t.Run("Cache-Control: no-cache skips the lookup", func(t *testing.T) {
		req, _ := http.NewRequest("GET", org+"/projects", nil)
		req.Header.Set("Authorization", "Bearer "+a.AccessToken)
		req.Header.Set("Cache-Control", "no-cache")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, "MISS", resp.Header.Get("X-Cache"))
	})

	t.Run("a write in the tenant drops its cached answers", func(t *testing.T) {
		status, _, b := hit(t, "POST", org+"/projects", a.AccessToken, map[string]any{"workspace_id": ws.ID, "name": "Second"})
		require.Equal(t, http.StatusCreated, status, string(b))
		status, h, b := hit(t, "GET", org+"/projects", a.AccessToken, nil)
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, "MISS", h.Get("X-Cache"))
		require.Contains(t, string(b), "Second")
	})

	var viewer, member struct{ ID, Secret string }
	status, _, b = hit(t, "POST", org+"/api-keys", a.AccessToken, map[string]any{"name": "dash", "role": "viewer"})
	require.Equal(t, http.StatusCreated, status, string(b))
	require.NoError(t, json.Unmarshal(b, &viewer))
	status, _, b = hit(t, "POST", org+"/api-keys", a.AccessToken, map[string]any{"name": "ci", "role": "member"})
	require.Equal(t, http.StatusCreated, status, string(b))
	require.NoError(t, json.Unmarshal(b, &member))
	hit(t, "GET", org+"/projects", a.AccessToken, nil) // the owner's answer is cached again

	t.Run("another role never gets the owner's cached answer", func(t *testing.T) {
		_, h, _ := hit(t, "GET", org+"/projects", viewer.Secret, nil)
		require.Equal(t, "MISS", h.Get("X-Cache"), "the viewer's first request")
		_, h, _ = hit(t, "GET", org+"/projects", viewer.Secret, nil)
		require.Equal(t, "HIT", h.Get("X-Cache"))
		_, h, _ = hit(t, "GET", org+"/projects", member.Secret, nil)
		require.Equal(t, "MISS", h.Get("X-Cache"), "the member's first request")
	})

	t.Run("another tenant never gets a cached answer", func(t *testing.T) {
		bee := signUp(t, p.url, "bee@example.com", "Cache Beta")
		status, _, body := hit(t, "GET", org+"/projects", bee.AccessToken, nil)
		require.Equal(t, http.StatusNotFound, status, "tenant B asking for A's cached list: %s", body)
		require.NotContains(t, string(body), "First")
		status, h, body := hit(t, "GET", p.url+"/v1/orgs/"+bee.Organization.Slug+"/projects", bee.AccessToken, nil)
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, "MISS", h.Get("X-Cache"))
		require.NotContains(t, string(body), "First")
	})

	t.Run("a revoked API key fails on the next request", func(t *testing.T) {
		for range 3 {
			status, _, _ := hit(t, "GET", org, viewer.Secret, nil)
			require.Equal(t, http.StatusOK, status)
		}
		status, _, b := hit(t, "DELETE", org+"/api-keys/"+viewer.ID, a.AccessToken, nil)
		require.Equal(t, http.StatusNoContent, status, string(b))
		status, _, _ = hit(t, "GET", org, viewer.Secret, nil)
		require.Equal(t, http.StatusUnauthorized, status)
		status, _, _ = hit(t, "GET", org+"/projects", viewer.Secret, nil)
		require.Equal(t, http.StatusUnauthorized, status, "not even from the response cache")
	})

	t.Run("a logged-out session fails on the next request", func(t *testing.T) {
		var login tokens
		c := api{t: t, base: p.url}
		require.Equal(t, http.StatusOK, c.call("POST", "/v1/auth/login", "", map[string]any{"email": "ann@example.com", "password": "correct horse battery staple"}, &login))
		for range 3 {
			status, _, _ := hit(t, "GET", org+"/projects", login.AccessToken, nil)
			require.Equal(t, http.StatusOK, status)
		}
		status, _, _ := hit(t, "POST", p.url+"/v1/auth/logout", login.AccessToken, nil)
		require.Equal(t, http.StatusNoContent, status)
		status, _, _ = hit(t, "GET", org+"/projects", login.AccessToken, nil)
		require.Equal(t, http.StatusUnauthorized, status)
		status, _, _ = hit(t, "GET", org+"/projects", a.AccessToken, nil)
		require.Equal(t, http.StatusOK, status, "the account's other session lives on")
	})
}

// TestRateLimitEndToEnd: the budget's requests pass with RateLimit headers, the next
// one is 429 with Retry-After, and after that wait requests pass again.
func TestRateLimitEndToEnd(t *testing.T) {
	t.Parallel()
	env := redisEnv(t, os.Getenv("CODITECT_TEST_REDIS_URL"))
	env["CODITECT_RATE_LIMIT_PRINCIPAL"] = "60" // a burst of 60, then one a second
	p := start(t, env, "serve")
	a := signUp(t, p.url, "rita@example.com", "Rate Org")
	org := p.url + "/v1/orgs/" + a.Organization.Slug
	var h http.Header
	var status int
	n := 0
	for ; n < 100; n++ {
		status, h, _ = hit(t, "GET", org, a.AccessToken, nil)
		if status != http.StatusOK {
			break
		}
		require.Equal(t, "60", h.Get("RateLimit-Limit"))
		require.Equal(t, "60;w=60", h.Get("RateLimit-Policy"))
		require.Equal(t, strconv.Itoa(59-n), h.Get("RateLimit-Remaining"))
	}
	require.Equal(t, 60, n, "exactly the burst passes")
	require.Equal(t, http.StatusTooManyRequests, status)
	require.Equal(t, "application/problem+json", h.Get("Content-Type"))
	require.Equal(t, "0", h.Get("RateLimit-Remaining"))
	wait, err := strconv.Atoi(h.Get("Retry-After"))
	require.NoError(t, err)
	require.Equal(t, 1, wait)
	time.Sleep(time.Duration(wait) * time.Second)
	status, _, _ = hit(t, "GET", org, a.AccessToken, nil)
	require.Equal(t, http.StatusOK, status, "allowed again after Retry-After")

	other := signUp(t, p.url, "otto@example.com", "Other Rate Org")
	status, _, _ = hit(t, "GET", p.url+"/v1/orgs/"+other.Organization.Slug, other.AccessToken, nil)
	require.Equal(t, http.StatusOK, status, "one caller's budget is not another's")
}

// TestIPRateLimitForAnonymousRequests: requests without credentials are limited per IP.
func TestIPRateLimitForAnonymousRequests(t *testing.T) {
	t.Parallel()
	rs := startRedis(t, freeAddr(t))
	env := redisEnv(t, rs.url)
	env["CODITECT_RATE_LIMIT_IP"] = "3"
	p := start(t, env, "serve")
	for i := range 3 {
		status, h, _ := hit(t, "POST", p.url+"/v1/auth/password-reset", "", map[string]any{"email": "nobody@example.com"})
		require.Less(t, status, 300)
		require.Equal(t, strconv.Itoa(2-i), h.Get("RateLimit-Remaining"))
	}
	status, h, b := hit(t, "POST", p.url+"/v1/auth/password-reset", "", map[string]any{"email": "nobody@example.com"})
	require.Equal(t, http.StatusTooManyRequests, status)
	require.Contains(t, string(b), `"code":"rate_limited"`)
	require.NotEmpty(t, h.Get("Retry-After"))
}

// redisServer is a private redis-server the test can stop, freeze and restart.
type redisServer struct {
	t    *testing.T
	addr string
	url  string
	cmd  *exec.Cmd
}

// startRedis runs redis-server (from the machine; make test installs it) on addr.
func startRedis(t *testing.T, addr string) *redisServer {
	t.Helper()
	rs := &redisServer{t: t, addr: addr, url: "redis://" + addr + "/0"}
	rs.start()
	t.Cleanup(rs.kill)
	return rs
}

func (rs *redisServer) start() {
	t := rs.t
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	require.NoError(t, err, "redis-server is not installed: run the tests with `make test`")
	host, port, err := net.SplitHostPort(rs.addr)
	require.NoError(t, err)
	rs.cmd = exec.Command(bin, "--bind", host, "--port", port, "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	require.NoError(t, rs.cmd.Start())
	require.Eventually(t, func() bool {
		c, err := net.DialTimeout("tcp", rs.addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err == nil
	}, 10*time.Second, 20*time.Millisecond)
}

func (rs *redisServer) kill() {
	if rs.cmd != nil && rs.cmd.Process != nil {
		_ = rs.cmd.Process.Signal(syscall.SIGCONT)
		_ = rs.cmd.Process.Kill()
		_ = rs.cmd.Wait()
		rs.cmd = nil
	}
}

// TestAPIServesThroughARedisOutage: with Redis frozen (slow) or killed, the API keeps
// answering from PostgreSQL within its timeouts, rate limits fall back to the process,
// /readyz says degraded, a session revoked meanwhile is not revived by a cache entry
// written before the outage, and when Redis is back everything resumes without a
// restart.
func TestAPIServesThroughARedisOutage(t *testing.T) {
	t.Parallel()
	rs := startRedis(t, freeAddr(t))
	p := start(t, redisEnv(t, rs.url), "serve")
	a := signUp(t, p.url, "olga@example.com", "Outage Org")
	org := p.url + "/v1/orgs/" + a.Organization.Slug
	var login tokens
	c := api{t: t, base: p.url}
	require.Equal(t, http.StatusOK, c.call("POST", "/v1/auth/login", "", map[string]any{"email": "olga@example.com", "password": "correct horse battery staple"}, &login))

	expect := func(bearer string, status int, cache string) {
		t.Helper()
		start := time.Now()
		got, h, b := hit(t, "GET", org+"/members", bearer, nil)
		require.Equal(t, status, got, string(b))
		if cache != "" {
			require.Equal(t, cache, h.Get("X-Cache"))
		}
		if status == http.StatusOK {
			require.NotEmpty(t, h.Get("RateLimit-Remaining"), "rate limiting stays on")
		}
		require.Less(t, time.Since(start), 5*time.Second, "Redis timeouts are milliseconds")
	}
	readyz := func() string {
		status, body, _ := get(t, p.url+"/readyz")
		require.Equal(t, http.StatusOK, status, body)
		var r struct{ Status string }
		require.NoError(t, json.Unmarshal([]byte(body), &r))
		return r.Status
	}
	expect(a.AccessToken, http.StatusOK, "MISS")
	expect(a.AccessToken, http.StatusOK, "HIT")
	expect(login.AccessToken, http.StatusOK, "HIT") // the second session is cached now too
	require.Equal(t, "ok", readyz())

	// Frozen: Redis accepts nothing and answers nothing, like an overloaded server.
	require.NoError(t, rs.cmd.Process.Signal(syscall.SIGSTOP))
	expect(a.AccessToken, http.StatusOK, "MISS")
	require.Equal(t, "degraded", readyz())
	status, _, _ := hit(t, "POST", p.url+"/v1/auth/logout", login.AccessToken, nil)
	require.Equal(t, http.StatusNoContent, status, "logging out works without Redis")
	expect(login.AccessToken, http.StatusUnauthorized, "")

	// Thawed, with the logged-out session's entry still in it: it must not count.
	require.NoError(t, rs.cmd.Process.Signal(syscall.SIGCONT))
	expect(login.AccessToken, http.StatusUnauthorized, "")
	require.Eventually(t, func() bool { return readyz() == "ok" }, 10*time.Second, 100*time.Millisecond)

	// Killed.
	rs.kill()
	expect(a.AccessToken, http.StatusOK, "MISS")
	expect(a.AccessToken, http.StatusOK, "MISS")
	require.Equal(t, "degraded", readyz())

	// Restarted on the same address: the same process resumes caching.
	rs.start()
	require.Eventually(t, func() bool { return readyz() == "ok" }, 10*time.Second, 100*time.Millisecond)
	require.Eventually(t, func() bool {
		_, h, _ := hit(t, "GET", org+"/members", a.AccessToken, nil)
		return h.Get("X-Cache") == "HIT"
	}, 10*time.Second, 200*time.Millisecond)
	status, _, _ = hit(t, "POST", org+"/workspaces", a.AccessToken, map[string]any{"name": "After"})
	require.Equal(t, http.StatusCreated, status)
	expect(a.AccessToken, http.StatusOK, "MISS")
}

// TestTenantRateLimitFollowsThePlan: an organization's rate is its plan's, and a plan
// change applies on the next request after a write in the organization (no deploy, no
// restart).
func TestTenantRateLimitFollowsThePlan(t *testing.T) {
	t.Parallel()
	env := redisEnv(t, os.Getenv("CODITECT_TEST_REDIS_URL"))
	env["CODITECT_RATE_LIMIT_PRINCIPAL"] = "0"
	p := start(t, env, "serve")
	a := signUp(t, p.url, "pia@example.com", "Plan Org")
	org := p.url + "/v1/orgs/" + a.Organization.Slug
	_, h, _ := hit(t, "GET", org, a.AccessToken, nil)
	require.Equal(t, "600", h.Get("RateLimit-Limit"), "the free plan's rate")
	_, h, _ = hit(t, "GET", org, a.AccessToken, nil)
	require.Equal(t, "600", h.Get("RateLimit-Limit"), "now from the query cache")

	// The organization moves to the business plan (as the Stripe webhook job would).
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, env["DATABASE_OWNER_URL"])
	require.NoError(t, err)
	defer conn.Close(ctx)
	tx, err := conn.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `SELECT set_config('app.tenant_id', $1, true)`, a.Organization.ID)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `INSERT INTO subscriptions (tenant_id, stripe_subscription_id, plan_id, status, quantity, state_at, state_rank)
		VALUES ($1, 'sub_test', 'business', 'active', 1, now(), 0)`, a.Organization.ID)
	require.NoError(t, err)
	require.NoError(t, tx.Commit(ctx))
	status, _, _ := hit(t, "PATCH", org, a.AccessToken, map[string]any{"name": "Plan Org Renamed"})
	require.Equal(t, http.StatusOK, status)
	_, h, _ = hit(t, "GET", org, a.AccessToken, nil)
	require.Equal(t, "12000", h.Get("RateLimit-Limit"), "the business plan's rate")
}

// TestWebhooksAreNotLimitedPerIP: Stripe sends every customer's events from a few
// addresses; its webhook authenticates by signature and is not on the per-IP budget.
func TestWebhooksAreNotLimitedPerIP(t *testing.T) {
	t.Parallel()
	env := redisEnv(t, os.Getenv("CODITECT_TEST_REDIS_URL"))
	env["CODITECT_RATE_LIMIT_IP"] = "2"
	p := start(t, env, "serve")
	for range 5 {
		status, h, _ := hit(t, "POST", p.url+"/v1/webhooks/stripe", "", map[string]any{})
		require.NotEqual(t, http.StatusTooManyRequests, status)
		require.Empty(t, h.Get("RateLimit-Limit"))
	}
}
