package blob

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"syscall"
	"time"
)

// stagingDir holds Put's temporary files. It sits inside the store's
// directory so the final rename never crosses filesystems, and apart from
// the blobs so List never sees a half-written file.
const stagingDir = ".gantry-staging"

// staleStaging is how long a staging file may go unwritten before NewFS
// treats it as left behind by a crash. Active uploads touch their file on
// every write, so only abandoned ones get this old.
const staleStaging = time.Hour

// Permissions are private: logs and artifacts can contain secrets that
// masking missed.
const (
	filePerm = 0o600
	dirPerm  = 0o700
)

// parentRetries bounds how often a writer recreates a parent directory
// that a concurrent Delete pruned between MkdirAll and the write.
const parentRetries = 10

// FS is a Store on the local filesystem. Each key is a file at the same
// relative path under the store's directory, so operators can inspect and
// back it up with ordinary tools. All access goes through an os.Root, so
// even a symlink planted inside the directory cannot lead a key outside it.
//
// A key cannot be both a blob and a directory of other blobs ("a" and
// "a/b"); storing the second fails. The server's key layouts never do this.
type FS struct {
	root  *os.Root
	locks keyLocks
}

var _ Store = (*FS)(nil)

// NewFS opens (creating if needed) a store in dir and removes staging files
// abandoned by a crash.
func NewFS(dir string) (*FS, error) {
	if err := os.MkdirAll(dir, dirPerm); err != nil {
		return nil, fmt.Errorf("open blob store %s: %w", dir, err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open blob store %s: %w", dir, err)
	}
	if err := root.Mkdir(stagingDir, dirPerm); err != nil && !errors.Is(err, fs.ErrExist) {
		root.Close()
		return nil, fmt.Errorf("open blob store %s: %w", dir, err)
	}
	s := &FS{root: root}
	if err := s.removeStaleStaging(time.Now().Add(-staleStaging)); err != nil {
		root.Close()
		return nil, fmt.Errorf("open blob store %s: %w", dir, err)
	}
	return s, nil
}

// Close releases the store's directory handle. Readers returned by Get stay
// usable.
func (s *FS) Close() error {
	return s.root.Close()
}

func (s *FS) removeStaleStaging(before time.Time) error {
	d, err := s.root.Open(stagingDir)
	if err != nil {
		return fmt.Errorf("clean staging: %w", err)
	}
	entries, err := d.ReadDir(-1)
	d.Close()
	if err != nil {
		return fmt.Errorf("clean staging: %w", err)
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || !info.ModTime().Before(before) {
			continue
		}
		// Best effort: a file we fail to remove now is retried at the next
		// start and harms nothing meanwhile.
		_ = s.root.Remove(path.Join(stagingDir, e.Name()))
	}
	return nil
}

// checkKey applies ValidateKey plus FS's one reserved name.
func checkKey(key string) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	if key == stagingDir || strings.HasPrefix(key, stagingDir+"/") {
		return fmt.Errorf("%w %q: %s is reserved by the filesystem store", ErrInvalidKey, key, stagingDir)
	}
	return nil
}

// notFound maps "no such blob" filesystem errors to ErrNotFound. ENOTDIR
// arises when a key's parent is a blob ("a/b" when "a" is a file).
func notFound(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// Put implements Store. The data goes to a staging file that is synced
// before it is renamed over the key, so after a crash the key holds either
// the old blob or the whole new one.
func (s *FS) Put(ctx context.Context, key string, r io.Reader) (int64, error) {
	if err := checkKey(key); err != nil {
		return 0, fmt.Errorf("put blob: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("put blob %q: %w", key, err)
	}
	tmp := path.Join(stagingDir, rand.Text())
	f, err := s.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, filePerm)
	if err != nil {
		return 0, fmt.Errorf("put blob %q: %w", key, err)
	}
	placed := false
	defer func() {
		if !placed {
			_ = s.root.Remove(tmp)
		}
	}()
	n, err := io.Copy(f, ctxReader{ctx: ctx, r: r})
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, fmt.Errorf("put blob %q: %w", key, err)
	}

	unlock, err := s.locks.lock(ctx, key)
	if err != nil {
		return 0, fmt.Errorf("put blob %q: %w", key, err)
	}
	defer unlock()
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("put blob %q: %w", key, err)
	}
	err = s.withParent(key, func() error { return s.root.Rename(tmp, key) })
	if err != nil {
		return 0, fmt.Errorf("put blob %q: %w", key, err)
	}
	placed = true
	if err := s.syncDir(path.Dir(key)); err != nil {
		return 0, fmt.Errorf("put blob %q: %w", key, err)
	}
	return n, nil
}

