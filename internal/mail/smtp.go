package mail

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// TLSMode says how an SMTP connection is encrypted.
type TLSMode string

// The TLS modes an SMTP URL can ask for.
const (
	TLSImplicit      TLSMode = "implicit"      // smtps://: TLS from the first byte (port 465)
	TLSRequired      TLSMode = "required"      // smtp://…?starttls=required: STARTTLS or fail
	TLSOpportunistic TLSMode = "opportunistic" // smtp://… (default): STARTTLS when the server offers it (the certificate is still verified)
	TLSOff           TLSMode = "off"           // smtp://…?starttls=off: plaintext only
)

// DefaultSMTPTimeout bounds one Send when the caller's context has no deadline.
const DefaultSMTPTimeout = time.Minute

// SMTP sends mail through an SMTP submission server. Build it with NewSMTP; it is
// safe for concurrent use and opens one connection per message.
type SMTP struct {
	// TLSConfig, if set before the first Send, is the base TLS configuration (for
	// example RootCAs for a private CA). ServerName defaults to the URL's host.
	TLSConfig *tls.Config
	// Timeout bounds one Send when ctx has no earlier deadline; zero means
	// DefaultSMTPTimeout. A hung server never blocks longer than this (or ctx).
	Timeout time.Duration

	host, port string
	user, pass string
	auth       bool
	mode       TLSMode
	from       *mail.Address

	netDial func(ctx context.Context, network, addr string) (net.Conn, error) // tests only; nil = net.Dialer
}

// NewSMTP parses an SMTP URL:
//
//	smtp://user:pass@host:port?from=…&starttls=required|opportunistic|off
//	smtps://user:pass@host:port?from=…
//
// The port defaults to 587 (smtp) or 465 (smtps); credentials are optional and are
// sent with AUTH PLAIN (or LOGIN if the server offers only that). from (e.g.
// "CODITECT <no-reply@example.com>") overrides defaultFrom; one of them is required.
// Errors never repeat the URL, which may hold a password.
func NewSMTP(rawURL string, defaultFrom string) (*SMTP, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, errors.New("SMTP URL: not a valid URL") // url.Error would echo the password
	}
	s := &SMTP{host: u.Hostname(), port: u.Port()}
	switch u.Scheme {
	case "smtp":
		s.mode = TLSOpportunistic
		if s.port == "" {
			s.port = "587"
		}
	case "smtps":
		s.mode = TLSImplicit
		if s.port == "" {
			s.port = "465"
		}
	default:
		return nil, errors.New("SMTP URL: want an smtp:// or smtps:// URL")
	}
	if s.host == "" {
		return nil, errors.New("SMTP URL: no host")
	}
	if p, err := strconv.Atoi(s.port); err != nil || p < 1 || p > 65535 {
		return nil, errors.New("SMTP URL: bad port")
	}
	if u.Opaque != "" || (u.Path != "" && u.Path != "/") || u.Fragment != "" {
		return nil, errors.New("SMTP URL: want no path or fragment")
	}
	if u.User != nil {
		s.user = u.User.Username()
		s.pass, _ = u.User.Password()
		if s.user == "" || s.pass == "" {
			return nil, errors.New("SMTP URL: credentials need both a user name and a password")
		}
		s.auth = true
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, errors.New("SMTP URL: bad query string")
	}
	for name, vals := range q {
		if len(vals) != 1 {
			return nil, fmt.Errorf("SMTP URL: parameter %q given more than once", name)
		}
		switch v := vals[0]; name {
		case "from":
			defaultFrom = v
		case "starttls":
			if s.mode == TLSImplicit {
				return nil, errors.New("SMTP URL: starttls does not apply to smtps:// (TLS is implicit)")
			}
			switch TLSMode(v) {
			case TLSRequired, TLSOpportunistic, TLSOff:
				s.mode = TLSMode(v)
			default:
				return nil, errors.New("SMTP URL: starttls must be required, opportunistic or off")
			}
		default:
			return nil, fmt.Errorf("SMTP URL: unknown parameter %q (want from or starttls)", name)
		}
	}
	if defaultFrom == "" {
		return nil, errors.New("SMTP URL: no sender: set ?from= or a default from address")
	}
	if s.from, err = parseFrom(defaultFrom); err != nil {
		return nil, fmt.Errorf("SMTP URL: %w", err)
	}
	return s, nil
}

// String describes the sender without its password, for start-up logs.
func (s *SMTP) String() string {
	scheme, user := "smtp", ""
	if s.mode == TLSImplicit {
		scheme = "smtps"
	}
	if s.auth {
		user = url.User(s.user).String() + "@"
	}
	return fmt.Sprintf("%s://%s%s (tls=%s, from=%s)", scheme, user, net.JoinHostPort(s.host, s.port), s.mode, s.from.Address)
}

// Send delivers m. A failure wraps ErrTemporary (network trouble, a timeout, a 4xx
// reply, or a problem with the connection, TLS or credentials that an operator can
// fix) or ErrPermanent (a 5xx reply to MAIL, RCPT or DATA, or an invalid message).
// Once the server has accepted the message, Send reports success even if QUIT fails,
// so a retry never sends it twice.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	raw, to, err := build(s.from, m, time.Now())
	if err != nil {
		return err
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = DefaultSMTPTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	c, err := s.connect(ctx)
	if err != nil {
		return s.sessionError(ctx, err)
	}
	defer c.Close()

	if err := s.authenticate(c); err != nil {
		return s.sessionError(ctx, err)
	}
	if err := c.SendMail(s.from.Address, []string{to.Address}, bytes.NewReader(raw)); err != nil {
		if ctx.Err() != nil {
			return temporary("sending", ctx.Err())
		}
		var se *smtp.SMTPError
		if errors.As(err, &se) && se.Code >= 500 && se.Code < 600 {
			return permanent("server refused the message", err)
		}
		return temporary("sending", err)
	}
	_ = c.Quit() // the message is accepted; a failed QUIT changes nothing
	return nil
}

