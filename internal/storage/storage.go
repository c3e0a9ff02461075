// Package storage keeps files the platform produces for later download (tenant data
// exports today) behind a small interface: a local directory by default, object
// storage (S3, GCS, Azure Blob) later without changing its callers.
//
// Keys are slash-separated relative names such as "exports/<tenant>/<id>.tar.gz":
// 1 to 512 bytes of letters, digits, '-', '_', '.' and '/', no empty, "." or ".."
// segment, no leading or trailing slash. ValidKey is the one check every adapter
// applies, so a key can never name a file outside the store.
//
// # The contract an adapter implements
//
//   - Create returns a writer whose data becomes visible under key only when Close
//     returns nil, all at once: readers see the previous object or the new one, never a
//     partial one. Creating an existing key replaces it (that is what makes a re-run
//     export job idempotent). A writer that is abandoned must be aborted (see Abort):
//     then nothing becomes visible and any partial upload is discarded.
//   - Open returns the object's bytes and its size; a missing key is an error for
//     which errors.Is(err, fs.ErrNotExist) holds (ErrNotFound wraps it).
//   - Delete removes the object; deleting a missing key is not an error.
//
// An object-storage adapter maps these onto the provider's API:
//
//   - S3: Create streams a multipart upload (CreateMultipartUpload, UploadPart for each
//     buffered part of 5–100 MiB, CompleteMultipartUpload on Close, which is atomic;
//     AbortMultipartUpload on Abort; add a bucket lifecycle rule that aborts incomplete
//     uploads after a day for crashed writers). Open is GetObject (ContentLength is
//     the size; NoSuchKey → ErrNotFound). Delete is DeleteObject. Use server-side
//     encryption (SSE-KMS) and a private bucket; downloads stream through the API
//     (which checks the caller's role) rather than through public URLs.
//   - GCS: Create is an object Writer (resumable upload; the object appears when Close
//     succeeds; cancel the writer's context to abort). Open is NewReader (Attrs.Size;
//     storage.ErrObjectNotExist → ErrNotFound). Delete is Object.Delete, ignoring
//     ErrObjectNotExist.
//
// Either adapter keeps only a part buffer in memory, so exports of any size stream
// through with flat memory, as they do through Dir.
package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
)

// Store keeps objects under keys. See the package documentation for the contract.
type Store interface {
	// Create starts writing the object key; it becomes visible, replacing any previous
	// object, when the returned writer's Close returns nil.
	Create(ctx context.Context, key string) (io.WriteCloser, error)
	// Open returns the object's contents and size; a missing key is ErrNotFound.
	Open(ctx context.Context, key string) (io.ReadCloser, int64, error)
	// Delete removes the object; a missing key is not an error.
	Delete(ctx context.Context, key string) error
}

// Aborter is implemented by the writers Create returns: Abort discards everything
// written so far and makes nothing visible. Calling Close after Abort, or Abort after
// Close, is a no-op.
type Aborter interface {
	Abort() error
}

// Abort aborts w if it can (every writer of this package's adapters can); otherwise
// it closes it, which is the best a foreign writer offers.
func Abort(w io.WriteCloser) error {
	if a, ok := w.(Aborter); ok {
		return a.Abort()
	}
	return w.Close()
}

// ErrNotFound is returned (wrapped) by Open for a key that holds no object. It
// matches fs.ErrNotExist, so callers that do not import this package can test for it.
var ErrNotFound = fmt.Errorf("storage: object not found: %w", fs.ErrNotExist)

// ErrInvalidKey is returned for a key that ValidKey rejects.
var ErrInvalidKey = errors.New("storage: invalid key")

// maxKeyLen bounds a key; object stores allow 1024 bytes, file systems less.
const maxKeyLen = 512

// ValidKey reports whether key is an acceptable object key: 1 to 512 bytes of
// [A-Za-z0-9._/-], slash-separated segments that are neither empty nor "." nor "..",
// no segment starting with '.' (temporary files of Dir use that), no leading or
// trailing slash.
func ValidKey(key string) bool {
	if key == "" || len(key) > maxKeyLen {
		return false
	}
	for _, c := range []byte(key) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '.', c == '/':
		default:
			return false
		}
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || strings.HasPrefix(seg, ".") {
			return false
		}
	}
	return true
}

func checkKey(key string) error {
	if !ValidKey(key) {
		return fmt.Errorf("%w: %q", ErrInvalidKey, key)
	}
	return nil
}
