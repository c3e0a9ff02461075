package mail_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/emersion/go-smtp"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/mail"
)

func welcomeArgs(t *testing.T) mail.SendArgs {
	t.Helper()
	args, err := mail.NewSendArgs(mail.KindWelcome, "Zoë <zoe@example.com>",
		mail.WelcomeData{Name: "Zoë", OrganizationName: "Acme", LoginURL: "https://acme.coditect.test/login"})
	require.NoError(t, err)
	args.BindTenant(coditect.NewID[coditect.TenantID]())
	return args
}

func work(t *testing.T, w *mail.SendWorker, args mail.SendArgs) error {
	t.Helper()
	return w.Work(context.Background(), &river.Job[mail.SendArgs]{JobRow: &rivertype.JobRow{}, Args: args})
}

func TestSendArgs(t *testing.T) {
	t.Parallel()
	args := welcomeArgs(t)
	require.Equal(t, "mail.send", args.Kind())
	require.Equal(t, 10, args.InsertOpts().MaxAttempts)
	b, err := json.Marshal(args)
	require.NoError(t, err)
	var stored map[string]any
	require.NoError(t, json.Unmarshal(b, &stored))
	require.Equal(t, args.TenantID.String(), stored["tenant_id"], "the worker middleware restores the tenant from it")
	require.Equal(t, "welcome", stored["template"])
	require.Equal(t, map[string]any{"name": "Zoë", "organization_name": "Acme", "login_url": "https://acme.coditect.test/login"}, stored["data"])

	sys, err := mail.NewSystemSendArgs(mail.KindWelcome, "a@example.com", mail.WelcomeData{Name: "A", OrganizationName: "B", LoginURL: "https://x.test"})
	require.NoError(t, err)
	require.Equal(t, "mail.send_system", sys.Kind())
	require.Equal(t, 10, sys.InsertOpts().MaxAttempts)

	// Token-bearing kinds cannot be enqueued: their links would be stored in the database.
	for _, kind := range []string{mail.KindVerifyEmail, mail.KindPasswordReset, mail.KindInvitation} {
		_, err := mail.NewSendArgs(kind, "a@example.com", samples[kind])
		require.ErrorContains(t, err, "carries a token", kind)
		_, err = mail.NewSystemSendArgs(kind, "a@example.com", samples[kind])
		require.ErrorContains(t, err, "carries a token", kind)
	}
	_, err = mail.NewSendArgs("newsletter", "a@example.com", nil)
	require.Error(t, err)
	_, err = mail.NewSendArgs(mail.KindWelcome, "a@example.com\r\nBcc: b@example.com", samples[mail.KindWelcome])
	require.ErrorIs(t, err, mail.ErrInvalidMessage)
	_, err = mail.NewSendArgs(mail.KindWelcome, "a@example.com", map[string]string{"name": "A", "reset_url": "https://x.test/?token=t"})
	require.Error(t, err, "fields the kind does not have are refused")
}

func TestSendWorker(t *testing.T) {
	t.Parallel()
	r := newRenderer(t)

	t.Run("renders and sends", func(t *testing.T) {
		t.Parallel()
		ts := startServer(t, serverOpts{})
		w := &mail.SendWorker{Sender: newSMTP(t, smtpURL(ts, "")), Renderer: r}
		require.NoError(t, work(t, w, welcomeArgs(t)))
		msgs := ts.Messages()
		require.Len(t, msgs, 1)
		require.Equal(t, []string{"zoe@example.com"}, msgs[0].To)
		p := parse(t, msgs[0].Data)
		require.Equal(t, "Welcome to CODITECT", p.Subject)
		require.Contains(t, p.Parts["text/plain"], "Your organization Acme is ready.")
		require.Contains(t, p.Parts["text/html"], `href="https://acme.coditect.test/login"`)
	})

	t.Run("temporary failure is retried", func(t *testing.T) {
		t.Parallel()
		ts := startServer(t, serverOpts{RcptErr: &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "later"}})
		w := &mail.SendWorker{Sender: newSMTP(t, smtpURL(ts, "")), Renderer: r}
		err := work(t, w, welcomeArgs(t))
		require.ErrorIs(t, err, mail.ErrTemporary)
		var cancel *river.JobCancelError
		require.False(t, errors.As(err, &cancel), "River retries it")
	})

	t.Run("permanent failure cancels", func(t *testing.T) {
		t.Parallel()
		ts := startServer(t, serverOpts{RcptErr: &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}})
		w := &mail.SendWorker{Sender: newSMTP(t, smtpURL(ts, "")), Renderer: r}
		err := work(t, w, welcomeArgs(t))
		require.ErrorIs(t, err, mail.ErrPermanent)
		var cancel *river.JobCancelError
		require.ErrorAs(t, err, &cancel)
	})

	t.Run("bad arguments cancel without sending", func(t *testing.T) {
		t.Parallel()
		ts := startServer(t, serverOpts{})
		w := &mail.SendWorker{Sender: newSMTP(t, smtpURL(ts, "")), Renderer: r}
		bad := []mail.SendArgs{
			{Template: mail.KindPasswordReset, To: "a@example.com", Data: json.RawMessage(`{"name":"A","expires_in":60000000000}`)},
			{Template: mail.KindWelcome, To: "a@example.com", Data: json.RawMessage(`{"name":"A","organization_name":"B","login_url":"https://x.test","token":"t"}`)},
			{Template: mail.KindWelcome, To: "a@example.com", Data: json.RawMessage(`not json`)},
			{Template: "newsletter", To: "a@example.com", Data: json.RawMessage(`{}`)},
			{Template: mail.KindWelcome, To: "a@example.com\nBcc: b@example.com", Data: welcomeArgs(t).Data},
		}
		for _, args := range bad {
			err := work(t, w, args)
			var cancel *river.JobCancelError
			require.ErrorAs(t, err, &cancel, args.Template)
		}
		require.Empty(t, ts.Messages())
	})
}

func TestSystemSendWorker(t *testing.T) {
	t.Parallel()
	ts := startServer(t, serverOpts{})
	w := &mail.SystemSendWorker{Sender: newSMTP(t, smtpURL(ts, "")), Renderer: newRenderer(t)}
	args, err := mail.NewSystemSendArgs(mail.KindWelcome, "a@example.com", mail.WelcomeData{Name: "A", OrganizationName: "B", LoginURL: "https://x.test"})
	require.NoError(t, err)
	require.NoError(t, w.Work(context.Background(), &river.Job[mail.SystemSendArgs]{JobRow: &rivertype.JobRow{}, Args: args}))
	require.Len(t, ts.Messages(), 1)
}
