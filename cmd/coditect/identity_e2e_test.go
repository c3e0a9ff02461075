package main

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/mail"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"
)

// smtpSink is a real SMTP server in the test process that keeps what it receives.
type smtpSink struct {
	mu   sync.Mutex
	msgs []sinkMessage
	got  chan struct{}
}

type sinkMessage struct {
	to   string
	text string
}

type sinkSession struct {
	s  *smtpSink
	to string
}

func (b *smtpSink) NewSession(*smtp.Conn) (smtp.Session, error) { return &sinkSession{s: b}, nil }
func (s *sinkSession) Mail(string, *smtp.MailOptions) error     { return nil }
func (s *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = to
	return nil
}
func (s *sinkSession) Reset()        {}
func (s *sinkSession) Logout() error { return nil }
func (s *sinkSession) Data(r io.Reader) error {
	m, err := mail.ReadMessage(r)
	if err != nil {
		return err
	}
	text, err := plainText(m)
	if err != nil {
		return err
	}
	s.s.mu.Lock()
	s.s.msgs = append(s.s.msgs, sinkMessage{to: s.to, text: text})
	s.s.mu.Unlock()
	select {
	case s.s.got <- struct{}{}:
	default:
	}
	return nil
}

// plainText returns the decoded text/plain part of a message.
func plainText(m *mail.Message) (string, error) {
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil {
		return "", err
	}
	decode := func(enc string, r io.Reader) (string, error) {
		if strings.EqualFold(enc, "quoted-printable") {
			r = quotedprintable.NewReader(r)
		}
		b, err := io.ReadAll(r)
		return string(b), err
	}
	if !strings.HasPrefix(mt, "multipart/") {
		return decode(m.Header.Get("Content-Transfer-Encoding"), m.Body)
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err != nil {
			return "", err
		}
		if strings.HasPrefix(p.Header.Get("Content-Type"), "text/plain") {
			return decode(p.Header.Get("Content-Transfer-Encoding"), p)
		}
	}
}

func startSMTP(t *testing.T) (*smtpSink, string) {
	t.Helper()
	sink := &smtpSink{got: make(chan struct{}, 100)}
	srv := smtp.NewServer(sink)
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return sink, "smtp://" + ln.Addr().String() + "?starttls=off"
}

var linkToken = regexp.MustCompile(`[?&]token=([A-Za-z0-9_\-]+)`)

// waitMail waits for a message to `to` whose text contains `contains` and returns the
// token of the link in it.
func (b *smtpSink) waitToken(t *testing.T, to, contains string) string {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		b.mu.Lock()
		for _, m := range b.msgs {
			if strings.EqualFold(m.to, to) && strings.Contains(m.text, contains) {
				if tok := linkToken.FindStringSubmatch(m.text); tok != nil {
					b.mu.Unlock()
					return tok[1]
				}
			}
		}
		b.mu.Unlock()
		select {
		case <-b.got:
		case <-deadline:
			t.Fatalf("no email to %s containing %q arrived", to, contains)
		}
	}
}

type api struct {
	t    *testing.T
	base string
}