// withParent creates key's parent directories and runs op, again if a
// concurrent Delete pruned the parent in between.
func (s *FS) withParent(key string, op func() error) error {
	dir := path.Dir(key)
	var err error
	for range parentRetries {
		// MkdirAll itself fails with ErrNotExist when a directory it just
		// made is pruned before it makes the next one.
		if dir != "." {
			err = s.root.MkdirAll(dir, dirPerm)
		}
		if err == nil {
			err = op()
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return err
}

// syncDir makes a directory's new or renamed entries durable.
func (s *FS) syncDir(dir string) error {
	d, err := s.root.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// Get implements Store. The returned reader is the open file: it keeps
// reading the blob as it was even if a Put replaces it meanwhile, and sees
// appends made after it was opened.
func (s *FS) Get(ctx context.Context, key string) (io.ReadSeekCloser, int64, error) {
	if err := checkKey(key); err != nil {
		return nil, 0, fmt.Errorf("get blob: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, 0, fmt.Errorf("get blob %q: %w", key, err)
	}
	f, err := s.root.Open(key)
	if notFound(err) {
		return nil, 0, fmt.Errorf("get blob %q: %w", key, ErrNotFound)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("get blob %q: %w", key, err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("get blob %q: %w", key, err)
	}
	if !info.Mode().IsRegular() {
		f.Close()
		return nil, 0, fmt.Errorf("get blob %q: %w", key, ErrNotFound)
	}
	return f, info.Size(), nil
}

// Append implements Store. Each chunk is synced before Append returns, so
// a log line acknowledged to a runner survives a crash. If the write fails
// part-way the file is cut back, so the log never holds half a chunk.
func (s *FS) Append(ctx context.Context, key string, p []byte) (int64, error) {
	if err := checkKey(key); err != nil {
		return 0, fmt.Errorf("append blob: %w", err)
	}
	unlock, err := s.locks.lock(ctx, key)
	if err != nil {
		return 0, fmt.Errorf("append blob %q: %w", key, err)
	}
	defer unlock()
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("append blob %q: %w", key, err)
	}
	_, statErr := s.root.Lstat(key)
	created := notFound(statErr)
	var f *os.File
	err = s.withParent(key, func() error {
		var err error
		f, err = s.root.OpenFile(key, os.O_WRONLY|os.O_APPEND|os.O_CREATE, filePerm)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("append blob %q: %w", key, err)
	}
	size, err := appendChunk(f, p)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, fmt.Errorf("append blob %q: %w", key, err)
	}
	if created {
		if err := s.syncDir(path.Dir(key)); err != nil {
			return 0, fmt.Errorf("append blob %q: %w", key, err)
		}
	}
	return size, nil
}

// appendChunk writes p at the end of f and syncs, returning the new size.
func appendChunk(f *os.File, p []byte) (int64, error) {
	info, err := f.Stat()
	if err != nil {
		return 0, err
	}
	if !info.Mode().IsRegular() {
		return 0, fmt.Errorf("not a regular file")
	}
	before := info.Size()
	if _, err := f.Write(p); err != nil {
		// Undo a partial chunk; if even that fails the original error is
		// the one worth reporting.
		_ = f.Truncate(before)
		return 0, err
	}
	if err := f.Sync(); err != nil {
		return 0, err
	}
	return before + int64(len(p)), nil
}

// Stat implements Store.
func (s *FS) Stat(ctx context.Context, key string) (Info, error) {
	if err := checkKey(key); err != nil {
		return Info{}, fmt.Errorf("stat blob: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return Info{}, fmt.Errorf("stat blob %q: %w", key, err)
	}
	info, err := s.root.Stat(key)
	if notFound(err) || err == nil && !info.Mode().IsRegular() {
		return Info{}, fmt.Errorf("stat blob %q: %w", key, ErrNotFound)
	}
	if err != nil {
		return Info{}, fmt.Errorf("stat blob %q: %w", key, err)
	}
	return Info{Key: key, Size: info.Size(), ModTime: info.ModTime()}, nil
}

// Delete implements Store. Directories left empty are removed too, so a
// store that has seen millions of jobs does not keep millions of empty
// directories.
func (s *FS) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return fmt.Errorf("delete blob: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete blob %q: %w", key, err)
	}
	unlock, err := s.locks.lock(ctx, key)
	if err != nil {
		return fmt.Errorf("delete blob %q: %w", key, err)
	}
	defer unlock()
	info, err := s.root.Lstat(key)
	if notFound(err) || err == nil && info.IsDir() {
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete blob %q: %w", key, err)
	}
	if err := s.root.Remove(key); err != nil && !notFound(err) {
		return fmt.Errorf("delete blob %q: %w", key, err)
	}
	for dir := path.Dir(key); dir != "."; dir = path.Dir(dir) {
		// Remove fails on a non-empty directory, which is where pruning
		// stops; writers racing with this recreate what they need.
		if s.root.Remove(dir) != nil {
			break
		}
	}
	return nil
}

// List implements Store. It walks only the directory the prefix names, so
// listing one job's logs does not scan the whole store.
func (s *FS) List(ctx context.Context, prefix string) ([]Info, error) {
	if err := validatePrefix(prefix); err != nil {
		return nil, fmt.Errorf("list blobs: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("list blobs %q: %w", prefix, err)
	}
	start, _ := splitPrefix(prefix)
	if start == "" {
		start = "."
	}
	var out []Info
	err := fs.WalkDir(s.root.FS(), start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			// Entries deleted while we walk, or a prefix naming nothing,
			// simply contribute no blobs.
			if notFound(err) {
				return nil
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() {
			if p == stagingDir || p != "." && !couldMatch(p+"/", prefix) {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || !strings.HasPrefix(p, prefix) || checkKey(p) != nil {
			return nil
		}
		info, err := d.Info()
		if notFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		out = append(out, Info{Key: p, Size: info.Size(), ModTime: info.ModTime()})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list blobs %q: %w", prefix, err)
	}
	// Walk order puts "a/b" before "a.txt"; sort into the byte order S3
	// uses so every Store lists alike.
	slices.SortFunc(out, func(a, b Info) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// couldMatch reports whether keys under directory dir (ending in "/") can
// start with prefix.
func couldMatch(dir, prefix string) bool {
	return strings.HasPrefix(dir, prefix) || strings.HasPrefix(prefix, dir)
}

// ctxReader stops a long upload once its request is cancelled.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
