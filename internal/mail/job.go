package mail

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/riverqueue/river"

	"github.com/coditect/coditect/internal/coditect"
)

// SendArgs is the job that renders and sends one email inside a tenant; register
// SendWorker with worker.AddTenant. Job arguments are stored in the database, so Data
// holds only non-secret fields and Template must be a kind that carries no token
// (today: KindWelcome). Build it with NewSendArgs, which checks both.
//
// Emails that carry a token (KindVerifyEmail, KindPasswordReset, KindInvitation) are
// never sent through SendArgs: the feature that owns the token enqueues its own job
// kind holding only ids, and that job's worker mints the token when it runs, renders
// with Renderer.Render and sends with a Sender — so the token exists only in memory
// and in the email.
type SendArgs struct {
	coditect.TenantJob
	Template string          `json:"template"` // the email kind, e.g. KindWelcome
	To       string          `json:"to"`
	Data     json.RawMessage `json:"data"` // the kind's data struct as JSON, e.g. WelcomeData
}

// Kind implements coditect.Job.
func (SendArgs) Kind() string { return "mail.send" }

// InsertOpts gives mail ten attempts, spread over hours by River's backoff, so an
// SMTP outage delays mail rather than losing it.
func (SendArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: sendAttempts} }

// SystemSendArgs is SendArgs for mail that belongs to no tenant (for example to an
// account before it joins an organization); register SystemSendWorker with
// worker.AddSystem. The same rule holds: no secrets in Data.
type SystemSendArgs struct {
	Template string          `json:"template"`
	To       string          `json:"to"`
	Data     json.RawMessage `json:"data"`
}

// Kind implements coditect.Job.
func (SystemSendArgs) Kind() string { return "mail.send_system" }

// InsertOpts gives mail ten attempts, as for SendArgs.
func (SystemSendArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: sendAttempts}
}

const sendAttempts = 10

var _ coditect.TenantBoundJob = (*SendArgs)(nil)

// NewSendArgs builds the arguments of a tenant mail job; the store binds the tenant
// when it enqueues. It fails for an unknown kind, a kind that carries a token, data
// that is not the kind's data struct, or a bad recipient.
func NewSendArgs(kind, to string, data any) (SendArgs, error) {
	raw, err := jobData(kind, to, data)
	if err != nil {
		return SendArgs{}, err
	}
	return SendArgs{Template: kind, To: to, Data: raw}, nil
}

// NewSystemSendArgs builds the arguments of a mail job that belongs to no tenant,
// with the same checks as NewSendArgs.
func NewSystemSendArgs(kind, to string, data any) (SystemSendArgs, error) {
	raw, err := jobData(kind, to, data)
	if err != nil {
		return SystemSendArgs{}, err
	}
	return SystemSendArgs{Template: kind, To: to, Data: raw}, nil
}

func jobData(kind, to string, data any) (json.RawMessage, error) {
	spec, ok := lookupKind(kind)
	if !ok {
		return nil, fmt.Errorf("mail: unknown kind %q", kind)
	}
	if spec.secret {
		return nil, fmt.Errorf("mail: kind %q carries a token: enqueue a job that mints it at send time instead of SendArgs", kind)
	}
	if _, err := check(Message{To: to, Subject: "-", Text: "-"}); err != nil {
		return nil, err
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("mail: encode %s data: %w", kind, err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(spec.newData()); err != nil {
		return nil, fmt.Errorf("mail: %s data: %w", kind, err)
	}
	return raw, nil
}

// SendWorker works SendArgs: it renders the email and sends it. A permanent failure
// (an invalid message, a 5xx reply, bad arguments) cancels the job; any other error
// is returned, so River retries it with backoff.
type SendWorker struct {
	river.WorkerDefaults[SendArgs]
	Sender   Sender
	Renderer *Renderer
}

// Work implements river.Worker.
func (w *SendWorker) Work(ctx context.Context, job *river.Job[SendArgs]) error {
	return deliver(ctx, w.Sender, w.Renderer, job.Args.Template, job.Args.To, job.Args.Data)
}

// SystemSendWorker works SystemSendArgs, like SendWorker.
type SystemSendWorker struct {
	river.WorkerDefaults[SystemSendArgs]
	Sender   Sender
	Renderer *Renderer
}

// Work implements river.Worker.
func (w *SystemSendWorker) Work(ctx context.Context, job *river.Job[SystemSendArgs]) error {
	return deliver(ctx, w.Sender, w.Renderer, job.Args.Template, job.Args.To, job.Args.Data)
}

func deliver(ctx context.Context, s Sender, r *Renderer, kind, to string, data json.RawMessage) error {
	if s == nil || r == nil {
		return errors.New("mail: worker has no Sender or Renderer") // a wiring bug; retry after the fix
	}
	m, err := r.renderJSON(kind, to, data)
	if err != nil {
		return river.JobCancel(err) // the arguments will not get better
	}
	if err := s.Send(ctx, m); err != nil {
		if errors.Is(err, ErrPermanent) {
			return river.JobCancel(err)
		}
		return err
	}
	return nil
}