// call sends method path with a JSON body and bearer token, and decodes the JSON reply.
func (a api) call(method, path, bearer string, body any, out any) int {
	a.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(a.t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.base+path, rd)
	require.NoError(a.t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(a.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(a.t, err)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil && !errors.Is(err, io.EOF) {
			a.t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode
}

type tokens struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	ExpiresIn    int    `json:"expires_in"`
}

type problem struct {
	Code   string `json:"code"`
	Status int    `json:"status"`
}

// TestIdentityEndToEnd drives sign-up, email verification, login, password reset,
// invitations and API keys through the real binary, with a real SMTP server receiving
// the emails, and then checks that no secret reached the logs or the traces (exported
// to an in-process OTLP receiver), at debug level.
func TestIdentityEndToEnd(t *testing.T) {
	t.Parallel()
	sink, smtpURL := startSMTP(t)
	rcv, otlpURL := startOTLP(t)
	env := dbEnv(t)
	env["OTEL_EXPORTER_OTLP_ENDPOINT"] = otlpURL
	env["SMTP_URL"] = smtpURL
	env["REDIS_URL"] = os.Getenv("CODITECT_TEST_REDIS_URL") // login throttling is shared through Redis
	env["CODITECT_LOG_LEVEL"] = "debug"
	env["CODITECT_ARGON2_MEMORY_KIB"] = "8192"
	env["CODITECT_ARGON2_ITERATIONS"] = "1"
	p := start(t, env, "serve", "--workers")
	c := api{t: t, base: p.url}

	const password = "correct horse battery staple"
	var signup struct {
		tokens
		Account      struct{ ID, Email string }
		Organization struct{ ID, Slug, Name, Domain string }
	}
	require.Equal(t, http.StatusCreated, c.call("POST", "/v1/signup", "", map[string]any{
		"email": "Ann@Example.com", "password": password, "name": "Ann", "organization_name": "Acme Corp"}, &signup))
	require.Equal(t, "ann@example.com", signup.Account.Email)
	require.Equal(t, "acme-corp", signup.Organization.Slug)
	require.NotEmpty(t, signup.AccessToken)

	// The welcome job sends the verification link.
	verify := sink.waitToken(t, "ann@example.com", "verify")
	require.Equal(t, http.StatusNoContent, c.call("POST", "/v1/auth/verify-email", "", map[string]any{"token": verify}, nil))
	var pr problem
	require.Equal(t, http.StatusNotFound, c.call("POST", "/v1/auth/verify-email", "", map[string]any{"token": verify}, &pr), "single use")
	var me struct {
		Account struct {
			EmailVerifiedAt *time.Time `json:"email_verified_at"`
		}
		Memberships []struct {
			Organization struct{ Slug string }
			Role         string
		}
	}
	require.Equal(t, http.StatusOK, c.call("GET", "/v1/me", signup.AccessToken, nil, &me))
	require.NotNil(t, me.Account.EmailVerifiedAt)
	require.Len(t, me.Memberships, 1)
	require.Equal(t, "owner", me.Memberships[0].Role)

	// Login: the same 401 for an unknown email and a wrong password.
	var p1, p2 problem
	require.Equal(t, http.StatusUnauthorized, c.call("POST", "/v1/auth/login", "", map[string]any{"email": "nobody@example.com", "password": password}, &p1))
	require.Equal(t, http.StatusUnauthorized, c.call("POST", "/v1/auth/login", "", map[string]any{"email": "ann@example.com", "password": "wrong password!!"}, &p2))
	require.Equal(t, p1, p2)
	var login tokens
	require.Equal(t, http.StatusOK, c.call("POST", "/v1/auth/login", "", map[string]any{"email": "ann@example.com", "password": password}, &login))

	// Brute force on one account is throttled (counted in Redis): 429 with Retry-After.
	victim := "victim-" + rand.Text() + "@example.com" // unique: Redis outlives one run
	for range 10 {
		require.Equal(t, http.StatusUnauthorized, c.call("POST", "/v1/auth/login", "", map[string]any{"email": victim, "password": "guess guess guess"}, nil))
	}
	req, err := http.NewRequest("POST", p.url+"/v1/auth/login", strings.NewReader(`{"email":"`+victim+`","password":"guess guess guess"}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	require.NotEmpty(t, resp.Header.Get("Retry-After"))

	// Password reset by email revokes every session.
	require.Equal(t, http.StatusAccepted, c.call("POST", "/v1/auth/password-reset", "", map[string]any{"email": "ann@example.com"}, nil))
	reset := sink.waitToken(t, "ann@example.com", "reset")
	const newPassword = "a much better passphrase 42"
	require.Equal(t, http.StatusNoContent, c.call("POST", "/v1/auth/password-reset/confirm", "", map[string]any{"token": reset, "password": newPassword}, nil))
	require.Equal(t, http.StatusUnauthorized, c.call("POST", "/v1/auth/refresh", "", map[string]any{"refresh_token": login.RefreshToken}, nil))
	require.Equal(t, http.StatusUnauthorized, c.call("GET", "/v1/me", login.AccessToken, nil, nil), "the session ended")
	require.Equal(t, http.StatusOK, c.call("POST", "/v1/auth/login", "", map[string]any{"email": "ann@example.com", "password": newPassword}, &login))

	// Invite Bob; he accepts as a new account from the emailed link.
	var inv struct{ ID, Email, Role string }
	require.Equal(t, http.StatusCreated, c.call("POST", "/v1/orgs/acme-corp/invitations", login.AccessToken, map[string]any{"email": "bob@example.com", "role": "member"}, &inv))
	invite := sink.waitToken(t, "bob@example.com", "invit")
	var bob tokens
	require.Equal(t, http.StatusCreated, c.call("POST", "/v1/invitations/"+invite+"/accept", "", map[string]any{"name": "Bob", "password": "bobs own passphrase 7"}, &bob), "a new account is created")
	require.NotEmpty(t, bob.AccessToken)
	var bobMe struct {
		Memberships []struct {
			Organization struct{ Slug string }
			Role         string
		}
	}
	require.Equal(t, http.StatusOK, c.call("GET", "/v1/me", bob.AccessToken, nil, &bobMe))
	require.Len(t, bobMe.Memberships, 1)
	require.Equal(t, "member", bobMe.Memberships[0].Role)
	require.NotEqual(t, http.StatusOK, c.call("POST", "/v1/invitations/"+invite+"/accept", "", map[string]any{"name": "Eve", "password": "eves passphrase 123"}, nil), "an invitation works once")
	require.Equal(t, http.StatusForbidden, c.call("POST", "/v1/orgs/acme-corp/invitations", bob.AccessToken, map[string]any{"email": "x@example.com", "role": "member"}, nil), "members cannot invite")

	// An API key acts in its own organization only.
	var key struct {
		ID, Secret string
	}
	require.Equal(t, http.StatusCreated, c.call("POST", "/v1/orgs/acme-corp/api-keys", login.AccessToken, map[string]any{"name": "ci", "role": "viewer"}, &key))
	require.True(t, strings.HasPrefix(key.Secret, "cdk_"))
	require.Equal(t, http.StatusOK, c.call("GET", "/v1/orgs/acme-corp", key.Secret, nil, nil))
	var other struct{ Organization struct{ Slug string } }
	require.Equal(t, http.StatusCreated, c.call("POST", "/v1/orgs", login.AccessToken, map[string]any{"name": "Other Org"}, &other))
	require.Equal(t, http.StatusNotFound, c.call("GET", "/v1/orgs/other-org", key.Secret, nil, nil), "a key of another organization is 404")
	require.Equal(t, http.StatusNotFound, c.call("GET", "/v1/orgs/other-org", bob.AccessToken, nil, nil), "not a member is 404")

	// A browser session: the cookies work, and are secrets like the rest.
	body, err := json.Marshal(map[string]any{"email": "ann@example.com", "password": newPassword, "session": "cookie"})
	require.NoError(t, err)
	req, err = http.NewRequest("POST", p.url+"/v1/auth/login", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	var cookieLogin tokens
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&cookieLogin))
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	cookies := resp.Cookies()
	require.NotEmpty(t, cookies)
	req, err = http.NewRequest("GET", p.url+"/v1/me", nil)
	require.NoError(t, err)
	for _, ck := range cookies {
		req.AddCookie(ck)
	}
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "signed in by cookie")

	// Nothing secret reached the logs or the traces.
	p.stop()
	<-p.done
	p.done <- nil
	logs := p.stderr.String() + p.stdout.String()
	rcv.mu.Lock()
	spans := rcv.raw.String()
	rcv.mu.Unlock()
	require.NotEmpty(t, spans, "traces were exported")
	secrets := []string{password, newPassword, "bobs own passphrase 7", signup.AccessToken, signup.RefreshToken, login.AccessToken,
		login.RefreshToken, bob.RefreshToken, verify, reset, invite, key.Secret, testSecret, cookieLogin.AccessToken}
	for _, ck := range cookies {
		secrets = append(secrets, ck.Value)
	}
	for _, secret := range secrets {
		require.NotContains(t, logs, secret)
		require.NotContains(t, spans, secret)
	}
	// Every access log line carries its request and trace ids.
	n := 0
	for line := range strings.SplitSeq(p.stderr.String(), "\n") {
		var l map[string]any
		if json.Unmarshal([]byte(line), &l) != nil || l["msg"] != "http request" {
			continue
		}
		n++
		require.NotEmpty(t, l["request_id"], line)
		if r, _ := l["route"].(string); r != "GET /healthz" && r != "GET /readyz" {
			require.NotEmpty(t, l["trace_id"], line)
		}
	}
	require.Positive(t, n)
}
