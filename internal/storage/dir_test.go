package storage_test

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/storage"
)

func setup(t *testing.T) (*storage.Dir, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "files")
	d, err := storage.NewDir(dir)
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Close() })
	return d, dir
}

func write(t *testing.T, d *storage.Dir, key, body string) {
	t.Helper()
	w, err := d.Create(context.Background(), key)
	require.NoError(t, err)
	_, err = io.WriteString(w, body)
	require.NoError(t, err)
	require.NoError(t, w.Close())
}

func read(t *testing.T, d *storage.Dir, key string) (string, int64) {
	t.Helper()
	r, size, err := d.Open(context.Background(), key)
	require.NoError(t, err)
	defer r.Close()
	b, err := io.ReadAll(r)
	require.NoError(t, err)
	return string(b), size
}

// files lists every file and directory under dir, relative, with its mode.
func files(t *testing.T, dir string) map[string]fs.FileMode {
	t.Helper()
	out := map[string]fs.FileMode{}
	require.NoError(t, filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		require.NoError(t, err)
		if p == dir {
			return nil
		}
		info, err := e.Info()
		require.NoError(t, err)
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = info.Mode()
		return nil
	}))
	return out
}

func TestDirRoundTrip(t *testing.T) {
	t.Parallel()
	d, dir := setup(t)
	ctx := context.Background()

	write(t, d, "exports/t1/a.tar.gz", "hello")
	body, size := read(t, d, "exports/t1/a.tar.gz")
	require.Equal(t, "hello", body)
	require.EqualValues(t, 5, size)

	got := files(t, dir)
	require.Equal(t, map[string]fs.FileMode{
		"exports":             fs.ModeDir | 0o700,
		"exports/t1":          fs.ModeDir | 0o700,
		"exports/t1/a.tar.gz": 0o600,
	}, got, "directories 0700, files 0600, no temporary files left")

	t.Run("create replaces", func(t *testing.T) {
		write(t, d, "exports/t1/b", "one")
		write(t, d, "exports/t1/b", "second")
		body, size := read(t, d, "exports/t1/b")
		require.Equal(t, "second", body)
		require.EqualValues(t, 6, size)
	})

	t.Run("nothing is visible before close", func(t *testing.T) {
		w, err := d.Create(ctx, "exports/t1/c")
		require.NoError(t, err)
		_, err = io.WriteString(w, "partial")
		require.NoError(t, err)
		_, _, err = d.Open(ctx, "exports/t1/c")
		require.ErrorIs(t, err, storage.ErrNotFound)
		require.ErrorIs(t, err, fs.ErrNotExist)
		require.NoError(t, w.Close())
		body, _ := read(t, d, "exports/t1/c")
		require.Equal(t, "partial", body)
	})

	t.Run("abort publishes nothing and keeps the old object", func(t *testing.T) {
		write(t, d, "exports/t1/d", "old")
		w, err := d.Create(ctx, "exports/t1/d")
		require.NoError(t, err)
		_, err = io.WriteString(w, "new but broken")
		require.NoError(t, err)
		require.NoError(t, storage.Abort(w))
		require.NoError(t, w.Close(), "close after abort is a no-op")
		body, _ := read(t, d, "exports/t1/d")
		require.Equal(t, "old", body)
		for name := range files(t, dir) {
			require.NotContains(t, name, ".tmp-", "the temporary file is removed")
		}
	})

	t.Run("a cancelled context publishes nothing", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		w, err := d.Create(cctx, "exports/t1/e")
		require.NoError(t, err)
		_, err = io.WriteString(w, "x")
		require.NoError(t, err)
		cancel()
		require.ErrorIs(t, w.Close(), context.Canceled)
		_, _, err = d.Open(ctx, "exports/t1/e")
		require.ErrorIs(t, err, storage.ErrNotFound)
	})

	t.Run("delete", func(t *testing.T) {
		write(t, d, "exports/t2/x", "x")
		require.NoError(t, d.Delete(ctx, "exports/t2/x"))
		_, _, err := d.Open(ctx, "exports/t2/x")
		require.ErrorIs(t, err, storage.ErrNotFound)
		require.NoError(t, d.Delete(ctx, "exports/t2/x"), "deleting a missing key is fine")
		_, err = os.Stat(filepath.Join(dir, "exports", "t2"))
		require.ErrorIs(t, err, fs.ErrNotExist, "an emptied directory is removed")
		_, err = os.Stat(filepath.Join(dir, "exports", "t1"))
		require.NoError(t, err, "a directory with other objects stays")
		_, err = os.Stat(dir)
		require.NoError(t, err, "the store's own directory stays")
	})
}

func TestDirRejectsKeysOutsideIt(t *testing.T) {
	t.Parallel()
	d, dir := setup(t)
	ctx := context.Background()
	// A file next to the store that no key may reach.
	secret := filepath.Join(filepath.Dir(dir), "secret")
	require.NoError(t, os.WriteFile(secret, []byte("s"), 0o600))
	// A symbolic link inside the store pointing out of it.
	require.NoError(t, os.Symlink(filepath.Dir(dir), filepath.Join(dir, "link")))

	bad := []string{
		"", "/etc/passwd", "../secret", "a/../../secret", "a/./b", "./a", "a//b", "a/", "/a",
		".hidden", "a/.tmp-x", "a\\b", "a b", "ä", "a\x00b", strings.Repeat("a", 513),
	}
	for _, key := range bad {
		require.False(t, storage.ValidKey(key), "%q", key)
		_, err := d.Create(ctx, key)
		require.True(t, errors.Is(err, storage.ErrInvalidKey), "create %q: %v", key, err)
		_, _, err = d.Open(ctx, key)
		require.True(t, errors.Is(err, storage.ErrInvalidKey), "open %q: %v", key, err)
		require.True(t, errors.Is(d.Delete(ctx, key), storage.ErrInvalidKey), "delete %q", key)
	}
	for _, key := range []string{"a", "exports/0190c1b2-7d3e-7a41-9f2c-3b4d5e6f7a8b/x.tar.gz", "A_b-c.d/e"} {
		require.True(t, storage.ValidKey(key), "%q", key)
	}

	// A valid key through the symbolic link is still refused by the kernel-level root.
	_, _, err := d.Open(ctx, "link/secret")
	require.Error(t, err)
	_, err = d.Create(ctx, "link/escaped")
	require.Error(t, err)
	_, err = os.Stat(filepath.Join(filepath.Dir(dir), "escaped"))
	require.ErrorIs(t, err, fs.ErrNotExist)
	require.Error(t, d.Delete(ctx, "link/secret"))
	_, err = os.Stat(secret)
	require.NoError(t, err, "nothing outside the store is touched")
}
