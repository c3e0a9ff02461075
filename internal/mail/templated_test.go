package mail

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestTemplatedRendersMapDataAndSends(t *testing.T) {
	t.Parallel()
	r, err := NewRenderer()
	require.NoError(t, err)
	dir := filepath.Join(t.TempDir(), "mail")
	fs, err := NewFileSender(dir, "CODITECT <no-reply@example.com>", nil)
	require.NoError(t, err)
	m := Templated{Renderer: r, Sender: fs}
	err = m.Mail(context.Background(), KindPasswordReset, "ann@example.com", map[string]any{
		"Name": "Ann", "ResetURL": "https://app.example.com/reset-password?token=abc", "ExpiresIn": time.Hour})
	require.NoError(t, err)
	files, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, files, 1)
	b, err := os.ReadFile(filepath.Join(dir, files[0].Name()))
	require.NoError(t, err)
	require.True(t, strings.Contains(string(b), "reset-password?token=3Dabc") || strings.Contains(string(b), "reset-password?token=abc"))
	require.Error(t, m.Mail(context.Background(), "nope", "ann@example.com", nil))
}
