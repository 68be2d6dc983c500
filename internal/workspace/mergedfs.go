package workspace

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// maxSymlinkHops matches the kernel's limit before ELOOP.
const maxSymlinkHops = 40

// errEscapes reports a symlink that leads outside the workspace, which
// GitLab refuses to collect as well.
var errEscapes = errors.New("symbolic link leads outside the workspace")

// mergedFS reads an overlay's merged view without mounting it, the way the
// kernel builds it: an upper entry hides the lower one, a whiteout (character
// device 0/0) hides it without replacing it, and an opaque upper folder
// hides the whole lower folder. Upper layers written with redirect_dir or
// metacopy are never produced by this package's mounts.
type mergedFS struct {
	upper  string
	lowers []string // top first: added layers, then the snapshot
	mount  string   // where the job saw the overlay, to resolve absolute symlinks
}

// node is one resolved path: the upper and lower host paths that make it up
// (upper may be empty, lowers top first) and the Lstat of the topmost.
type node struct {
	upper  string
	lowers []string
	info   fs.FileInfo
}

func (n node) top() string {
	if n.upper != "" {
		return n.upper
	}
	if len(n.lowers) > 0 {
		return n.lowers[0]
	}
	return ""
}

// walk resolves name in the merged view, following symlinks in every
// component but the last unless follow is set.
func (m *mergedFS) walk(op, name string, follow bool) (node, error) {
	if !fs.ValidPath(name) {
		return node{}, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	parts := splitPath(name)
	hops := 0
restart:
	cur, err := m.root()
	if err != nil {
		return node{}, &fs.PathError{Op: op, Path: name, Err: err}
	}
	for i, c := range parts {
		next, err := m.child(cur, c)
		if err != nil {
			return node{}, &fs.PathError{Op: op, Path: name, Err: err}
		}
		last := i == len(parts)-1
		if next.info.Mode()&fs.ModeSymlink != 0 && (!last || follow) {
			if hops++; hops > maxSymlinkHops {
				return node{}, &fs.PathError{Op: op, Path: name, Err: syscall.ELOOP}
			}
			target, err := os.Readlink(next.top())
			if err != nil {
				return node{}, &fs.PathError{Op: op, Path: name, Err: err}
			}
			resolved, ok := m.linkTarget(path.Join(parts[:i]...), target)
			if !ok {
				return node{}, &fs.PathError{Op: op, Path: name, Err: errEscapes}
			}
			parts = append(splitPath(resolved), parts[i+1:]...)
			goto restart
		}
		if !last && !next.info.IsDir() {
			return node{}, &fs.PathError{Op: op, Path: name, Err: syscall.ENOTDIR}
		}
		cur = next
	}
	return cur, nil
}

func splitPath(name string) []string {
	if name == "." || name == "" {
		return nil
	}
	return strings.Split(name, "/")
}

func (m *mergedFS) root() (node, error) {
	info, err := os.Lstat(m.upper)
	if err != nil {
		return node{}, err
	}
	n := node{upper: m.upper, info: info}
	if !isOpaque(m.upper) {
		n.lowers = m.lowers
	}
	return n, nil
}

// child looks up one name in a merged folder.
func (m *mergedFS) child(dir node, name string) (node, error) {
	var n node
	if dir.upper != "" {
		p := filepath.Join(dir.upper, name)
		info, err := os.Lstat(p)
		switch {
		case err == nil:
			if isWhiteout(info) {
				return node{}, fs.ErrNotExist
			}
			n.upper, n.info = p, info
			if !info.IsDir() || isOpaque(p) {
				return n, nil
			}
		case !isAbsent(err):
			return node{}, err
		}
	}
	// Lower layers are plain trees (no whiteouts): a non-folder hides what
	// lies beneath it, folders merge.
	for _, lower := range dir.lowers {
		p := filepath.Join(lower, name)
		info, err := os.Lstat(p)
		switch {
		case err == nil:
			if n.info == nil {
				n.info = info
			}
			if !n.info.IsDir() {
				if n.upper == "" && len(n.lowers) == 0 {
					n.lowers = []string{p}
				}
				return n, nil
			}
			if info.IsDir() {
				n.lowers = append(n.lowers, p)
			}
		case !isAbsent(err):
			return node{}, err
		}
	}
	if n.info == nil {
		return node{}, fs.ErrNotExist
	}
	return n, nil
}

func isAbsent(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// linkTarget turns a symlink found in folder dir into a path of the merged
// view, or reports that it leaves the workspace.
func (m *mergedFS) linkTarget(dir, target string) (string, bool) {
	var p string
	if filepath.IsAbs(target) {
		rel, err := filepath.Rel(m.mount, target)
		if err != nil || !(rel == "." || filepath.IsLocal(rel)) {
			return "", false
		}
		p = filepath.ToSlash(rel)
	} else {
		p = path.Join(dir, target)
	}
	if p == ".." || strings.HasPrefix(p, "../") {
		return "", false
	}
	return p, true
}

// Open opens name in the merged view, following symlinks.
func (m *mergedFS) Open(name string) (fs.File, error) {
	n, err := m.walk("open", name, true)
	if err != nil {
		return nil, err
	}
	if n.info.IsDir() {
		return &mergedDir{fs: m, node: n, info: renamed{n.info, path.Base(name)}}, nil
	}
	f, err := os.Open(n.top())
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: errors.Unwrap(err)}
	}
	return &mergedFile{File: f, name: path.Base(name)}, nil
}

