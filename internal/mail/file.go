package mail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"os"
	"path/filepath"
	"time"
)

// FileSender is the Sender for local development when no SMTP server is configured:
// it writes each message, exactly as SMTP would send it, to an .eml file that any mail
// client can open. Messages can hold sign-in links, so the directory is private (0700)
// and so is each file (0600); the log line names the file, never the body.
type FileSender struct {
	dir  string
	from *mail.Address
	log  *slog.Logger
}

// NewFileSender returns a FileSender that writes into dir (created 0700 if missing,
// e.g. "./.coditect/mail") with from as the sender address.
func NewFileSender(dir, from string, log *slog.Logger) (*FileSender, error) {
	if dir == "" {
		return nil, errors.New("mail: no directory for mail files")
	}
	f, err := parseFrom(from)
	if err != nil {
		return nil, fmt.Errorf("mail: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("mail: create mail directory: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &FileSender{dir: dir, from: f, log: log}, nil
}

// Dir returns the directory the files are written to.
func (s *FileSender) Dir() string { return s.dir }

// Send writes m to a new file named like 20261122T101500Z-<random>.eml. Write
// failures wrap ErrTemporary; an invalid message wraps ErrInvalidMessage.
func (s *FileSender) Send(ctx context.Context, m Message) error {
	now := time.Now()
	raw, to, err := build(s.from, m, now)
	if err != nil {
		return err
	}
	name := filepath.Join(s.dir, now.UTC().Format("20060102T150405Z")+"-"+randomHex(8)+".eml")
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return temporary("write mail file", err)
	}
	_, err = f.Write(raw)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(name)
		return temporary("write mail file", err)
	}
	s.log.InfoContext(ctx, "mail written to file", "to", to.Address, "subject", m.Subject, "file", name)
	return nil
}
