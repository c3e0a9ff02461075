package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	netmail "net/mail"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/account"
	"github.com/coditect/coditect/internal/audit"
	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/identity"
	"github.com/coditect/coditect/internal/identity/token"
	"github.com/coditect/coditect/internal/mail"
	"github.com/coditect/coditect/internal/postgres"
	"github.com/coditect/coditect/internal/postgres/postgrestest"
	"github.com/coditect/coditect/internal/work"
)

const (
	testBaseURL    = "https://coditect.test"
	testBaseDomain = "coditect.test"
	testPassword   = "correct horse battery staple"
)

// testClock is the services' clock: real time plus an offset a test can advance
// (to expire an invitation, or to reach the next TOTP step without waiting).
type testClock struct{ offset atomic.Int64 }

func (c *testClock) Now() time.Time            { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *testClock) Advance(d time.Duration)   { c.offset.Add(int64(d)) }
func (c *testClock) nowFunc() func() time.Time { return c.Now }

// stack is the whole HTTP API over the real services on a fresh database, wired as
// cmd/coditect wires it.
type stack struct {
	srv      *httptest.Server
	store    *postgres.Store
	db       postgrestest.DB
	ids      *identity.Service
	accts    *account.Service
	mailer   mail.Templated
	mailDir  string
	clock    *testClock
	keys     token.KeySet
	issuer   *token.Issuer
	docURL   string
	compiler *jsonschema.Compiler
	logs     *logBuffer
}

var argonForTests = identity.Argon2Params{MemoryKiB: 8 * 1024, Iterations: 1, Parallelism: 1}

// setup builds a stack for t; the database and server go away with t.
func setup(t *testing.T) *stack {
	t.Helper()
	return newStack(t, nil)
}

// newStack builds a stack for t. configure, if set, runs before the server starts,
// with the Deps it will get and the URL it will listen on; it returns the handler to
// serve, or nil for NewServer(deps).
func newStack(t *testing.T, configure func(s *stack, deps *Deps, url string) http.Handler) *stack {
	t.Helper()
	store, db := postgrestest.NewStore(t)
	s := &stack{store: store, db: db, clock: &testClock{}, mailDir: filepath.Join(t.TempDir(), "mail")}

	key, err := token.GenerateKey("")
	require.NoError(t, err)
	s.keys, err = token.NewKeySet(key)
	require.NoError(t, err)
	s.issuer, err = token.NewIssuer(func() token.KeySet { return s.keys }, testBaseURL, 15*time.Minute, nil)
	require.NoError(t, err)

	renderer, err := mail.NewRenderer()
	require.NoError(t, err)
	sender, err := mail.NewFileSender(s.mailDir, "CODITECT <no-reply@coditect.test>", nil)
	require.NoError(t, err)
	s.mailer = mail.Templated{Renderer: renderer, Sender: sender}

	s.accts = account.NewService(postgres.AccountStore{Store: store}, store, store, testBaseDomain, s.clock.nowFunc())
	s.ids, err = identity.NewService(identity.Config{
		Argon2: argonForTests, AppSecret: []byte("an application secret of at least 32 bytes, for tests"),
		BaseURL: testBaseURL, BaseDomain: testBaseDomain,
	}, identity.Deps{Store: store, Accounts: postgres.AccountStore{Store: store}, Tokens: s.issuer,
		Throttle: identity.NewMemoryThrottle(nil), Mailer: s.mailer, Jobs: store, Now: s.clock.nowFunc()})
	require.NoError(t, err)

	deps, _, logs := testDeps()
	s.logs = logs
	deps.Identity, deps.Accounts = s.ids, s.accts
	deps.Work = work.NewService(postgres.WorkStore{Store: store}, postgres.WorkStore{Store: store})
	deps.Audit = audit.NewService(store)
	deps.Idempotency = postgres.IdempotencyKeys{Store: store}
	deps.JWKS = s.keys.JWKS
	deps.CookieSecure = true
	deps.BaseDomain = testBaseDomain
	deps.HashPassword = func(p string) (string, error) { return identity.HashPassword(p, argonForTests) }
	deps.CursorKey = []byte("a cursor key of at least thirty-two bytes!")
	s.srv = httptest.NewUnstartedServer(nil) // listens on 127.0.0.1 already
	var h http.Handler
	if configure != nil {
		h = configure(s, &deps, "http://"+s.srv.Listener.Addr().String())
	}
	if h == nil {
		h = NewServer(deps)
	}
	s.srv.Config.Handler = h
	s.srv.Start()
	t.Cleanup(s.srv.Close)
	t.Cleanup(func() {
		// Nothing a test does may end in a 5xx: every failure it provokes is the client's.
		for _, l := range logs.lines(t, "http request") {
			require.Less(t, l["status"].(float64), 500.0, "%v", l)
		}
	})
	s.compileSpec(t)
	return s
}

