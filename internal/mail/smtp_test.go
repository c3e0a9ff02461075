package mail_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	netmail "net/mail"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/mail"
)

const testFrom = "CODITECT <no-reply@coditect.test>"

func smtpURL(ts *testServer, query string) string {
	u := "smtp://" + testUser + ":" + testPassURL + "@" + ts.Addr
	if query != "" {
		u += "?" + query
	}
	return u
}

func newSMTP(t *testing.T, rawURL string) *mail.SMTP {
	t.Helper()
	s, err := mail.NewSMTP(rawURL, testFrom)
	require.NoError(t, err)
	return s
}

var sample = mail.Message{
	To:      "Zoë Example <zoe@example.com>",
	Subject: "Grüße — welcome to CODITECT",
	Text:    "Hello Zoë,\nyour link: https://app.example.com/x?a=1&b=2\n",
	HTML:    `<p lang="de">Hallo Zoë, <a href="https://app.example.com/x?a=1&amp;b=2">go</a></p>`,
}

// parsed is a received message taken apart with net/mail and mime/multipart.
type parsed struct {
	Header    netmail.Header
	Subject   string
	Parts     map[string]string // content type → decoded body, line breaks as LF
	Encodings map[string]string // content type → Content-Transfer-Encoding
}

func parse(t *testing.T, raw []byte) parsed {
	t.Helper()
	require.NotContains(t, strings.ReplaceAll(string(raw), "\r\n", ""), "\n", "every line ends in CRLF")
	require.NotContains(t, strings.ReplaceAll(string(raw), "\r\n", ""), "\r", "every line ends in CRLF")
	m, err := netmail.ReadMessage(bytes.NewReader(raw))
	require.NoError(t, err)
	subject, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	require.NoError(t, err)
	p := parsed{Header: m.Header, Subject: subject, Parts: map[string]string{}, Encodings: map[string]string{}}

	mediaType, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	require.NoError(t, err)
	add := func(ct, cte string, body io.Reader) {
		typ, params, err := mime.ParseMediaType(ct)
		require.NoError(t, err)
		require.Equal(t, "utf-8", params["charset"])
		require.Equal(t, "quoted-printable", cte)
		b, err := io.ReadAll(quotedprintable.NewReader(body))
		require.NoError(t, err)
		p.Parts[typ] = strings.ReplaceAll(string(b), "\r\n", "\n")
		p.Encodings[typ] = cte
	}
	if mediaType != "multipart/alternative" {
		add(m.Header.Get("Content-Type"), m.Header.Get("Content-Transfer-Encoding"), m.Body)
		return p
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		part, err := mr.NextRawPart() // raw: keep the transfer encoding to check it
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		add(part.Header.Get("Content-Type"), part.Header.Get("Content-Transfer-Encoding"), part)
	}
	return p
}

func TestSMTPSendsMultipartMessage(t *testing.T) {
	t.Parallel()
	ts := startServer(t, serverOpts{})
	s := newSMTP(t, smtpURL(ts, "from=Platform+%3Cmail%40platform.test%3E"))

	require.NoError(t, s.Send(context.Background(), sample))

	msgs := ts.Messages()
	require.Len(t, msgs, 1)
	got := msgs[0]
	require.Equal(t, testUser, got.User)
	require.Equal(t, testPass, got.Password)
	require.Equal(t, "mail@platform.test", got.From, "?from= overrides the default sender")
	require.Equal(t, []string{"zoe@example.com"}, got.To)
	require.False(t, got.TLS, "the test server offers no STARTTLS")

	p := parse(t, got.Data)
	from, err := p.Header.AddressList("From")
	require.NoError(t, err)
	require.Equal(t, []*netmail.Address{{Name: "Platform", Address: "mail@platform.test"}}, from)
	to, err := p.Header.AddressList("To")
	require.NoError(t, err)
	require.Equal(t, []*netmail.Address{{Name: "Zoë Example", Address: "zoe@example.com"}}, to)
	require.Equal(t, sample.Subject, p.Subject)
	require.Contains(t, p.Header.Get("Subject"), "=?utf-8?q?", "non-ASCII subject is RFC 2047 encoded")
	require.Regexp(t, `^<[0-9a-f]{32}@platform\.test>$`, p.Header.Get("Message-Id"))
	date, err := p.Header.Date()
	require.NoError(t, err)
	require.WithinDuration(t, time.Now(), date, time.Minute)
	require.Equal(t, "1.0", p.Header.Get("Mime-Version"))
	require.Equal(t, map[string]string{
		"text/plain": strings.ReplaceAll(sample.Text, "\r\n", "\n"),
		"text/html":  sample.HTML + "\n",
	}, p.Parts)
}

