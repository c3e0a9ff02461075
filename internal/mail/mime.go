package mail

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
	"time"
)

// maxSubjectBytes keeps the Subject header (even RFC 2047-encoded and folded) well
// inside the 998-octet line limit of RFC 5322.
const maxSubjectBytes = 512

// parseFrom parses a sender address such as "CODITECT <no-reply@example.com>".
func parseFrom(from string) (*mail.Address, error) {
	if strings.ContainsAny(from, "\r\n") {
		return nil, fmt.Errorf("from address contains a line break")
	}
	a, err := mail.ParseAddress(from)
	if err != nil || !strings.Contains(a.Address, "@") {
		return nil, fmt.Errorf("from address %q is not an email address", from)
	}
	return a, nil
}

// check validates m and returns its parsed recipient. It rejects anything that could
// inject a header: CR, LF or other control characters in To or Subject.
func check(m Message) (*mail.Address, error) {
	if m.To == "" {
		return nil, invalid("no recipient")
	}
	if hasControl(m.To) {
		return nil, invalid("recipient contains a line break or control character")
	}
	to, err := mail.ParseAddress(m.To)
	if err != nil || !strings.Contains(to.Address, "@") {
		return nil, invalid("recipient is not an email address")
	}
	if strings.TrimSpace(m.Subject) == "" {
		return nil, invalid("no subject")
	}
	if hasControl(m.Subject) {
		return nil, invalid("subject contains a line break or control character")
	}
	if len(m.Subject) > maxSubjectBytes {
		return nil, invalid(fmt.Sprintf("subject longer than %d bytes", maxSubjectBytes))
	}
	if m.Text == "" && m.HTML == "" {
		return nil, invalid("no body: set Text, HTML or both")
	}
	return to, nil
}

// hasControl reports whether s holds a C0 control character (CR and LF included) or
// DEL. Tab is allowed.
func hasControl(s string) bool {
	for _, r := range s {
		if (r < ' ' && r != '\t') || r == 0x7f {
			return true
		}
	}
	return false
}

// build returns m as a complete RFC 5322 message with CRLF line endings: Date,
// Message-ID, From, To and Subject (RFC 2047-encoded when not ASCII), then a
// quoted-printable text/plain and/or text/html body, as multipart/alternative when
// both are set. It also returns the parsed recipient for the SMTP envelope.
func build(from *mail.Address, m Message, now time.Time) ([]byte, *mail.Address, error) {
	to, err := check(m)
	if err != nil {
		return nil, nil, err
	}

	var body bytes.Buffer
	var contentType, encoding string
	switch {
	case m.Text != "" && m.HTML != "":
		mw := multipart.NewWriter(&body)
		for _, p := range []struct{ typ, content string }{{"text/plain", m.Text}, {"text/html", m.HTML}} {
			w, err := mw.CreatePart(textproto.MIMEHeader{
				"Content-Type":              {p.typ + "; charset=utf-8"},
				"Content-Transfer-Encoding": {"quoted-printable"},
			})
			if err != nil {
				return nil, nil, err
			}
			if err := writeQP(w, p.content); err != nil {
				return nil, nil, err
			}
		}
		if err := mw.Close(); err != nil {
			return nil, nil, err
		}
		contentType = mime.FormatMediaType("multipart/alternative", map[string]string{"boundary": mw.Boundary()})
	case m.HTML != "":
		contentType, encoding = "text/html; charset=utf-8", "quoted-printable"
		if err := writeQP(&body, m.HTML); err != nil {
			return nil, nil, err
		}
	default:
		contentType, encoding = "text/plain; charset=utf-8", "quoted-printable"
		if err := writeQP(&body, m.Text); err != nil {
			return nil, nil, err
		}
	}

	var b bytes.Buffer
	header := func(name, value string) { b.WriteString(fold(name + ": " + value)); b.WriteString("\r\n") }
	header("Date", now.Format(time.RFC1123Z))
	header("Message-ID", messageID(from))
	header("From", from.String())
	header("To", to.String())
	header("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	header("MIME-Version", "1.0")
	header("Auto-Submitted", "auto-generated") // RFC 3834: no out-of-office replies, please
	header("Content-Type", contentType)
	if encoding != "" {
		header("Content-Transfer-Encoding", encoding)
	}
	b.WriteString("\r\n")
	b.Write(body.Bytes())
	return b.Bytes(), to, nil
}

// writeQP writes s quoted-printable encoded; line breaks (LF or CRLF) become CRLF.
func writeQP(w interface{ Write([]byte) (int, error) }, s string) error {
	qp := quotedprintable.NewWriter(w)
	if _, err := qp.Write([]byte(s)); err != nil {
		return err
	}
	if err := qp.Close(); err != nil {
		return err
	}
	if !strings.HasSuffix(s, "\n") {
		_, err := w.Write([]byte("\r\n"))
		return err
	}
	return nil
}

// fold breaks a header line at spaces so that lines stay near 78 characters (RFC
// 5322 section 2.2.3); unfolding restores the original.
func fold(line string) string {
	const limit = 78
	if len(line) <= limit {
		return line
	}
	words := strings.Split(line, " ")
	var b strings.Builder
	n := 0
	for i, w := range words {
		switch {
		case i == 0:
		case w != "" && n+1+len(w) > limit:
			b.WriteString("\r\n")
			n = 0
			fallthrough
		default:
			b.WriteByte(' ')
			n++
		}
		b.WriteString(w)
		n += len(w)
	}
	return b.String()
}

// messageID returns a new globally unique Message-ID in the sender's domain.
func messageID(from *mail.Address) string {
	domain := "localhost"
	if at := strings.LastIndexByte(from.Address, '@'); at >= 0 && at < len(from.Address)-1 {
		domain = strings.ToLower(from.Address[at+1:])
	}
	return "<" + randomHex(16) + "@" + domain + ">"
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b)
}
