package storage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sync"
)

// Dir is a Store in a local directory: each key is a file under it. Directories are
// created 0700 and files 0600 (exports hold a tenant's data; only the service's user
// may read them). Every operation goes through an os.Root opened on the directory, so
// besides ValidKey's check the kernel-level lookup cannot leave it (no "..", no
// symbolic link pointing outside).
//
// A write goes to a temporary file ".tmp-…" next to its target and is renamed over the
// target when Close succeeds (after an fsync of the file and then of the directory), so
// a reader sees the old object or the new one, and a crash leaves at most a stray
// temporary file, never a torn object.
type Dir struct {
	root *os.Root
}

var _ Store = (*Dir)(nil)

// NewDir returns a Store in the directory path, creating it (mode 0700) if needed.
func NewDir(dir string) (*Dir, error) {
	if dir == "" {
		return nil, errors.New("storage: empty directory path")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	return &Dir{root: root}, nil
}

// Close releases the directory handle.
func (d *Dir) Close() error { return d.root.Close() }

// Path returns the directory the store keeps its files in.
func (d *Dir) Path() string { return d.root.Name() }

// Create implements Store.
func (d *Dir) Create(ctx context.Context, key string) (io.WriteCloser, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	dir := path.Dir(key)
	var (
		f   *os.File
		tmp string
		err error
	)
	// A concurrent Delete may remove an emptied parent between MkdirAll and the create:
	// try again a few times.
	for range 3 {
		if err = d.root.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("storage: create %s: %w", key, err)
		}
		tmp = path.Join(dir, ".tmp-"+path.Base(key)+"-"+randomSuffix())
		f, err = d.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if !errors.Is(err, fs.ErrNotExist) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("storage: create %s: %w", key, err)
	}
	return &dirWriter{d: d, ctx: ctx, f: f, tmp: tmp, key: key}, nil
}

// Open implements Store.
func (d *Dir) Open(ctx context.Context, key string) (io.ReadCloser, int64, error) {
	if err := checkKey(key); err != nil {
		return nil, 0, err
	}
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	f, err := d.root.Open(key)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, 0, fmt.Errorf("%w: %s", ErrNotFound, key)
		}
		return nil, 0, fmt.Errorf("storage: open %s: %w", key, err)
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, 0, fmt.Errorf("storage: open %s: %w", key, err)
	}
	if !st.Mode().IsRegular() {
		_ = f.Close()
		return nil, 0, fmt.Errorf("%w: %s", ErrNotFound, key)
	}
	return f, st.Size(), nil
}

// Delete implements Store. Parent directories left empty are removed too (never the
// store's own directory).
func (d *Dir) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := d.root.Remove(key); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("storage: delete %s: %w", key, err)
	}
	for dir := path.Dir(key); dir != "."; dir = path.Dir(dir) {
		if d.root.Remove(dir) != nil {
			// Not empty, or already gone: either way the object is deleted.
			return nil
		}
	}
	return nil
}

// dirWriter writes a temporary file and renames it over the key on Close.
type dirWriter struct {
	d    *Dir
	ctx  context.Context
	f    *os.File
	tmp  string
	key  string
	mu   sync.Mutex
	done bool
	err  error // the first write error: Close then fails and publishes nothing
}

func (w *dirWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return 0, errors.New("storage: write after close")
	}
	if w.err != nil {
		return 0, w.err
	}
	n, err := w.f.Write(p)
	if err != nil {
		w.err = fmt.Errorf("storage: write %s: %w", w.key, err)
		return n, w.err
	}
	return n, nil
}

// Close publishes the file under its key, unless a write failed or the context given
// to Create is done: then it discards it and returns the error.
func (w *dirWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return nil
	}
	w.done = true
	fail := func(err error) error {
		_ = w.f.Close()
		_ = w.d.root.Remove(w.tmp)
		return err
	}
	if w.err != nil {
		return fail(w.err)
	}
	if err := w.ctx.Err(); err != nil {
		return fail(err)
	}
	if err := w.f.Sync(); err != nil {
		return fail(fmt.Errorf("storage: sync %s: %w", w.key, err))
	}
	if err := w.f.Close(); err != nil {
		_ = w.d.root.Remove(w.tmp)
		return fmt.Errorf("storage: close %s: %w", w.key, err)
	}
	if err := w.d.root.Rename(w.tmp, w.key); err != nil {
		_ = w.d.root.Remove(w.tmp)
		return fmt.Errorf("storage: publish %s: %w", w.key, err)
	}
	// Make the rename durable.
	if dir, err := w.d.root.Open(path.Dir(w.key)); err == nil {
		_ = dir.Sync()
		_ = dir.Close()
	}
	return nil
}

// Abort implements Aborter: the temporary file is removed and nothing is published.
func (w *dirWriter) Abort() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return nil
	}
	w.done = true
	_ = w.f.Close()
	if err := w.d.root.Remove(w.tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("storage: abort %s: %w", w.key, err)
	}
	return nil
}

func randomSuffix() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
