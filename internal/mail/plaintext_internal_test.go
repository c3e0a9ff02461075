package mail

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"
)

// TestNoPlaintextCredentialsToRemoteHosts checks that opportunistic mode never sends
// the password unencrypted to a host that is not loopback, when the server (or an
// attacker stripping STARTTLS) offers no TLS. The "remote" host name is dialled to a
// real go-smtp server on 127.0.0.1.
func TestNoPlaintextCredentialsToRemoteHosts(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var logins, messages int
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return &recordingSession{mu: &mu, logins: &logins, messages: &messages}, nil
	}))
	srv.AllowInsecureAuth = true
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go srv.Serve(l) //nolint:errcheck // returns when closed
	t.Cleanup(func() { srv.Close() })
	toServer := func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, l.Addr().String())
	}

	s, err := NewSMTP("smtp://user:pass@mail.coditect.invalid:587", "no-reply@coditect.test")
	require.NoError(t, err)
	s.netDial = toServer
	err = s.Send(context.Background(), Message{To: "a@example.com", Subject: "Hi", Text: "x"})
	require.ErrorIs(t, err, ErrTemporary)
	require.ErrorContains(t, err, "refusing to send credentials in plaintext")

	// starttls=off is the operator saying plaintext is fine (e.g. a relay on a private network).
	s, err = NewSMTP("smtp://user:pass@mail.coditect.invalid:587?starttls=off", "no-reply@coditect.test")
	require.NoError(t, err)
	s.netDial = toServer
	require.NoError(t, s.Send(context.Background(), Message{To: "a@example.com", Subject: "Hi", Text: "x"}))

	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, 1, logins, "only the starttls=off sender logged in")
	require.Equal(t, 1, messages)
}

type recordingSession struct {
	mu               *sync.Mutex
	logins, messages *int
}

func (s *recordingSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *recordingSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		s.mu.Lock()
		defer s.mu.Unlock()
		*s.logins++
		if user != "user" || pass != "pass" {
			return errors.New("bad credentials")
		}
		return nil
	}), nil
}

func (s *recordingSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *recordingSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *recordingSession) Data(r io.Reader) error {
	if _, err := io.Copy(io.Discard, r); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	*s.messages++
	return nil
}
func (s *recordingSession) Reset()        {}
func (s *recordingSession) Logout() error { return nil }
