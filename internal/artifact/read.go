package artifact

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/gantry-ci/gantry/internal/fileset/extract"
)

// Entry is one item of an artifact tree, as shown in a file browser.
type Entry struct {
	// Path is the slash path relative to the project directory.
	Path    string
	Size    int64
	Mode    fs.FileMode
	ModTime time.Time
	// Target is the destination of a symlink.
	Target string
}

// List returns every file, symlink and empty directory in dir, sorted by
// path.
func List(dir ArtifactDir) ([]Entry, error) {
	root := filepath.Join(string(dir), filesDir)
	var out []Entry
	err := fs.WalkDir(os.DirFS(root), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == "." {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		e := Entry{Path: p, Size: info.Size(), Mode: info.Mode(), ModTime: info.ModTime()}
		switch {
		case d.IsDir():
			if empty, err := isEmpty(filepath.Join(root, p)); err != nil || !empty {
				return err
			}
			e.Size = 0
		case d.Type()&fs.ModeSymlink != 0:
			if e.Target, err = os.Readlink(filepath.Join(root, p)); err != nil {
				return err
			}
		}
		out = append(out, e)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list artifacts in %s: %w", dir, err)
	}
	return out, nil
}

func isEmpty(dir string) (bool, error) {
	f, err := os.Open(dir)
	if err != nil {
		return false, err
	}
	defer f.Close()
	names, err := f.Readdirnames(1)
	if errors.Is(err, io.EOF) {
		return true, nil
	}
	return len(names) == 0, err
}

// Open opens one artifact file for reading, for a UI to serve it. name is a
// slash path as returned by List; names that leave the artifact tree,
// directly or through a symlink, are refused.
func Open(dir ArtifactDir, name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, fmt.Errorf("open artifact %q: %w", name, fs.ErrInvalid)
	}
	root, err := os.OpenRoot(filepath.Join(string(dir), filesDir))
	if err != nil {
		return nil, fmt.Errorf("open artifact %q: %w", name, err)
	}
	defer root.Close()
	f, err := root.Open(name)
	if err != nil {
		return nil, fmt.Errorf("open artifact %q: %w", name, err)
	}
	return f, nil
}

// Extract copies the artifacts in from into destDir (a later job's project
// directory), replacing files already there, as GitLab does when a job
// downloads artifacts of earlier jobs. Nothing is written outside destDir,
// even if it contains symlinks pointing out.
func Extract(ctx context.Context, from ArtifactDir, destDir string) error {
	src := filepath.Join(string(from), filesDir)
	if _, err := os.Stat(src); err != nil {
		return fmt.Errorf("extract artifacts from %s: %w", from, err)
	}
	w, err := extract.New(ctx, destDir, extract.Options{})
	if err != nil {
		return fmt.Errorf("extract artifacts from %s: %w", from, err)
	}
	walkErr := fs.WalkDir(os.DirFS(src), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == "." {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		full := filepath.Join(src, filepath.FromSlash(p))
		switch {
		case d.IsDir():
			return w.Dir(p, info.Mode(), info.ModTime())
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(full)
			if err != nil {
				return err
			}
			return w.Symlink(p, target)
		case d.Type().IsRegular():
			return w.Copy(p, info.Mode(), info.ModTime(), func() (io.ReadCloser, error) { return os.Open(full) })
		}
		return nil
	})
	closeErr := w.Close()
	if err := errors.Join(walkErr, closeErr); err != nil {
		return fmt.Errorf("extract artifacts from %s: %w", from, err)
	}
	return nil
}