func TestSMTPSingleParts(t *testing.T) {
	t.Parallel()
	ts := startServer(t, serverOpts{})
	s := newSMTP(t, smtpURL(ts, ""))
	ctx := context.Background()

	require.NoError(t, s.Send(ctx, mail.Message{To: "a@example.com", Subject: "Plain", Text: "only text\n"}))
	require.NoError(t, s.Send(ctx, mail.Message{To: "a@example.com", Subject: "Rich", HTML: "<p>only html</p>\n"}))

	msgs := ts.Messages()
	require.Len(t, msgs, 2)
	require.Equal(t, "no-reply@coditect.test", msgs[0].From, "the default sender")
	p := parse(t, msgs[0].Data)
	require.Equal(t, "Plain", p.Header.Get("Subject"), "ASCII subjects stay as they are")
	require.Equal(t, map[string]string{"text/plain": "only text\n"}, p.Parts)
	p = parse(t, msgs[1].Data)
	require.Equal(t, map[string]string{"text/html": "<p>only html</p>\n"}, p.Parts)
}

func TestSMTPLongLinesAreWrappedAndFolded(t *testing.T) {
	t.Parallel()
	ts := startServer(t, serverOpts{})
	s := newSMTP(t, smtpURL(ts, ""))
	subject := strings.Repeat("Größe ", 60)[:300]
	text := strings.Repeat("x", 2000) + "\n"
	require.NoError(t, s.Send(context.Background(), mail.Message{To: "a@example.com", Subject: subject, Text: text}))

	raw := ts.Messages()[0].Data
	for _, line := range strings.Split(string(raw), "\r\n") {
		require.LessOrEqual(t, len(line), 78)
	}
	p := parse(t, raw)
	require.Equal(t, subject, p.Subject)
	require.Equal(t, text, p.Parts["text/plain"])
}

func TestSMTPClassifiesFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		opts      serverOpts
		permanent bool
		code      int
	}{
		{"451 on RCPT", serverOpts{RcptErr: &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}}, false, 451},
		{"452 after DATA", serverOpts{DataErr: &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 3, 1}, Message: "mailbox full"}}, false, 452},
		{"550 on RCPT", serverOpts{RcptErr: &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}}, true, 550},
		{"554 after DATA", serverOpts{DataErr: &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "rejected as spam"}}, true, 554},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts := startServer(t, tt.opts)
			err := newSMTP(t, smtpURL(ts, "")).Send(context.Background(), sample)
			require.Error(t, err)
			require.Equal(t, tt.permanent, errors.Is(err, mail.ErrPermanent), err)
			require.Equal(t, !tt.permanent, errors.Is(err, mail.ErrTemporary), err)
			var se *smtp.SMTPError
			require.ErrorAs(t, err, &se)
			require.Equal(t, tt.code, se.Code)
			require.Empty(t, ts.Messages())
		})
	}
}

func TestSMTPBadCredentialsAreTemporary(t *testing.T) {
	t.Parallel()
	// A rejected login is the operator's to fix, not the message's fault: the job
	// should wait for the fix rather than drop the email.
	ts := startServer(t, serverOpts{})
	s := newSMTP(t, "smtp://"+testUser+":wrong@"+ts.Addr)
	err := s.Send(context.Background(), sample)
	require.ErrorIs(t, err, mail.ErrTemporary)
	require.NotErrorIs(t, err, mail.ErrPermanent)
	var se *smtp.SMTPError
	require.ErrorAs(t, err, &se)
	require.Equal(t, 535, se.Code)
	require.NotContains(t, err.Error(), "wrong")
}

