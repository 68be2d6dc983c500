package mirror

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
	"time"
)

// maxSymlinkHops matches the loop limit of Linux path resolution.
const maxSymlinkHops = 40

// FS returns the repository tree at commit sha as a read-only file system.
// The tree is listed once; contents are read on demand from a shared git
// cat-file process, so opening a big repository costs one listing. It is
// safe for concurrent readers and stops reading once ctx is done.
//
// Symlinks appear as such in ReadDir and Lstat, and Open, Stat and ReadFile
// follow them within the tree; a link pointing outside the repository
// reads as missing. Submodules appear as empty directories. Reading a file
// larger than the mirror's MaxFileSize fails.
func (m *Mirror) FS(ctx context.Context, sha string) (fs.FS, error) {
	if !isHexSHA(sha) {
		return nil, fmt.Errorf("read tree of %q: not a commit SHA", sha)
	}
	if index, ok := m.trees.get(sha); ok {
		return &treeFS{ctx: ctx, index: index, blobs: m.blobs, limit: m.maxFileSize()}, nil
	}
	out, err := m.run(ctx, false, "ls-tree", "-r", "-t", "-z", "--long", sha+"^{commit}")
	if err != nil {
		if ctx.Err() == nil && !m.hasCommit(ctx, sha) {
			return nil, fmt.Errorf("read tree of %s: %w", sha, ErrNotFound)
		}
		return nil, fmt.Errorf("read tree of %s: %w", sha, err)
	}
	index := parseLsTree(out)
	if len(sha) == 40 || len(sha) == 64 {
		m.trees.put(sha, index)
	}
	return &treeFS{ctx: ctx, index: index, blobs: m.blobs, limit: m.maxFileSize()}, nil
}

// treeFS is an immutable index of one tree plus a way to read blobs.
type treeFS struct {
	ctx   context.Context
	index map[string]*node
	blobs *catFilePool
	limit int64
}

var (
	_ fs.ReadDirFS  = (*treeFS)(nil)
	_ fs.ReadFileFS = (*treeFS)(nil)
	_ fs.StatFS     = (*treeFS)(nil)
	_ fs.ReadLinkFS = (*treeFS)(nil)
)

// lookup finds name, following symlinks in every component and, if
// follow, in the last one too.
func (t *treeFS) lookup(op, name string, follow bool) (*node, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	if err := t.ctx.Err(); err != nil {
		return nil, &fs.PathError{Op: op, Path: name, Err: err}
	}
	p, hops := name, 0
walk:
	if p == "." {
		return t.index["."], nil
	}
	comps := strings.Split(p, "/")
	cur := "."
	for i, c := range comps {
		next := path.Join(cur, c)
		n := t.index[next]
		if n == nil {
			return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
		}
		last := i == len(comps)-1
		if n.mode&fs.ModeSymlink != 0 && (!last || follow) {
			if hops++; hops > maxSymlinkHops {
				return nil, &fs.PathError{Op: op, Path: name, Err: errors.New("too many levels of symbolic links")}
			}
			target, err := t.readBlob(n)
			if err != nil {
				return nil, &fs.PathError{Op: op, Path: name, Err: err}
			}
			resolved := path.Join(path.Dir(next), string(target))
			if path.IsAbs(string(target)) || resolved == ".." || strings.HasPrefix(resolved, "../") {
				return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
			}
			p = path.Join(append([]string{resolved}, comps[i+1:]...)...)
			goto walk
		}
		if !last && !n.isDir() {
			return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
		}
		cur = next
	}
	return t.index[cur], nil
}

func (t *treeFS) readBlob(n *node) ([]byte, error) {
	if n.size > t.limit {
		return nil, fmt.Errorf("%w (%d bytes, limit %d)", ErrFileTooLarge, n.size, t.limit)
	}
	return t.blobs.readBlob(t.ctx, n.oid, t.limit)
}

// Open opens name; directories implement fs.ReadDirFile.
func (t *treeFS) Open(name string) (fs.File, error) {
	n, err := t.lookup("open", name, true)
	if err != nil {
		return nil, err
	}
	info := &fileInfo{name: path.Base(name), n: n}
	if n.isDir() {
		return &openDir{info: info, entries: n.children}, nil
	}
	return &openFile{fs: t, info: info, path: name}, nil
}

// ReadFile reads the whole file name.
func (t *treeFS) ReadFile(name string) ([]byte, error) {
	n, err := t.lookup("read", name, true)
	if err != nil {
		return nil, err
	}
	if n.isDir() {
		return nil, &fs.PathError{Op: "read", Path: name, Err: errors.New("is a directory")}
	}
	data, err := t.readBlob(n)
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: name, Err: err}
	}
	return data, nil
}

