// Package cache keeps GitLab CI job caches on the local disk as
// zstd-compressed tar archives, one per key, and restores them into a
// project directory. It knows nothing of pipelines: the engine computes keys
// with Key, picks files with fileset.Resolve, and applies `policy` and `when`.
package cache

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gantry-ci/gantry/internal/fileset/tarzst"
)

// archiveName is the file holding a key's archive inside its directory;
// one directory per key leaves room for the full 255-byte key as a name.
const archiveName = "cache.tar.zst"

// staleTemp is how old an unfinished temporary archive must be before a
// later Save removes it; younger ones may belong to a save still running.
const staleTemp = time.Hour

// Store is a directory of cache archives. It is safe for concurrent use by
// many goroutines and many processes: saves write a private temporary file
// and rename it into place, so readers always see a complete archive.
type Store struct {
	dir string
}

// DefaultDir is where caches live unless configured otherwise:
// os.UserCacheDir()/gantry/caches.
func DefaultDir() (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("find user cache directory: %w", err)
	}
	return filepath.Join(base, "gantry", "caches"), nil
}

// NewStore opens (creating if needed) a store rooted at dir; an empty dir
// means DefaultDir. Callers that serve several projects should give each
// its own subdirectory, since GitLab keys (like "default") are only unique
// within a project.
func NewStore(dir string) (*Store, error) {
	if dir == "" {
		d, err := DefaultDir()
		if err != nil {
			return nil, err
		}
		dir = d
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create cache directory %s: %w", dir, err)
	}
	return &Store{dir: dir}, nil
}

// Dir returns the directory the store keeps its archives in.
func (s *Store) Dir() string { return s.dir }

// Path returns the archive file for key, whether or not it exists.
func (s *Store) Path(key string) string {
	return filepath.Join(s.dir, SanitizeKey(key), archiveName)
}

// Restore extracts the first existing archive among keys into destDir and
// returns the key it used. Pass the job's key, then `fallback_keys`, then
// CACHE_FALLBACK_KEY, in GitLab's order. A miss on every key returns "" and
// a nil error. Empty keys are skipped.
func (s *Store) Restore(ctx context.Context, keys []string, destDir string) (string, error) {
	for _, key := range keys {
		if key == "" {
			continue
		}
		if err := ctx.Err(); err != nil {
			return "", err
		}
		p := s.Path(key)
		// Opening once pins this version of the archive: a concurrent Save
		// renames a new file over the name but cannot change what we read.
		f, err := os.Open(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("restore cache %q: %w", key, err)
		}
		err = tarzst.Extract(ctx, f, destDir)
		f.Close()
		if err != nil {
			return "", fmt.Errorf("restore cache %q from %s: %w", key, p, err)
		}
		return key, nil
	}
	return "", nil
}

// Save archives files (slash paths relative to fsys, as from
// fileset.Resolve) under key. The archive is written to a temporary file in
// the key's directory, flushed to disk, then renamed over the old one, so a
// crash or a concurrent Save never leaves a torn archive: with two saves of
// one key the last rename wins.
func (s *Store) Save(ctx context.Context, key string, fsys fs.FS, files []string) (err error) {
	keyDir := filepath.Join(s.dir, SanitizeKey(key))
	if err := os.MkdirAll(keyDir, 0o755); err != nil {
		return fmt.Errorf("save cache %q: %w", key, err)
	}
	removeStaleTemps(keyDir, time.Now())
	tmp, err := os.CreateTemp(keyDir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("save cache %q: %w", key, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := tarzst.Write(ctx, tmp, fsys, files); err != nil {
		return fmt.Errorf("save cache %q: %w", key, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("save cache %q: flush: %w", key, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save cache %q: %w", key, err)
	}
	archive := filepath.Join(keyDir, archiveName)
	if err := os.Rename(tmp.Name(), archive); err != nil {
		return fmt.Errorf("save cache %q: %w", key, err)
	}
	syncDir(keyDir)
	if f, err := os.Open(archive); err == nil {
		if ident, err := archiveIdent(f); err == nil {
			pruneLayers(keyDir, ident)
		}
		f.Close()
	}
	return nil
}

// removeStaleTemps deletes temporary files left by saves that crashed. It is
// best effort: failing to tidy up must not fail the save.
func removeStaleTemps(dir string, now time.Time) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), ".tmp-") {
			continue
		}
		if info, err := e.Info(); err == nil && now.Sub(info.ModTime()) > staleTemp {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// syncDir makes the rename durable. Errors are ignored: some file systems
// refuse fsync on directories, and the data itself is already on disk.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