func TestSMTPHungServerHonoursContext(t *testing.T) {
	t.Parallel()
	t.Run("silent after connect", func(t *testing.T) {
		t.Parallel()
		addr := startSilentServer(t)
		s := newSMTP(t, "smtp://"+addr)
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		err := s.Send(ctx, sample)
		require.ErrorIs(t, err, mail.ErrTemporary)
		require.ErrorIs(t, err, context.DeadlineExceeded)
	})
	t.Run("silent after DATA", func(t *testing.T) {
		t.Parallel()
		ts := startServer(t, serverOpts{HangData: true})
		s := newSMTP(t, smtpURL(ts, ""))
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		err := s.Send(ctx, sample)
		require.ErrorIs(t, err, mail.ErrTemporary)
		require.ErrorIs(t, err, context.DeadlineExceeded)
	})
	t.Run("own timeout without a ctx deadline", func(t *testing.T) {
		t.Parallel()
		addr := startSilentServer(t)
		s := newSMTP(t, "smtp://"+addr)
		s.Timeout = 200 * time.Millisecond
		err := s.Send(context.Background(), sample)
		require.ErrorIs(t, err, mail.ErrTemporary)
		require.ErrorIs(t, err, context.DeadlineExceeded)
	})
	t.Run("cancelled", func(t *testing.T) {
		t.Parallel()
		addr := startSilentServer(t)
		s := newSMTP(t, "smtp://"+addr)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := s.Send(ctx, sample)
		require.ErrorIs(t, err, mail.ErrTemporary)
		require.ErrorIs(t, err, context.Canceled)
	})
}

func TestSMTPRejectsHeaderInjection(t *testing.T) {
	t.Parallel()
	ts := startServer(t, serverOpts{})
	s := newSMTP(t, smtpURL(ts, ""))
	bad := []mail.Message{
		{To: "zoe@example.com\r\nBcc: victim@example.com", Subject: "Hi", Text: "x"},
		{To: "zoe@example.com\nBcc: victim@example.com", Subject: "Hi", Text: "x"},
		{To: "zoe@example.com", Subject: "Hi\r\nBcc: victim@example.com", Text: "x"},
		{To: "zoe@example.com", Subject: "Hi\rBcc: victim@example.com", Text: "x"},
		{To: "zoe@example.com", Subject: "Hi\x00", Text: "x"},
		{To: "not an address", Subject: "Hi", Text: "x"},
		{To: "", Subject: "Hi", Text: "x"},
		{To: "zoe@example.com", Subject: "", Text: "x"},
		{To: "zoe@example.com", Subject: "Hi"},
		{To: "zoe@example.com", Subject: strings.Repeat("x", 600), Text: "x"},
	}
	for _, m := range bad {
		err := s.Send(context.Background(), m)
		require.ErrorIs(t, err, mail.ErrInvalidMessage, "%q", m)
		require.ErrorIs(t, err, mail.ErrPermanent, "%q", m)
	}
	require.Empty(t, ts.Messages())
	require.Empty(t, ts.Logins(), "an invalid message never reaches the server")
}

func TestNewSMTPValidatesURL(t *testing.T) {
	t.Parallel()
	const secret = "hunter2-s3cret"
	bad := []string{
		"",
		"smtp://",
		"http://user:" + secret + "@mail.example.com",
		"smtp://user:" + secret + "@mail.example.com:notaport",
		"smtp://user:" + secret + "@mail.example.com:0",
		"smtp://user:" + secret + "@mail.example.com:70000",
		"smtp://user:" + secret + "@:25",
		"smtp://user:" + secret + "@mail.example.com/some/path",
		"smtp://user:" + secret + "@mail.example.com?starttls=sometimes",
		"smtp://user:" + secret + "@mail.example.com?starttls=off&starttls=required",
		"smtp://user:" + secret + "@mail.example.com?tls=yes",
		"smtps://user:" + secret + "@mail.example.com?starttls=required",
		"smtp://user:" + secret + "@mail.example.com?from=not-an-address",
		"smtp://user:" + secret + "@mail.example.com?from=a%40b.c%0D%0ABcc:x@y.z",
		"smtp://:" + secret + "@mail.example.com",
		"smtp://user@mail.example.com",
		"smtp://user:" + secret + "@mail.example.com%zz",
		"smtp://user:" + secret + "@mail.example.com?from=%zz",
		"smtp://user:" + secret + "@[::1",
		"smtp://user:" + secret + "@mail.example.com\n",
		"mail.example.com:587",
	}
	for _, u := range bad {
		_, err := mail.NewSMTP(u, "no-reply@example.com")
		require.Error(t, err, u)
		require.NotContains(t, err.Error(), secret, u)
		require.NotContains(t, err.Error(), "hunter2", u)
	}

	_, err := mail.NewSMTP("smtp://mail.example.com", "")
	require.ErrorContains(t, err, "no sender")

	good := map[string]string{
		"smtp://mail.example.com": "smtp://mail.example.com:587 (tls=opportunistic, from=no-reply@example.com)",
		"smtp://user:" + secret + "@mail.example.com:2525?starttls=required": "smtp://user@mail.example.com:2525 (tls=required, from=no-reply@example.com)",
		"smtp://127.0.0.1:1025?starttls=off&from=dev%40localhost.test":       "smtp://127.0.0.1:1025 (tls=off, from=dev@localhost.test)",
		"smtps://user:" + secret + "@mail.example.com":                       "smtps://user@mail.example.com:465 (tls=implicit, from=no-reply@example.com)",
		"smtp://user:" + secret + "@[::1]:25/":                               "smtp://user@[::1]:25 (tls=opportunistic, from=no-reply@example.com)",
	}
	for u, want := range good {
		s, err := mail.NewSMTP(u, "no-reply@example.com")
		require.NoError(t, err, u)
		require.Equal(t, want, s.String())
		require.NotContains(t, fmt.Sprint(s), secret)
	}
}