// Stat describes name, following symlinks.
func (m *mergedFS) Stat(name string) (fs.FileInfo, error) {
	n, err := m.walk("stat", name, true)
	if err != nil {
		return nil, err
	}
	return renamed{n.info, path.Base(name)}, nil
}

// Lstat describes name without following a final symlink.
func (m *mergedFS) Lstat(name string) (fs.FileInfo, error) {
	n, err := m.walk("lstat", name, false)
	if err != nil {
		return nil, err
	}
	return renamed{n.info, path.Base(name)}, nil
}

// ReadLink returns the target of the symlink name.
func (m *mergedFS) ReadLink(name string) (string, error) {
	n, err := m.walk("readlink", name, false)
	if err != nil {
		return "", err
	}
	if n.info.Mode()&fs.ModeSymlink == 0 {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: fs.ErrInvalid}
	}
	target, err := os.Readlink(n.top())
	if err != nil {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: errors.Unwrap(err)}
	}
	return target, nil
}

// ReadDir lists the merged folder name, sorted by file name.
func (m *mergedFS) ReadDir(name string) ([]fs.DirEntry, error) {
	n, err := m.walk("readdir", name, true)
	if err != nil {
		return nil, err
	}
	if !n.info.IsDir() {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: syscall.ENOTDIR}
	}
	ents, err := m.readDir(n)
	if err != nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: err}
	}
	return ents, nil
}

func (m *mergedFS) readDir(n node) ([]fs.DirEntry, error) {
	seen := make(map[string]bool)
	var out []fs.DirEntry
	if n.upper != "" {
		ents, err := os.ReadDir(n.upper)
		if err != nil {
			return nil, err
		}
		for _, e := range ents {
			seen[e.Name()] = true
			if e.Type()&fs.ModeCharDevice != 0 {
				if info, err := e.Info(); err == nil && isWhiteout(info) {
					continue
				}
			}
			out = append(out, e)
		}
	}
	for _, lower := range n.lowers {
		ents, err := os.ReadDir(lower)
		if err != nil && !isAbsent(err) {
			return nil, err
		}
		for _, e := range ents {
			if !seen[e.Name()] {
				seen[e.Name()] = true
				out = append(out, e)
			}
		}
	}
	slices.SortFunc(out, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return out, nil
}

// mergedDir is an open merged folder.
type mergedDir struct {
	fs      *mergedFS
	node    node
	info    fs.FileInfo
	entries []fs.DirEntry
	read    bool
	offset  int
}

func (d *mergedDir) Stat() (fs.FileInfo, error) { return d.info, nil }

func (d *mergedDir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.info.Name(), Err: syscall.EISDIR}
}

func (d *mergedDir) Close() error { return nil }

// ReadDir follows fs.ReadDirFile: n <= 0 returns the rest, n > 0 at most n
// entries and io.EOF at the end.
func (d *mergedDir) ReadDir(n int) ([]fs.DirEntry, error) {
	if !d.read {
		ents, err := d.fs.readDir(d.node)
		if err != nil {
			return nil, &fs.PathError{Op: "readdir", Path: d.info.Name(), Err: err}
		}
		d.entries, d.read = ents, true
	}
	rest := d.entries[d.offset:]
	if n <= 0 {
		d.offset = len(d.entries)
		return rest, nil
	}
	if len(rest) == 0 {
		return nil, io.EOF
	}
	n = min(n, len(rest))
	d.offset += n
	return rest[:n], nil
}

// mergedFile is an open file whose Stat reports the name it was opened by,
// not the name of a symlink's target.
type mergedFile struct {
	*os.File
	name string
}

func (f *mergedFile) Stat() (fs.FileInfo, error) {
	info, err := f.File.Stat()
	if err != nil {
		return nil, err
	}
	return renamed{info, f.name}, nil
}

// renamed reports a FileInfo under the name it has in the merged view.
type renamed struct {
	fs.FileInfo
	name string
}

func (r renamed) Name() string { return r.name }
