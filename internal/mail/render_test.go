package mail_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/mail"
)

const evil = `<script>alert("x")</script>`

// samples has data for every kind, with markup in every free-text field.
var samples = map[string]any{
	mail.KindWelcome: mail.WelcomeData{Name: evil, OrganizationName: "Acme " + evil, LoginURL: "https://acme.coditect.test/login"},
	mail.KindVerifyEmail: mail.VerifyEmailData{Name: evil, VerifyURL: "https://coditect.test/verify?token=tok_1&x=2",
		ExpiresIn: 24 * time.Hour},
	mail.KindPasswordReset: mail.PasswordResetData{Name: evil, ResetURL: "https://coditect.test/reset?token=tok_2",
		ExpiresIn: 30 * time.Minute},
	mail.KindInvitation: mail.InvitationData{InviterName: evil, OrganizationName: "Acme & Co", Role: "admin",
		AcceptURL: "https://coditect.test/invitations/accept?token=tok_3", ExpiresIn: 7 * 24 * time.Hour},
	mail.KindBillingNotice: mail.BillingNoticeData{OrganizationName: evil, Reason: "payment_failed", Date: "2026-05-01",
		URL: "https://coditect.test/orgs/acme/billing?x=1&y=2"},
}

func newRenderer(t *testing.T) *mail.Renderer {
	t.Helper()
	r, err := mail.NewRenderer()
	require.NoError(t, err)
	return r
}

func TestRenderEveryKind(t *testing.T) {
	t.Parallel()
	r := newRenderer(t)
	fs, err := mail.NewFileSender(filepath.Join(t.TempDir(), "mail"), testFrom, nil)
	require.NoError(t, err)

	wantSubject := map[string]string{
		mail.KindWelcome:       "Welcome to CODITECT",
		mail.KindVerifyEmail:   "Verify your email address",
		mail.KindPasswordReset: "Reset your CODITECT password",
		mail.KindInvitation:    evil + " invited you to join Acme & Co on CODITECT",
		mail.KindBillingNotice: evil + ": a payment failed",
	}
	wantExpiry := map[string]string{
		mail.KindVerifyEmail:   "expires in 24 hours",
		mail.KindPasswordReset: "expires in 30 minutes",
		mail.KindInvitation:    "expires in 7 days",
	}
	for kind, data := range samples {
		m, err := r.Render(kind, "zoe@example.com", data)
		require.NoError(t, err, kind)
		require.Equal(t, "zoe@example.com", m.To)
		require.Equal(t, wantSubject[kind], m.Subject, kind)

		// HTML: a complete, accessible page; markup from data is escaped.
		require.True(t, strings.HasPrefix(m.HTML, "<!DOCTYPE html>\n<html lang=\"en\""), kind)
		require.Contains(t, m.HTML, "<title>", kind)
		require.NotContains(t, m.HTML, "<script>", kind)
		require.Contains(t, m.HTML, "&lt;script&gt;", kind)

		// Text: plain, so the markup stays literal.
		require.Contains(t, m.Text, evil, kind)
		require.NotContains(t, m.Text, "&lt;", kind)
		require.NotContains(t, m.Text, "<p", kind)

		if want, ok := wantExpiry[kind]; ok {
			require.Contains(t, m.Text, want, kind)
			require.Contains(t, m.HTML, want, kind)
		}

		// The link is in both parts, attribute-escaped in HTML.
		var link string
		switch d := data.(type) {
		case mail.WelcomeData:
			link = d.LoginURL
		case mail.VerifyEmailData:
			link = d.VerifyURL
		case mail.PasswordResetData:
			link = d.ResetURL
		case mail.InvitationData:
			link = d.AcceptURL
		case mail.BillingNoticeData:
			link = d.URL
		}
		require.Contains(t, m.Text, link, kind)
		require.Contains(t, m.HTML, `href="`+strings.ReplaceAll(link, "&", "&amp;")+`"`, kind)

		require.NoError(t, fs.Send(context.Background(), m), "every rendered kind is a sendable message")
	}
}

func TestRenderUnsafeValues(t *testing.T) {
	t.Parallel()
	r := newRenderer(t)

	m, err := r.Render(mail.KindWelcome, "a@example.com", mail.WelcomeData{Name: "A", OrganizationName: "B", LoginURL: "javascript:alert(1)"})
	require.NoError(t, err)
	require.NotContains(t, m.HTML, `href="javascript:`, "html/template neutralizes unsafe URLs")
	require.Contains(t, m.HTML, `href="#ZgotmplZ"`)

	// A line break in a name cannot reach the Subject header.
	m, err = r.Render(mail.KindInvitation, "a@example.com", mail.InvitationData{
		InviterName: "Eve\r\nBcc: victim@example.com", OrganizationName: strings.Repeat("Long ", 100), Role: "member",
		AcceptURL: "https://coditect.test/a", ExpiresIn: time.Hour,
	})
	require.NoError(t, err)
	require.NotContains(t, m.Subject, "\n")
	require.NotContains(t, m.Subject, "\r")
	require.True(t, strings.HasPrefix(m.Subject, "Eve Bcc: victim@example.com invited you to join Long Long"), m.Subject)
	require.LessOrEqual(t, len([]rune(m.Subject)), 150)
	require.True(t, strings.HasSuffix(m.Subject, "…"))
}

func TestRenderErrors(t *testing.T) {
	t.Parallel()
	r := newRenderer(t)

	_, err := r.Render("newsletter", "a@example.com", nil)
	require.ErrorContains(t, err, `unknown kind "newsletter"`)

	_, err = r.Render(mail.KindWelcome, "a@example.com", map[string]any{"Name": "A"})
	require.Error(t, err, "a missing field is an error, not an empty string")

	_, err = r.Render(mail.KindVerifyEmail, "a@example.com", mail.VerifyEmailData{Name: "A", VerifyURL: "https://x.test/v"})
	require.ErrorContains(t, err, "ExpiresIn must be positive")

	_, err = r.Render(mail.KindWelcome, "a@example.com", mail.InvitationData{})
	require.Error(t, err, "the wrong data struct is an error")

	m, err := r.Render(mail.KindWelcome, "a@example.com", map[string]any{"Name": "A", "OrganizationName": "B", "LoginURL": "https://x.test"})
	require.NoError(t, err, "a map with the fields works too")
	require.Contains(t, m.Text, "Hi A,")
}
