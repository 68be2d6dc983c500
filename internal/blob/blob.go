// Package blob stores the server's bulky bytes (job logs, artifacts, caches)
// outside the database, behind a small interface so the local filesystem
// store can later be joined by an S3-compatible one without touching callers.
package blob

import (
	"context"
	"errors"
	"io"
	"time"
)

var (
	// ErrNotFound reports a key that holds no blob. Callers turn it into a
	// 404 rather than a server error.
	ErrNotFound = errors.New("blob not found")
	// ErrInvalidKey reports a key that could address something outside the
	// store or that a backend could not represent. It is a caller bug or a
	// hostile request, never a storage fault.
	ErrInvalidKey = errors.New("invalid blob key")
)

// Store is what the server needs from blob storage. Keys are slash-separated
// paths checked by ValidateKey. Every implementation must pass
// blobtest.Run.
type Store interface {
	// Put stores everything r yields under key, replacing any previous blob
	// only once r is fully read: readers never see a partial blob and a
	// failed or cancelled Put leaves the old one (or none) in place.
	Put(ctx context.Context, key string, r io.Reader) (size int64, err error)
	// Get opens the blob and returns its size when opened. The reader seeks,
	// so logs and artifacts can be served from a byte offset or range.
	Get(ctx context.Context, key string) (io.ReadSeekCloser, int64, error)
	// Append adds p to the end of the blob, creating it if needed, and
	// returns the size after this chunk. Appends to one key are serialised,
	// so each chunk lands whole and the returned size marks where it ends;
	// appends to different keys do not wait for each other.
	Append(ctx context.Context, key string, p []byte) (newSize int64, err error)
	// Stat describes one blob.
	Stat(ctx context.Context, key string) (Info, error)
	// Delete removes a blob. Deleting a missing key succeeds, as on S3, so
	// garbage collection and retries are idempotent.
	Delete(ctx context.Context, key string) error
	// List returns the blobs whose keys start with prefix (a plain string
	// prefix, as on S3: "logs/1" matches "logs/12.log"), sorted by key.
	List(ctx context.Context, prefix string) ([]Info, error)
}

// Info describes a stored blob.
type Info struct {
	// Key is the blob's full key.
	Key string
	// Size is the length in bytes.
	Size int64
	// ModTime is when the blob was last written; expiry is judged by it.
	ModTime time.Time
}