// compileSpec loads the served OpenAPI document so answers can be checked against
// the schemas it documents.
func (s *stack) compileSpec(t *testing.T) {
	t.Helper()
	res := s.do(t, "GET", "/v1/openapi.json", nil)
	require.Equal(t, http.StatusOK, res.status)
	s.docURL = "https://coditect.test/openapi.json"
	s.compiler = jsonschema.NewCompiler()
	s.compiler.AssertFormat()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(res.body))
	require.NoError(t, err)
	require.NoError(t, s.compiler.AddResource(s.docURL, doc))
}

// requireSchema checks body against components.schemas[name] of the served document.
func (s *stack) requireSchema(t *testing.T, name string, body []byte) {
	t.Helper()
	sch, err := s.compiler.Compile(s.docURL + "#/components/schemas/" + name)
	require.NoError(t, err, name)
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	require.NoError(t, err)
	require.NoError(t, sch.Validate(v), "%s: %s", name, body)
}

// answer is one HTTP exchange's result.
type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) cookie(name string) *http.Cookie {
	for _, c := range (&http.Response{Header: a.header}).Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func (a answer) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(a.body, &m), string(a.body))
	return m
}

// problem checks the answer is a problem with status and code and returns it.
func (a answer) problem(t *testing.T, status int, code string) problem {
	t.Helper()
	require.Equal(t, status, a.status, string(a.body))
	require.Equal(t, "application/problem+json", a.header.Get("Content-Type"))
	var p problem
	require.NoError(t, json.Unmarshal(a.body, &p))
	require.Equal(t, code, p.Code, string(a.body))
	require.Equal(t, status, p.Status)
	require.NotEmpty(t, p.RequestID)
	return p
}

// opt changes a request before it is sent.
type opt func(*http.Request)

func bearer(tok string) opt {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
}
func withHeader(k, v string) opt {
	return func(r *http.Request) { r.Header.Set(k, v) }
}
func withCookies(cs ...*http.Cookie) opt {
	return func(r *http.Request) {
		for _, c := range cs {
			r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
		}
	}
}

// do sends a request: body is JSON-encoded unless it is a string (sent as is) or nil.
func (s *stack) do(t *testing.T, method, path string, body any, opts ...opt) answer {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		require.NoError(t, err)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, s.srv.URL+path, rd)
	require.NoError(t, err)
	req.Header.Set("User-Agent", "httpapi-test/1.0")
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, o := range opts {
		o(req)
	}
	res, err := s.srv.Client().Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.NotEmpty(t, res.Header.Get(headerRequestID))
	return answer{status: res.StatusCode, header: res.Header, body: b}
}

// person is a signed-up account with its first organization and tokens.
type person struct {
	email, access, refresh string
	accountID              string
	orgID, slug            string
}

