// Package mail sends the platform's outbound email: a Message is rendered from an
// embedded template (Renderer), turned into one MIME message, and handed to a Sender —
// SMTP in production, FileSender (.eml files) in local development. SendWorker is the
// River job that renders and sends non-secret mail in the background.
//
// Mail that carries a secret (an email-verification, password-reset or invitation
// link) must never be enqueued as SendArgs: job arguments are stored in the database.
// The feature that owns the secret enqueues its own job kind holding only ids, and that
// job's worker mints the token at send time and uses Renderer and Sender directly.
package mail

import (
	"context"
	"errors"
)

// Message is one email to one recipient. To may be a bare address or a name and an
// address ("Ada Lovelace <ada@example.com>"). At least one of Text and HTML is set;
// with both, the message is multipart/alternative.
type Message struct {
	To      string
	Subject string
	Text    string
	HTML    string
}

// Sender delivers a Message. Errors wrap ErrTemporary (retry later) or ErrPermanent
// (retrying cannot help).
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// The classes of send failure; test with errors.Is.
var (
	// ErrTemporary means the message may be delivered if sent again later: a network
	// failure, a timeout, a 4xx SMTP reply, or a server that is misconfigured or down.
	ErrTemporary = errors.New("temporary mail failure")
	// ErrPermanent means the server refused this message for good (a 5xx reply to
	// MAIL, RCPT or DATA) or the message itself is invalid; do not retry it.
	ErrPermanent = errors.New("permanent mail failure")
	// ErrInvalidMessage means the Message cannot be sent as it is (a line break in a
	// header, a bad address, no body). Errors that match it also match ErrPermanent.
	ErrInvalidMessage = errors.New("invalid mail message")
)

// failure is a send error with its class (ErrTemporary, ErrPermanent or
// ErrInvalidMessage) and its underlying cause.
type failure struct {
	class error
	msg   string
	err   error
}

func (f *failure) Error() string {
	if f.err != nil {
		return "mail: " + f.class.Error() + ": " + f.msg + ": " + f.err.Error()
	}
	return "mail: " + f.class.Error() + ": " + f.msg
}

// Is makes an invalid message count as a permanent failure too.
func (f *failure) Is(target error) bool {
	return target == f.class || (f.class == ErrInvalidMessage && target == ErrPermanent)
}

func (f *failure) Unwrap() error { return f.err }

func temporary(msg string, err error) error { return &failure{class: ErrTemporary, msg: msg, err: err} }
func permanent(msg string, err error) error { return &failure{class: ErrPermanent, msg: msg, err: err} }
func invalid(msg string) error              { return &failure{class: ErrInvalidMessage, msg: msg} }