// sessionError classifies a failure before the message was offered: whatever the
// reply code, it concerns the server or our configuration, not this message.
func (s *SMTP) sessionError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return temporary("connecting to "+net.JoinHostPort(s.host, s.port), ctx.Err())
	}
	return temporary("connecting to "+net.JoinHostPort(s.host, s.port), err)
}

// session is a connected client and the connection under it.
type session struct {
	*smtp.Client
	stop func() bool // stops closing the connection when ctx ends
}

func (s *session) Close() error {
	s.stop()
	return s.Client.Close()
}

var errNoStartTLS = errors.New("server does not offer STARTTLS")

// connect dials the server, says EHLO and sets up TLS as the mode asks. Closing the
// connection when ctx ends makes every blocked read or write return, so no step can
// outlive ctx.
func (s *SMTP) connect(ctx context.Context) (*session, error) {
	addr := net.JoinHostPort(s.host, s.port)
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	if s.TLSConfig != nil {
		tlsConfig = s.TLSConfig.Clone()
	}
	if tlsConfig.ServerName == "" {
		tlsConfig.ServerName = s.host
	}
	netDial := s.netDial
	if netDial == nil {
		netDial = (&net.Dialer{Timeout: 30 * time.Second}).DialContext
	}
	dial := func() (net.Conn, func() bool, error) {
		raw, err := netDial(ctx, "tcp", addr)
		if err != nil {
			return nil, nil, err
		}
		stop := context.AfterFunc(ctx, func() { raw.Close() })
		if s.mode != TLSImplicit {
			return raw, stop, nil
		}
		conn := tls.Client(raw, tlsConfig)
		if err := conn.HandshakeContext(ctx); err != nil {
			stop()
			raw.Close()
			return nil, nil, err
		}
		return conn, stop, nil
	}
	limit := func(c *smtp.Client) *smtp.Client {
		// ctx closing the connection is what ends a hung step; these per-command
		// timeouts (go-smtp's default is minutes) are only a backstop, a little later,
		// so that the error reported is ctx's.
		if d, ok := ctx.Deadline(); ok {
			c.CommandTimeout = time.Until(d) + time.Second
			c.SubmissionTimeout = c.CommandTimeout
		}
		return c
	}

	conn, stop, err := dial()
	if err != nil {
		return nil, err
	}
	var c *smtp.Client
	switch s.mode {
	case TLSImplicit, TLSOff:
		c = limit(smtp.NewClient(conn))
	case TLSRequired, TLSOpportunistic:
		c, err = smtp.NewClientStartTLS(conn, tlsConfig) // says EHLO, then STARTTLS if offered
		if err != nil {
			stop()
			if !startTLSNotOffered(err) {
				return nil, err
			}
			if s.mode == TLSRequired {
				return nil, errNoStartTLS
			}
			// Opportunistic: go on in plaintext, on a new connection (go-smtp offers
			// no way to continue on the old one after probing for STARTTLS).
			if conn, stop, err = dial(); err != nil {
				return nil, err
			}
			c = smtp.NewClient(conn)
		}
		limit(c)
	}
	sess := &session{Client: c, stop: stop}
	if err := c.Hello("localhost"); err != nil { // completes the TLS handshake after STARTTLS
		sess.Close()
		return nil, err
	}
	return sess, nil
}

// startTLSNotOffered reports whether NewClientStartTLS failed only because the
// server did not advertise STARTTLS: greeting and EHLO succeeded (else the error
// would be an SMTP reply or a network error) and STARTTLS was never sent.
func startTLSNotOffered(err error) bool {
	var se *smtp.SMTPError
	var ne net.Error
	return !errors.As(err, &se) && !errors.As(err, &ne) && strings.Contains(err.Error(), "STARTTLS")
}

// authenticate logs in if the URL has credentials. It refuses to send them in
// plaintext, except to a loopback host or when the URL says starttls=off.
func (s *SMTP) authenticate(c *session) error {
	if !s.auth {
		return nil
	}
	if _, isTLS := c.TLSConnectionState(); !isTLS && s.mode != TLSOff && !isLoopback(s.host) {
		return errors.New("server did not offer STARTTLS; refusing to send credentials in plaintext (use starttls=required, or starttls=off to allow it)")
	}
	if ok, _ := c.Extension("AUTH"); !ok {
		return errors.New("server does not offer AUTH but the SMTP URL has credentials")
	}
	var client sasl.Client
	switch {
	case c.SupportsAuth(sasl.Plain):
		client = sasl.NewPlainClient("", s.user, s.pass)
	case c.SupportsAuth(sasl.Login):
		client = sasl.NewLoginClient(s.user, s.pass)
	default:
		return errors.New("server offers neither AUTH PLAIN nor AUTH LOGIN")
	}
	if err := c.Auth(client); err != nil {
		return fmt.Errorf("authentication failed: %w", err)
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
