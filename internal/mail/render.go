package mail

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"
	"time"
	"unicode/utf8"
)

// The kinds of email the Renderer knows. Each has templates/<kind>.txt (which also
// defines the "subject" template) and templates/<kind>.html (which defines
// "content", wrapped in templates/layout.html).
const (
	KindWelcome       = "welcome"        // data: WelcomeData
	KindVerifyEmail   = "verify_email"   // data: VerifyEmailData; carries a token
	KindPasswordReset = "password_reset" // data: PasswordResetData; carries a token
	KindInvitation    = "invitation"     // data: InvitationData; carries a token
	KindWeeklyReport  = "weekly_report"  // data: WeeklyReportData
	KindBillingNotice = "billing_notice" // data: BillingNoticeData
)

// WelcomeData fills the welcome email. It holds no secret, so it may travel in
// SendArgs.
type WelcomeData struct {
	Name             string `json:"name"`
	OrganizationName string `json:"organization_name"`
	LoginURL         string `json:"login_url"`
}

// VerifyEmailData fills the email-address verification email. VerifyURL holds a
// token: build it at send time, never store it in job arguments.
type VerifyEmailData struct {
	Name      string        `json:"name"`
	VerifyURL string        `json:"-"`
	ExpiresIn time.Duration `json:"expires_in"`
}

// PasswordResetData fills the password-reset email. ResetURL holds a token: build it
// at send time, never store it in job arguments.
type PasswordResetData struct {
	Name      string        `json:"name"`
	ResetURL  string        `json:"-"`
	ExpiresIn time.Duration `json:"expires_in"`
}

// InvitationData fills the invitation to join an organization. AcceptURL holds a
// token: build it at send time, never store it in job arguments.
type InvitationData struct {
	InviterName      string        `json:"inviter_name"`
	OrganizationName string        `json:"organization_name"`
	Role             string        `json:"role"`
	AcceptURL        string        `json:"-"`
	ExpiresIn        time.Duration `json:"expires_in"`
}

// WeeklyReportData fills the weekly activity summary sent to an organization's admins.
type WeeklyReportData struct {
	Name             string `json:"name"`
	OrganizationName string `json:"organization_name"`
	Week             string `json:"week"`      // "2026-W17"
	FirstDay         string `json:"first_day"` // "2026-04-20"
	LastDay          string `json:"last_day"`  // "2026-04-26"
	TasksCreated     int64  `json:"tasks_created"`
	TasksCompleted   int64  `json:"tasks_completed"`
	ActiveMembers    int64  `json:"active_members"`
	URL              string `json:"url"`
}

// BillingNoticeData fills an email to an organization's owners about its billing:
// Reason "payment_failed" (Date: when the plan falls back to free unless paid) or
// "trial_will_end" (Date: the trial's last day).
type BillingNoticeData struct {
	OrganizationName string `json:"organization_name"`
	Reason           string `json:"reason"`
	Date             string `json:"date"` // "2026-04-20"
	URL              string `json:"url"`  // where to manage billing
}

// kindSpec describes one kind: whether its email carries a secret (and so must be
// composed at send time, never from SendArgs) and the type its JSON data decodes to.
type kindSpec struct {
	name    string
	secret  bool
	newData func() any
}

func kindSpecs() []kindSpec {
	return []kindSpec{
		{KindWelcome, false, func() any { return new(WelcomeData) }},
		{KindVerifyEmail, true, func() any { return new(VerifyEmailData) }},
		{KindPasswordReset, true, func() any { return new(PasswordResetData) }},
		{KindInvitation, true, func() any { return new(InvitationData) }},
		{KindWeeklyReport, false, func() any { return new(WeeklyReportData) }},
		{KindBillingNotice, false, func() any { return new(BillingNoticeData) }},
	}
}

func lookupKind(kind string) (kindSpec, bool) {
	for _, k := range kindSpecs() {
		if k.name == kind {
			return k, true
		}
	}
	return kindSpec{}, false
}

//go:embed templates/*
var templateFS embed.FS

// maxSubjectRunes caps a rendered subject; longer ones (a very long organization
// name, say) are cut with an ellipsis rather than failing to send.
const maxSubjectRunes = 150

// Renderer turns a kind and its data into a Message. Templates are parsed once, by
// NewRenderer; a Renderer is safe for concurrent use.
type Renderer struct {
	kinds map[string]kindTemplates
}

type kindTemplates struct {
	spec kindSpec
	text *texttemplate.Template // the body; "subject" is defined in the same file
	html *htmltemplate.Template // "layout" wrapping this kind's "content"
}