// ReadDir lists the directory name sorted by file name.
func (t *treeFS) ReadDir(name string) ([]fs.DirEntry, error) {
	n, err := t.lookup("readdir", name, true)
	if err != nil {
		return nil, err
	}
	if !n.isDir() {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errors.New("not a directory")}
	}
	return dirEntries(n.children), nil
}

// Stat describes name, following a final symlink.
func (t *treeFS) Stat(name string) (fs.FileInfo, error) {
	n, err := t.lookup("stat", name, true)
	if err != nil {
		return nil, err
	}
	return &fileInfo{name: path.Base(name), n: n}, nil
}

// Lstat describes name itself, even if it is a symlink.
func (t *treeFS) Lstat(name string) (fs.FileInfo, error) {
	n, err := t.lookup("lstat", name, false)
	if err != nil {
		return nil, err
	}
	return &fileInfo{name: path.Base(name), n: n}, nil
}

// ReadLink returns the target of the symlink name, as stored in git.
func (t *treeFS) ReadLink(name string) (string, error) {
	n, err := t.lookup("readlink", name, false)
	if err != nil {
		return "", err
	}
	if n.mode&fs.ModeSymlink == 0 {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: fs.ErrInvalid}
	}
	target, err := t.readBlob(n)
	if err != nil {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: err}
	}
	return string(target), nil
}

func dirEntries(children []*node) []fs.DirEntry {
	out := make([]fs.DirEntry, len(children))
	for i, c := range children {
		out[i] = &fileInfo{name: c.name, n: c}
	}
	return out
}

// fileInfo serves as both fs.FileInfo and fs.DirEntry. Git keeps no
// modification times, so ModTime is the zero time.
type fileInfo struct {
	name string
	n    *node
}

func (fi *fileInfo) Name() string               { return fi.name }
func (fi *fileInfo) Size() int64                { return fi.n.size }
func (fi *fileInfo) Mode() fs.FileMode          { return fi.n.mode }
func (fi *fileInfo) ModTime() time.Time         { return time.Time{} }
func (fi *fileInfo) IsDir() bool                { return fi.n.isDir() }
func (fi *fileInfo) Sys() any                   { return nil }
func (fi *fileInfo) Type() fs.FileMode          { return fi.n.mode.Type() }
func (fi *fileInfo) Info() (fs.FileInfo, error) { return fi, nil }
func (fi *fileInfo) String() string             { return fs.FormatFileInfo(fi) }

// openFile reads its content on the first Read, so that Open+Stat (as
// globbing does) costs nothing.
type openFile struct {
	fs   *treeFS
	info *fileInfo
	path string
	r    *bytes.Reader
	err  error
}

func (f *openFile) Stat() (fs.FileInfo, error) { return f.info, nil }
func (f *openFile) Close() error               { return nil }

func (f *openFile) load() error {
	if f.r == nil && f.err == nil {
		data, err := f.fs.readBlob(f.info.n)
		if err != nil {
			f.err = &fs.PathError{Op: "read", Path: f.path, Err: err}
		} else {
			f.r = bytes.NewReader(data)
		}
	}
	return f.err
}

func (f *openFile) Read(p []byte) (int, error) {
	if err := f.load(); err != nil {
		return 0, err
	}
	return f.r.Read(p)
}

// ReadAt lets callers such as archive readers seek without copying.
func (f *openFile) ReadAt(p []byte, off int64) (int, error) {
	if err := f.load(); err != nil {
		return 0, err
	}
	return f.r.ReadAt(p, off)
}

// Seek lets http.ServeContent serve files straight from a commit.
func (f *openFile) Seek(offset int64, whence int) (int64, error) {
	if err := f.load(); err != nil {
		return 0, err
	}
	return f.r.Seek(offset, whence)
}

// openDir is an open directory; ReadDir pages through its entries.
type openDir struct {
	info    *fileInfo
	entries []*node
	offset  int
}

func (d *openDir) Stat() (fs.FileInfo, error) { return d.info, nil }
func (d *openDir) Close() error               { return nil }

func (d *openDir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.info.name, Err: errors.New("is a directory")}
}

func (d *openDir) ReadDir(n int) ([]fs.DirEntry, error) {
	rest := d.entries[d.offset:]
	if n <= 0 {
		d.offset = len(d.entries)
		return dirEntries(rest), nil
	}
	if len(rest) == 0 {
		return nil, io.EOF
	}
	rest = rest[:min(n, len(rest))]
	d.offset += len(rest)
	return dirEntries(rest), nil
}
