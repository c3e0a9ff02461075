package mail_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/mail"
)

func TestFileSenderWritesPrivateEML(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), ".coditect", "mail")
	var logs bytes.Buffer
	fs, err := mail.NewFileSender(dir, testFrom, slog.New(slog.NewJSONHandler(&logs, nil)))
	require.NoError(t, err)
	require.Equal(t, dir, fs.Dir())

	info, err := os.Stat(dir)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o700), info.Mode().Perm())

	m := sample
	m.Text = "Reset your password: https://app.example.com/reset?token=tok_SECRET_123\n"
	m.HTML = `<a href="https://app.example.com/reset?token=tok_SECRET_123">Reset</a>`
	require.NoError(t, fs.Send(context.Background(), m))

	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1)
	name := entries[0].Name()
	require.Regexp(t, `^\d{8}T\d{6}Z-[0-9a-f]{16}\.eml$`, name)
	info, err = entries[0].Info()
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())

	raw, err := os.ReadFile(filepath.Join(dir, name))
	require.NoError(t, err)
	p := parse(t, raw)
	require.Equal(t, m.Subject, p.Subject)
	require.Equal(t, m.Text, p.Parts["text/plain"])
	require.Equal(t, m.HTML+"\n", p.Parts["text/html"])
	require.Regexp(t, `^<[0-9a-f]{32}@coditect\.test>$`, p.Header.Get("Message-Id"))

	var line map[string]any
	require.NoError(t, json.Unmarshal(logs.Bytes(), &line), "exactly one log line")
	require.Equal(t, "zoe@example.com", line["to"])
	require.Equal(t, m.Subject, line["subject"])
	require.Equal(t, filepath.Join(dir, name), line["file"])
	require.NotContains(t, logs.String(), "tok_SECRET_123", "the body is never logged")
}

func TestFileSenderRejectsInvalidMessages(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fs, err := mail.NewFileSender(dir, testFrom, nil)
	require.NoError(t, err)
	err = fs.Send(context.Background(), mail.Message{To: "a@example.com", Subject: "x\r\nBcc: b@example.com", Text: "x"})
	require.ErrorIs(t, err, mail.ErrInvalidMessage)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, entries)

	_, err = mail.NewFileSender(dir, "not an address", nil)
	require.Error(t, err)
	_, err = mail.NewFileSender("", testFrom, nil)
	require.Error(t, err)
}