func TestSMTPStartTLS(t *testing.T) {
	t.Parallel()
	serverTLS, clientTLS := testTLS(t)

	for _, mode := range []string{"required", "opportunistic"} {
		t.Run(mode+" with a server that offers it", func(t *testing.T) {
			t.Parallel()
			ts := startServer(t, serverOpts{TLS: serverTLS})
			s := newSMTP(t, smtpURL(ts, "starttls="+mode))
			s.TLSConfig = clientTLS
			require.NoError(t, s.Send(context.Background(), sample))
			msgs := ts.Messages()
			require.Len(t, msgs, 1)
			require.True(t, msgs[0].TLS)
			require.Equal(t, testPass, msgs[0].Password)
		})
	}

	t.Run("required with a server that does not offer it", func(t *testing.T) {
		t.Parallel()
		ts := startServer(t, serverOpts{})
		s := newSMTP(t, smtpURL(ts, "starttls=required"))
		err := s.Send(context.Background(), sample)
		require.ErrorIs(t, err, mail.ErrTemporary)
		require.ErrorContains(t, err, "STARTTLS")
		require.Empty(t, ts.Logins(), "no credentials without TLS")
		require.Empty(t, ts.Messages())
	})

	t.Run("required with an untrusted certificate", func(t *testing.T) {
		t.Parallel()
		ts := startServer(t, serverOpts{TLS: serverTLS})
		s := newSMTP(t, smtpURL(ts, "starttls=required")) // no RootCAs: the test CA is unknown
		err := s.Send(context.Background(), sample)
		require.ErrorIs(t, err, mail.ErrTemporary)
		require.Empty(t, ts.Logins())
	})

	t.Run("off never upgrades", func(t *testing.T) {
		t.Parallel()
		ts := startServer(t, serverOpts{TLS: serverTLS})
		s := newSMTP(t, smtpURL(ts, "starttls=off"))
		require.NoError(t, s.Send(context.Background(), sample))
		require.False(t, ts.Messages()[0].TLS)
	})
}

func TestSMTPImplicitTLS(t *testing.T) {
	t.Parallel()
	serverTLS, clientTLS := testTLS(t)
	ts := startServer(t, serverOpts{TLS: serverTLS, ImplicitTLS: true})
	s := newSMTP(t, "smtps://"+testUser+":"+testPassURL+"@"+ts.Addr)
	s.TLSConfig = clientTLS
	require.NoError(t, s.Send(context.Background(), sample))
	msgs := ts.Messages()
	require.Len(t, msgs, 1)
	require.True(t, msgs[0].TLS)
	require.Equal(t, testUser, msgs[0].User)
	p := parse(t, msgs[0].Data)
	require.Equal(t, sample.Subject, p.Subject)
}

func TestSMTPConcurrentSends(t *testing.T) {
	t.Parallel()
	ts := startServer(t, serverOpts{})
	s := newSMTP(t, smtpURL(ts, ""))
	errs := make(chan error, 8)
	for i := range 8 {
		go func() {
			m := sample
			m.Subject = fmt.Sprintf("message %d", i)
			errs <- s.Send(context.Background(), m)
		}()
	}
	for range 8 {
		require.NoError(t, <-errs)
	}
	ids := map[string]bool{}
	for _, m := range ts.Messages() {
		id := parse(t, m.Data).Header.Get("Message-Id")
		require.False(t, ids[id], "Message-IDs are unique")
		ids[id] = true
	}
	require.Len(t, ids, 8)
}