// NewRenderer parses the embedded templates.
func NewRenderer() (*Renderer, error) {
	funcs := map[string]any{"expiry": expiry, "button": button}
	r := &Renderer{kinds: map[string]kindTemplates{}}
	for _, k := range kindSpecs() {
		text, err := texttemplate.New(k.name+".txt").Funcs(funcs).Option("missingkey=error").
			ParseFS(templateFS, "templates/"+k.name+".txt")
		if err != nil {
			return nil, fmt.Errorf("mail: parse %s.txt: %w", k.name, err)
		}
		if text.Lookup("subject") == nil {
			return nil, fmt.Errorf("mail: %s.txt defines no subject", k.name)
		}
		html, err := htmltemplate.New("layout.html").Funcs(funcs).Option("missingkey=error").
			ParseFS(templateFS, "templates/layout.html", "templates/"+k.name+".html")
		if err != nil {
			return nil, fmt.Errorf("mail: parse %s.html: %w", k.name, err)
		}
		r.kinds[k.name] = kindTemplates{spec: k, text: text, html: html}
	}
	return r, nil
}

// Render builds the Message of the given kind for recipient to. data is the kind's
// data struct (e.g. WelcomeData) or a map with the same fields; a missing field is an
// error. The HTML part is escaped by html/template; the text part is plain text.
func (r *Renderer) Render(kind, to string, data any) (Message, error) {
	t, ok := r.kinds[kind]
	if !ok {
		return Message{}, fmt.Errorf("mail: unknown kind %q", kind)
	}
	var subject, text, html bytes.Buffer
	if err := t.text.ExecuteTemplate(&subject, "subject", data); err != nil {
		return Message{}, fmt.Errorf("mail: render %s subject: %w", kind, err)
	}
	m := Message{To: to, Subject: cleanSubject(subject.String())}
	if err := t.text.Execute(&text, data); err != nil {
		return Message{}, fmt.Errorf("mail: render %s text: %w", kind, err)
	}
	page := struct {
		Subject string
		Data    any
	}{m.Subject, data}
	if err := t.html.ExecuteTemplate(&html, "layout", page); err != nil {
		return Message{}, fmt.Errorf("mail: render %s html: %w", kind, err)
	}
	m.Text, m.HTML = text.String(), html.String()
	return m, nil
}

// renderJSON renders a kind that carries no secret from JSON data, as stored in job
// arguments. Unknown fields are an error, so a secret cannot slip in unnoticed.
func (r *Renderer) renderJSON(kind, to string, raw json.RawMessage) (Message, error) {
	spec, ok := lookupKind(kind)
	if !ok {
		return Message{}, fmt.Errorf("mail: unknown kind %q", kind)
	}
	if spec.secret {
		return Message{}, fmt.Errorf("mail: kind %q carries a token and must be composed when sent, not from job arguments", kind)
	}
	data := spec.newData()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(data); err != nil {
		return Message{}, fmt.Errorf("mail: decode %s data: %w", kind, err)
	}
	return r.Render(kind, to, data)
}

// cleanSubject puts a rendered subject on one line with single spaces (a name with a
// line break in it must not become a header injection) and caps its length.
func cleanSubject(s string) string {
	s = strings.Join(strings.FieldsFunc(s, func(r rune) bool {
		return r == ' ' || r == '\t' || r == '\r' || r == '\n' || r < ' ' || r == 0x7f || r == '\u2028' || r == '\u2029'
	}), " ")
	if utf8.RuneCountInString(s) > maxSubjectRunes {
		s = strings.TrimSpace(string([]rune(s)[:maxSubjectRunes-1])) + "…"
	}
	return s
}

// button is the argument of the layout's "button" template: a call-to-action link.
func button(url, label string) struct{ URL, Label string } {
	return struct{ URL, Label string }{url, label}
}

var errNoExpiry = errors.New("ExpiresIn must be positive")

// expiry formats how long a link stays valid: "30 minutes", "24 hours", "7 days".
func expiry(v any) (string, error) {
	var d time.Duration
	switch v := v.(type) {
	case time.Duration:
		d = v
	case string:
		if v == "" {
			return "", errNoExpiry
		}
		return v, nil
	default:
		return "", fmt.Errorf("ExpiresIn: want a time.Duration, got %T", v)
	}
	plural := func(n int64, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return fmt.Sprintf("%d %ss", n, unit)
	}
	switch {
	case d <= 0:
		return "", errNoExpiry
	case d >= 48*time.Hour && d%(24*time.Hour) == 0:
		return plural(int64(d/(24*time.Hour)), "day"), nil
	case d%time.Hour == 0:
		return plural(int64(d/time.Hour), "hour"), nil
	case d >= time.Minute:
		return plural(int64(d.Round(time.Minute)/time.Minute), "minute"), nil
	default:
		return plural(int64(d.Round(time.Second)/time.Second), "second"), nil
	}
}
