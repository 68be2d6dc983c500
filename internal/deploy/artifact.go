package deploy

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// Limits on uploaded artifacts, so that one deploy cannot fill the disk.
const (
	MaxArtifactBytes = 1 << 30 // as uploaded
	maxUnpackedBytes = 4 << 30 // after unpacking a tarball
)

// artifacts keeps deploy artifacts unpacked under one directory, one
// subdirectory per distinct content, shared by every revision (and
// environment) that deploys the same bytes: promoting a build from staging
// to production stores it once.
type artifacts struct {
	dir string
	// maxUnpacked bounds what one tarball may unpack to (sparse entries
	// and compression make it unrelated to the upload's size).
	maxUnpacked int64

	mu   sync.Mutex
	pins map[string]int // stored but not yet referenced by a revision record
}

func newArtifacts(dir string) (*artifacts, error) {
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o755); err != nil {
		return nil, fmt.Errorf("create artifact directory: %w", err)
	}
	return &artifacts{dir: dir, maxUnpacked: maxUnpackedBytes, pins: map[string]int{}}, nil
}

// path is the directory of a stored artifact.
func (a *artifacts) path(id string) string { return filepath.Join(a.dir, id) }

// put stores the artifact read from r and pins it until unpin. A tar or
// gzipped tar is unpacked; anything else is one file placed at single
// (relative to the artifact directory), executable.
func (a *artifacts) put(r io.Reader, single string) (string, error) {
	tmp, err := os.CreateTemp(filepath.Join(a.dir, "tmp"), "upload-")
	if err != nil {
		return "", fmt.Errorf("store artifact: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), io.LimitReader(r, MaxArtifactBytes+1))
	if err != nil {
		return "", fmt.Errorf("store artifact: %w", err)
	}
	if n > MaxArtifactBytes {
		return "", invalid("artifact is larger than %d bytes", int64(MaxArtifactBytes))
	}
	if n == 0 {
		return "", invalid("artifact is empty")
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return "", fmt.Errorf("store artifact: %w", err)
	}
	br := bufio.NewReaderSize(tmp, 1024)
	head, _ := br.Peek(512)
	kind := sniff(head)
	if kind == "file" {
		if single != "" {
			single = filepath.Clean(single)
		}
		if single == "" || single == "." || !filepath.IsLocal(single) {
			return "", invalid("a single-file artifact needs a relative place to go (runtime.module, or runtime.command[0] like ./server); got %q", single)
		}
		h.Write([]byte{0})
		h.Write([]byte(filepath.ToSlash(single)))
	}
	id := hex.EncodeToString(h.Sum(nil))

	a.mu.Lock()
	defer a.mu.Unlock()
	a.pins[id]++
	if _, err := os.Stat(a.path(id)); err == nil {
		return id, nil
	}
	work, err := os.MkdirTemp(filepath.Join(a.dir, "tmp"), "unpack-")
	if err != nil {
		a.unpinLocked(id)
		return "", fmt.Errorf("store artifact: %w", err)
	}
	defer os.RemoveAll(work)
	switch kind {
	case "gzip":
		err = untarGzip(br, work, a.maxUnpacked)
	case "tar":
		err = untar(br, work, a.maxUnpacked)
	default:
		err = placeFile(br, work, single)
	}
	if err == nil {
		err = os.Rename(work, a.path(id))
	}
	if err != nil {
		a.unpinLocked(id)
		return "", fmt.Errorf("store artifact: %w", err)
	}
	return id, nil
}

// unpin releases a pin taken by put once a revision record names the
// artifact (or the deploy failed).
func (a *artifacts) unpin(id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.unpinLocked(id)
}

func (a *artifacts) unpinLocked(id string) {
	if a.pins[id]--; a.pins[id] <= 0 {
		delete(a.pins, id)
	}
}

// gc removes the artifacts that no kept revision uses.
func (a *artifacts) gc(inUse map[string]bool) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	entries, err := os.ReadDir(a.dir)
	if err != nil {
		return fmt.Errorf("list artifacts: %w", err)
	}
	var errs []error
	for _, e := range entries {
		id := e.Name()
		if id == "tmp" || inUse[id] || a.pins[id] > 0 {
			continue
		}
		if err := os.RemoveAll(a.path(id)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// sniff tells a gzip stream and a tar archive from a plain file.
func sniff(head []byte) string {
	switch {
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		return "gzip"
	case len(head) >= 262 && string(head[257:262]) == "ustar":
		return "tar"
	}
	return "file"
}

func placeFile(r io.Reader, dir, name string) error {
	dst := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func untarGzip(r io.Reader, dir string, limit int64) error {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return withKind(ErrInvalid, fmt.Errorf("read gzip: %w", err))
	}
	defer zr.Close()
	return untar(zr, dir, limit)
}

// untar unpacks regular files, directories and symbolic links that point
// down the tree; anything that could reach outside dir is refused.
func untar(r io.Reader, dir string, limit int64) error {
	tr := tar.NewReader(r)
	var total int64
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return withKind(ErrInvalid, fmt.Errorf("read tar: %w", err))
		}
		name := filepath.Clean(filepath.FromSlash(strings.TrimPrefix(h.Name, "./")))
		if name == "." {
			continue
		}
		if !filepath.IsLocal(name) {
			return invalid("tar entry %q leaves the artifact directory", h.Name)
		}
		dst := filepath.Join(dir, name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(dst, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if total += h.Size; h.Size < 0 || total > limit {
				return invalid("artifact unpacks to more than %d bytes", limit)
			}
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode&0o755|0o600))
			if err != nil {
				return err
			}
			if _, err := io.Copy(f, io.LimitReader(tr, h.Size)); err != nil {
				f.Close()
				return fmt.Errorf("read tar entry %q: %w", h.Name, err)
			}
			if err := f.Close(); err != nil {
				return err
			}
		case tar.TypeSymlink:
			// Only links pointing down from where they are: a link to ".."
			// could be reached through another link from deeper down.
			if !filepath.IsLocal(h.Linkname) {
				return invalid("tar symlink %q -> %q leaves the artifact directory", h.Name, h.Linkname)
			}
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return err
			}
			if err := os.Symlink(h.Linkname, dst); err != nil {
				return err
			}
		}
	}
}
