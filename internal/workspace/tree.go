package workspace

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"sync/atomic"
	"syscall"

	"golang.org/x/sync/errgroup"
)

// fileWorkers bounds concurrent link/copy operations: they are I/O bound, so
// a few more than the CPU count keeps the disk queue busy.
func fileWorkers() int {
	return max(4, 2*runtime.NumCPU())
}

// materialize recreates the files named in rels (slash-separated, relative
// to srcRoot) below dstRoot, hard-linking them when possible. Paths that no
// longer exist (deleted but still tracked) are skipped, as are special files
// git cannot hold. Directories are created before any file or symlink, and a
// listed path that is also the parent of another listed path is skipped, so
// nothing is ever written through a symlink inside dstRoot.
func materialize(ctx context.Context, srcRoot, dstRoot string, rels []string, emptyDirs []string) error {
	dirs := map[string]struct{}{".": {}}
	for _, d := range emptyDirs {
		addDirs(dirs, d)
	}
	for _, r := range rels {
		addDirs(dirs, path.Dir(r))
	}
	sorted := make([]string, 0, len(dirs))
	for d := range dirs {
		sorted = append(sorted, d)
	}
	sort.Strings(sorted)
	for _, d := range sorted {
		if err := os.MkdirAll(filepath.Join(dstRoot, filepath.FromSlash(d)), 0o777); err != nil {
			return fmt.Errorf("create snapshot folder %s: %w", d, err)
		}
	}
	var noLinks atomic.Bool
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(fileWorkers())
	for _, r := range rels {
		if _, isDir := dirs[r]; isDir {
			continue
		}
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			src := filepath.Join(srcRoot, filepath.FromSlash(r))
			dst := filepath.Join(dstRoot, filepath.FromSlash(r))
			info, err := os.Lstat(src)
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("snapshot %s: %w", r, err)
			}
			if err := linkOrCopy(src, dst, info, &noLinks); err != nil {
				return fmt.Errorf("snapshot %s: %w", r, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return ctx.Err()
}

// addDirs records d and all its parents.
func addDirs(dirs map[string]struct{}, d string) {
	for d != "." && d != "/" && d != "" {
		if _, ok := dirs[d]; ok {
			return
		}
		dirs[d] = struct{}{}
		d = path.Dir(d)
	}
}

// linkOrCopy hard-links src to dst, or copies it when linking is impossible:
// across filesystems (after which it stops trying), or for a file the
// kernel's protected_hardlinks forbids linking.
func linkOrCopy(src, dst string, info fs.FileInfo, noLinks *atomic.Bool) error {
	if !info.Mode().IsRegular() && info.Mode()&fs.ModeSymlink == 0 {
		return nil
	}
	if !noLinks.Load() {
		err := os.Link(src, dst)
		if err == nil {
			return nil
		}
		if errors.Is(err, syscall.EXDEV) {
			noLinks.Store(true)
		}
	}
	return copyEntry(src, dst, info)
}

// copyEntry copies one regular file or symlink; other kinds are skipped
// because git cannot track them.
func copyEntry(src, dst string, info fs.FileInfo) error {
	switch {
	case info.Mode()&fs.ModeSymlink != 0:
		target, err := os.Readlink(src)
		if err != nil {
			return err
		}
		return os.Symlink(target, dst)
	case info.Mode().IsRegular():
		return copyFile(src, dst, info.Mode().Perm())
	}
	return nil
}

// copyFile copies file contents with the kernel's copy_file_range (what
// io.Copy between two *os.File uses) and sets perm exactly, ignoring umask,
// so executable bits survive.
func copyFile(src, dst string, perm fs.FileMode) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := out.Close(); err == nil {
			err = cerr
		}
	}()
	if _, err := io.Copy(out, in); err != nil {
		return err
	}
	return out.Chmod(perm)
}

// copyTree copies the whole tree at src into dst (which must not exist),
// keeping symlinks as symlinks and copying files in parallel.
func copyTree(ctx context.Context, src, dst string) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(fileWorkers())
	walkErr := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if gctx.Err() != nil {
			return gctx.Err()
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			return os.Mkdir(target, info.Mode().Perm()|0o700)
		}
		g.Go(func() error {
			info, err := d.Info()
			if err != nil {
				return err
			}
			return copyEntry(p, target, info)
		})
		return nil
	})
	if err := g.Wait(); err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	if walkErr != nil {
		return fmt.Errorf("copy %s: %w", src, walkErr)
	}
	return nil
}

// removeTree removes dir like os.RemoveAll, first making folders writable if
// that fails: jobs leave read-only folders behind (Go's module cache does)
// and overlayfs creates its work folder with mode 0. Only folders are
// chmod-ed, never files, because snapshot files are hard links to the
// user's own files.
func removeTree(dir string) error {
	if err := os.RemoveAll(dir); err == nil {
		return nil
	}
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if d != nil && d.IsDir() && err == nil {
			_ = os.Chmod(p, 0o700)
		}
		return nil
	})
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove %s: %w", dir, err)
	}
	return nil
}
