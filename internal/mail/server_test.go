package mail_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"
)

// The credentials the test server accepts. The password has characters that must be
// percent-encoded in a URL.
const (
	testUser    = "mailer"
	testPass    = "s3cret p@ss:w/rd"
	testPassURL = "s3cret%20p%40ss%3Aw%2Frd"
)

// received is one message as the test server saw it.
type received struct {
	From     string
	To       []string
	Data     []byte
	User     string
	Password string
	TLS      bool
}

// serverOpts shapes the test server's behaviour.
type serverOpts struct {
	TLS         *tls.Config // offer STARTTLS with this configuration
	ImplicitTLS bool        // speak TLS from the first byte (smtps)
	RcptErr     error       // reply to RCPT with this error
	DataErr     error       // reply to the end of DATA with this error
	HangData    bool        // read the message, then never reply
}

// testServer is a real SMTP server (go-smtp) on 127.0.0.1 with AUTH PLAIN.
type testServer struct {
	Addr string
	opts serverOpts
	done chan struct{}

	mu       sync.Mutex
	messages []received
	logins   []string // every user name that tried to log in
}

func startServer(t *testing.T, opts serverOpts) *testServer {
	t.Helper()
	ts := &testServer{opts: opts, done: make(chan struct{})}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &testSession{ts: ts, conn: c}, nil
	}))
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	srv.TLSConfig = opts.TLS
	srv.ErrorLog = discardLogger{}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	if opts.ImplicitTLS {
		l = tls.NewListener(l, opts.TLS)
	}
	ts.Addr = l.Addr().String()
	go srv.Serve(l) //nolint:errcheck // returns when closed
	t.Cleanup(func() { srv.Close() })
	t.Cleanup(func() { close(ts.done) }) // runs first: unblocks hung sessions
	return ts
}

// Messages returns what the server has accepted so far.
func (ts *testServer) Messages() []received {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]received(nil), ts.messages...)
}

// Logins returns the user names that tried AUTH.
func (ts *testServer) Logins() []string {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]string(nil), ts.logins...)
}

type testSession struct {
	ts   *testServer
	conn *smtp.Conn
	cur  received
	auth bool
}

func (s *testSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *testSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		s.ts.mu.Lock()
		s.ts.logins = append(s.ts.logins, username)
		s.ts.mu.Unlock()
		if username != testUser || password != testPass {
			return smtp.ErrAuthFailed
		}
		s.auth = true
		s.cur.User, s.cur.Password = username, password
		return nil
	}), nil
}

func (s *testSession) Mail(from string, _ *smtp.MailOptions) error {
	if !s.auth {
		return smtp.ErrAuthRequired
	}
	_, s.cur.TLS = s.conn.TLSConnectionState()
	s.cur.From = from
	return nil
}

func (s *testSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.ts.opts.RcptErr != nil {
		return s.ts.opts.RcptErr
	}
	s.cur.To = append(s.cur.To, to)
	return nil
}

func (s *testSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if s.ts.opts.HangData {
		<-s.ts.done
		return errors.New("test over")
	}
	if s.ts.opts.DataErr != nil {
		return s.ts.opts.DataErr
	}
	s.cur.Data = b
	s.ts.mu.Lock()
	s.ts.messages = append(s.ts.messages, s.cur)
	s.ts.mu.Unlock()
	return nil
}

func (s *testSession) Reset() {
	user, pass := s.cur.User, s.cur.Password
	s.cur = received{User: user, Password: pass}
}

func (s *testSession) Logout() error { return nil }

type discardLogger struct{}

func (discardLogger) Printf(string, ...any) {}
func (discardLogger) Println(...any)        {}

// startSilentServer accepts TCP connections on 127.0.0.1 and never says a word, like
// a hung SMTP server.
func startSilentServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}

// testTLS returns a server TLS configuration with a fresh self-signed certificate for
// 127.0.0.1, and a client configuration that trusts it.
func testTLS(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "coditect mail test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12},
		&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}