// signup creates an account and its organization through the API.
func (s *stack) signup(t *testing.T, email, orgName, slug string) person {
	t.Helper()
	res := s.do(t, "POST", "/v1/signup", map[string]any{"email": email, "password": testPassword, "name": "Person " + email,
		"organization_name": orgName, "organization_slug": slug})
	require.Equal(t, http.StatusCreated, res.status, string(res.body))
	var out struct {
		Account      struct{ ID string }
		Organization struct{ ID, Slug string }
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	require.NoError(t, json.Unmarshal(res.body, &out))
	return person{email: email, access: out.AccessToken, refresh: out.RefreshToken, accountID: out.Account.ID, orgID: out.Organization.ID, slug: out.Organization.Slug}
}

// login signs in through the API and returns the answer.
func (s *stack) login(t *testing.T, email, password string, extra ...map[string]any) answer {
	t.Helper()
	body := map[string]any{"email": email, "password": password}
	for _, e := range extra {
		for k, v := range e {
			body[k] = v
		}
	}
	return s.do(t, "POST", "/v1/auth/login", body)
}

// accessToken signs in and returns just the access token.
func (s *stack) accessToken(t *testing.T, email string) string {
	t.Helper()
	res := s.login(t, email, testPassword)
	require.Equal(t, http.StatusOK, res.status, string(res.body))
	return res.json(t)["access_token"].(string)
}

// join makes an account for email (with its own organization) and adds it to owner's
// organization with role, the way people join: an invitation emailed and accepted.
func (s *stack) join(t *testing.T, owner person, email string, role coditect.Role) person {
	t.Helper()
	p := s.signup(t, email, "Home of "+email, "")
	tok := s.invite(t, owner, email, role)
	res := s.do(t, "POST", "/v1/invitations/"+tok+"/accept", nil, bearer(p.access))
	require.Equal(t, http.StatusOK, res.status, string(res.body))
	return p
}

// invite creates an invitation through the API and runs its email job, returning the
// accept token as delivered.
func (s *stack) invite(t *testing.T, by person, email string, role coditect.Role) string {
	t.Helper()
	res := s.do(t, "POST", "/v1/orgs/"+by.slug+"/invitations", map[string]any{"email": email, "role": role}, bearer(by.access))
	require.Equal(t, http.StatusCreated, res.status, string(res.body))
	require.NotContains(t, string(res.body), "inv_", "the answer never carries the token")
	id := coditect.MustParseID[coditect.InvitationID](res.json(t)["id"].(string))
	tenant := coditect.MustParseID[coditect.TenantID](by.orgID)
	// What the invitation job does: mint the token and mail it.
	require.NoError(t, s.accts.SendInvitation(coditect.WithActor(context.Background(), coditect.SystemActor(tenant)), id, s.mailer, testBaseURL))
	return s.lastToken(t, email, "/invitations/accept")
}

var linkToken = regexp.MustCompile(`(/[a-z/-]+)\?token=([A-Za-z0-9_-]+)`)

// mailMu serializes reading the mail directory against parallel subtests of one stack.
var mailMu sync.Mutex

// lastToken returns the token of the newest link with path in mail to addr.
func (s *stack) lastToken(t *testing.T, addr, path string) string {
	t.Helper()
	mailMu.Lock()
	defer mailMu.Unlock()
	entries, err := os.ReadDir(s.mailDir)
	require.NoError(t, err)
	var found string
	var newest time.Time
	for _, e := range entries {
		raw, err := os.ReadFile(filepath.Join(s.mailDir, e.Name()))
		require.NoError(t, err)
		msg, err := netmail.ReadMessage(bytes.NewReader(raw))
		require.NoError(t, err)
		if !strings.Contains(msg.Header.Get("To"), addr) {
			continue
		}
		info, err := e.Info()
		require.NoError(t, err)
		for _, m := range linkToken.FindAllStringSubmatch(textOf(t, msg), -1) {
			if m[1] == path && !info.ModTime().Before(newest) {
				found, newest = m[2], info.ModTime()
			}
		}
	}
	require.NotEmpty(t, found, "no mail to %s with a %s link", addr, path)
	return found
}

// textOf returns a message's text/plain part, decoded.
func textOf(t *testing.T, msg *netmail.Message) string {
	t.Helper()
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	require.NoError(t, err)
	require.Equal(t, "multipart/alternative", mt)
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart() // decodes quoted-printable itself
		require.NoError(t, err)
		if strings.HasPrefix(p.Header.Get("Content-Type"), "text/plain") {
			b, err := io.ReadAll(p)
			require.NoError(t, err)
			return string(b)
		}
	}
}

// query runs one SQL statement as the superuser, for checks the API cannot make
// (jobs enqueued, audit rows written).
func (s *stack) queryInt(t *testing.T, sql string, args ...any) int {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, s.db.AdminURL)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var n int
	require.NoError(t, conn.QueryRow(ctx, sql, args...).Scan(&n))
	return n
}
