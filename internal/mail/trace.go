package mail

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Traced wraps s so every Send is a client span ("mail send") under the caller's span.
// Recipients, subject and body are not recorded: they are personal data (and links
// in them are credentials).
func Traced(s Sender, tracer trace.Tracer) Sender { return tracedSender{next: s, tracer: tracer} }

type tracedSender struct {
	next   Sender
	tracer trace.Tracer
}

func (t tracedSender) Send(ctx context.Context, m Message) error {
	ctx, span := t.tracer.Start(ctx, "mail send", trace.WithSpanKind(trace.SpanKindClient))
	defer span.End()
	if s, ok := t.next.(*SMTP); ok {
		span.SetAttributes(attribute.String("server.address", s.host), attribute.String("server.port", s.port))
	}
	err := t.next.Send(ctx, m)
	if err != nil {
		// Not the error text: a server's rejection often quotes the recipient.
		span.SetStatus(codes.Error, "send failed")
		span.SetAttributes(attribute.Bool("mail.temporary", errors.Is(err, ErrTemporary)))
	}
	return err
}
