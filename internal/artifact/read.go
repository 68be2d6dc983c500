package artifact

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/gantry-ci/gantry/internal/fileset/tarzst"
)

// Entry is one item of an artifact set, as shown in a file browser:
// a regular file, a symlink or an empty directory.
type Entry struct {
	// Path is the slash path relative to the project directory.
	Path    string      `json:"path"`
	Size    int64       `json:"size,omitempty"`
	Mode    fs.FileMode `json:"mode"`
	ModTime time.Time   `json:"mtime"`
	// Target is the destination of a symlink.
	Target string `json:"target,omitempty"`
}

// List returns the entries of the artifacts in dir, sorted by path, from
// the index written by Collect (nothing is decompressed).
func List(dir ArtifactDir) ([]Entry, error) {
	data, err := os.ReadFile(filepath.Join(string(dir), indexFile))
	if err != nil {
		return nil, fmt.Errorf("list artifacts: %w", err)
	}
	var index []Entry
	if err := json.Unmarshal(data, &index); err != nil {
		return nil, fmt.Errorf("list artifacts in %s: %w", dir, err)
	}
	return index, nil
}

// Open opens one regular file of the artifacts for reading, for a UI to
// serve it. The archive is streamed up to the file, so nothing is unpacked
// to disk; names must be slash paths as returned by List.
func Open(dir ArtifactDir, name string) (fs.File, error) {
	if !fs.ValidPath(name) || name == "." {
		return nil, &fs.PathError{Op: "open artifact", Path: name, Err: fs.ErrInvalid}
	}
	f, err := os.Open(filepath.Join(string(dir), archiveFile))
	if err != nil {
		return nil, fmt.Errorf("open artifact %q: %w", name, err)
	}
	r, err := tarzst.NewReader(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open artifact %q: %w", name, err)
	}
	for {
		hdr, err := r.Next()
		if err != nil {
			r.Close()
			f.Close()
			if errors.Is(err, io.EOF) {
				err = fs.ErrNotExist
			}
			return nil, &fs.PathError{Op: "open artifact", Path: name, Err: err}
		}
		if hdr.Name != name {
			continue
		}
		if hdr.Typeflag != tar.TypeReg {
			r.Close()
			f.Close()
			return nil, &fs.PathError{Op: "open artifact", Path: name, Err: errors.New("not a regular file")}
		}
		return &archivedFile{r: r, f: f, info: hdr.FileInfo()}, nil
	}
}

// archivedFile is one entry of an open archive, readable as an fs.File.
type archivedFile struct {
	r    *tarzst.Reader
	f    *os.File
	info fs.FileInfo
}

func (a *archivedFile) Stat() (fs.FileInfo, error) { return a.info, nil }
func (a *archivedFile) Read(p []byte) (int, error) { return a.r.Read(p) }
func (a *archivedFile) Close() error {
	a.r.Close()
	return a.f.Close()
}

// Extract unpacks the artifacts in from into destDir (a later job's project
// directory), replacing files already there, as GitLab does when a job
// downloads artifacts of earlier jobs. Nothing is written outside destDir,
// even if it contains symlinks pointing out.
func Extract(ctx context.Context, from ArtifactDir, destDir string) error {
	f, err := os.Open(filepath.Join(string(from), archiveFile))
	if err != nil {
		return fmt.Errorf("extract artifacts: %w", err)
	}
	defer f.Close()
	if err := tarzst.Extract(ctx, f, destDir); err != nil {
		return fmt.Errorf("extract artifacts from %s: %w", from, err)
	}
	return nil
}

// treeDir is where Unpack leaves an artifact set unpacked.
const treeDir = "tree"

// Unpack unpacks the artifacts in from once into a read-only tree beside
// the archive and returns its path, so that jobs on overlay workspaces can
// lay it under their files instead of each extracting it. Later calls
// return the same tree; concurrent first calls may each unpack, and one
// tree wins. The tree goes with the artifacts when they expire.
func Unpack(ctx context.Context, from ArtifactDir) (string, error) {
	tree := filepath.Join(string(from), treeDir)
	if info, err := os.Stat(tree); err == nil && info.IsDir() {
		return tree, nil
	}
	f, err := os.Open(filepath.Join(string(from), archiveFile))
	if err != nil {
		return "", fmt.Errorf("unpack artifacts: %w", err)
	}
	defer f.Close()
	if err := tarzst.Unpack(ctx, f, tree); err != nil {
		return "", fmt.Errorf("unpack artifacts of %s: %w", from, err)
	}
	return tree, nil
}
