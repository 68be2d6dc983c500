package mirror

import (
	"bytes"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// node is one entry of a tree listing.
type node struct {
	name     string // base name; "." for the root
	mode     fs.FileMode
	oid      string
	size     int64
	children []*node // sorted by name; nil for anything but a directory
}

func (n *node) isDir() bool { return n.mode.IsDir() }

// gitMode maps git's tree entry modes to fs modes. Submodules (gitlinks)
// become directories so that a walk sees the folder but nothing in it.
func gitMode(mode string) (fs.FileMode, bool) {
	switch mode {
	case "100644", "100664":
		return 0o644, true
	case "100755":
		return 0o755, true
	case "120000":
		return fs.ModeSymlink | 0o777, true
	case "040000":
		return fs.ModeDir | 0o755, true
	case "160000":
		return fs.ModeDir | 0o755, true
	}
	return 0, false
}

// parseLsTree builds the directory tree from the output of
// `git ls-tree -r -t -z --long`: records of
// "<mode> SP <type> SP <oid> SP+ <size|-> TAB <path> NUL".
// Paths come from the repository, so anything odd (an entry named "..",
// an unknown mode, a duplicate) is skipped rather than trusted.
func parseLsTree(out []byte) map[string]*node {
	root := &node{name: ".", mode: fs.ModeDir | 0o755}
	index := map[string]*node{".": root}
	var dir func(p string) *node
	dir = func(p string) *node {
		if n, ok := index[p]; ok {
			if n.isDir() {
				return n
			}
			return nil
		}
		parent := dir(path.Dir(p))
		if parent == nil {
			return nil
		}
		n := &node{name: path.Base(p), mode: fs.ModeDir | 0o755}
		index[p] = n
		parent.children = append(parent.children, n)
		return n
	}
	for rec := range bytes.SplitSeq(out, []byte{0}) {
		meta, p, ok := strings.Cut(string(rec), "\t")
		if !ok || p == "." || !fs.ValidPath(p) {
			continue
		}
		f := strings.Fields(meta)
		if len(f) != 4 {
			continue
		}
		mode, ok := gitMode(f[0])
		if !ok {
			continue
		}
		if _, dup := index[p]; dup {
			continue
		}
		var size int64
		if !mode.IsDir() {
			s, err := strconv.ParseInt(f[3], 10, 64)
			if err != nil || s < 0 {
				continue
			}
			size = s
		}
		parent := dir(path.Dir(p))
		if parent == nil {
			continue
		}
		n := &node{name: path.Base(p), mode: mode, oid: f[2], size: size}
		index[p] = n
		parent.children = append(parent.children, n)
	}
	for _, n := range index {
		sort.Slice(n.children, func(i, j int) bool { return n.children[i].name < n.children[j].name })
	}
	return index
}
