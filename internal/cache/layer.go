package cache

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/gantry-ci/gantry/internal/fileset/tarzst"
)

// layersDir holds, inside a key's directory, its archive unpacked once into
// a read-only tree, named after the archive version it came from.
const layersDir = "layers"

// Layer is a cache archive unpacked into a tree that a workspace lays under
// a job's files (overlayfs) instead of extracting the archive for every job:
// after a key's first use, restoring it costs nothing. The tree must not be
// changed; while a Layer is held (until Release) no Save removes it.
type Layer struct {
	Key  string // the key that hit
	Dir  string // the unpacked tree, relative paths as in the project
	lock *os.File
}

// Release lets a later Save remove the tree once nobody uses it.
func (l *Layer) Release() {
	if l != nil && l.lock != nil {
		_ = syscall.Flock(int(l.lock.Fd()), syscall.LOCK_UN)
		l.lock.Close()
		l.lock = nil
	}
}

// OpenLayer returns the unpacked tree of the first existing archive among
// keys (the same order as Restore), unpacking it on first use. It returns
// nil and no error when no key has an archive.
func (s *Store) OpenLayer(ctx context.Context, keys []string) (*Layer, error) {
	for _, key := range keys {
		if key == "" {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		f, err := os.Open(s.Path(key))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("restore cache %q: %w", key, err)
		}
		l, err := s.openLayer(ctx, key, f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("restore cache %q: %w", key, err)
		}
		return l, nil
	}
	return nil, nil
}

// openLayer unpacks the archive version open in f, or finds it unpacked.
func (s *Store) openLayer(ctx context.Context, key string, f *os.File) (*Layer, error) {
	ident, err := archiveIdent(f)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(s.dir, SanitizeKey(key), layersDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	lock, err := lockShared(filepath.Join(dir, ident+".lock"))
	if err != nil {
		return nil, err
	}
	tree := filepath.Join(dir, ident)
	if info, err := os.Stat(tree); err == nil && info.IsDir() {
		return &Layer{Key: key, Dir: tree, lock: lock}, nil
	}
	if err := tarzst.Unpack(ctx, f, tree); err != nil {
		lock.Close()
		return nil, err
	}
	return &Layer{Key: key, Dir: tree, lock: lock}, nil
}

// archiveIdent names one version of a key's archive: Save always writes a
// new file, so inode, size and time tell versions apart.
func archiveIdent(f *os.File) (string, error) {
	info, err := f.Stat()
	if err != nil {
		return "", err
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Sprintf("%d-%d", info.Size(), info.ModTime().UnixNano()), nil
	}
	return fmt.Sprintf("%d-%d-%d", st.Ino, info.Size(), info.ModTime().UnixNano()), nil
}

// lockShared takes a shared lock on path, retrying when a pruner removed
// the lock file between our open and our lock.
func lockShared(path string) (*os.File, error) {
	for range 5 {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_RDONLY, 0o644)
		if err != nil {
			return nil, err
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH); err != nil {
			f.Close()
			return nil, err
		}
		if sameFile(f, path) {
			return f, nil
		}
		f.Close()
	}
	return nil, fmt.Errorf("lock %s: it keeps being removed", path)
}

func sameFile(f *os.File, path string) bool {
	a, err1 := f.Stat()
	b, err2 := os.Stat(path)
	return err1 == nil && err2 == nil && os.SameFile(a, b)
}

// pruneLayers removes the unpacked trees of a key's older archive versions
// that no job holds.
func pruneLayers(keyDir string, keep string) {
	dir := filepath.Join(keyDir, layersDir)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		ident, ok := strings.CutSuffix(e.Name(), ".lock")
		if !ok || ident == keep {
			continue
		}
		path := filepath.Join(dir, e.Name())
		f, err := os.Open(path)
		if err != nil {
			continue
		}
		if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil {
			os.RemoveAll(filepath.Join(dir, ident))
			os.Remove(path)
		}
		f.Close()
	}
}
