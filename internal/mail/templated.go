package mail

import "context"

// Templated renders a kind of email and sends it: the Mailer that features (identity,
// account) declare and the worker jobs call.
type Templated struct {
	Renderer *Renderer
	Sender   Sender
}

// Mail renders kind for to with data and sends it.
func (t Templated) Mail(ctx context.Context, kind, to string, data any) error {
	m, err := t.Renderer.Render(kind, to, data)
	if err != nil {
		return err
	}
	return t.Sender.Send(ctx, m)
}
