package web

import (
	"io/fs"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFSAlwaysHasAnIndex(t *testing.T) {
	t.Parallel()
	fsys := FS()
	require.True(t, Built(fsys))
	b, err := fs.ReadFile(fsys, "index.html")
	require.NoError(t, err)
	require.Contains(t, string(b), "<html")
}

func TestPlaceholderSaysHowToBuild(t *testing.T) {
	t.Parallel()
	b, err := fs.ReadFile(placeholderFS{}, "index.html")
	require.NoError(t, err)
	require.Contains(t, string(b), "make web")
	_, err = fs.ReadFile(placeholderFS{}, "assets/app.js")
	require.ErrorIs(t, err, fs.ErrNotExist)
}
