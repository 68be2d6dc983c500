// Package fileset turns the `paths`, `exclude` and `untracked` settings of a
// GitLab CI `cache:` or `artifacts:` entry into the concrete list of files
// they select, so that caches and artifacts agree on one set of rules.
//
// The rules follow GitLab Runner: patterns are relative to the project
// directory and use doublestar globbing (`**` crosses directories); a pattern
// that matches a directory selects everything below it; `exclude` patterns are
// matched against each selected path and are not recursive (exclude `dir/**`,
// not `dir/`, to drop a directory's contents); `untracked: true` adds every
// file git does not track, ignored files included.
package fileset

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
)

// Spec is the plain-value form of a `cache:` or `artifacts:` file selection.
type Spec struct {
	// Paths are doublestar globs relative to the project directory.
	Paths []string
	// Exclude are doublestar globs; a selected path matching one is dropped.
	Exclude []string
	// Untracked adds every file for which Tracked returns false.
	Untracked bool
	// Tracked reports whether git tracks the slash path; it is required when
	// Untracked is set. GitTracked builds one from a real repository.
	Tracked func(path string) bool
}

// ErrOutsideProject reports a pattern that points above or outside the
// project directory; GitLab refuses to archive such paths.
var ErrOutsideProject = errors.New("path is outside the project directory")

// Resolve returns the sorted, unique slash paths selected by spec in fsys.
//
// Entries are regular files, symlinks (never followed, so a link to a
// directory is kept as a link) and empty directories, which GitLab's archives
// also keep. Other file types (sockets, devices, FIFOs) are skipped. A
// pattern matching nothing is not an error: GitLab only warns about it.
func Resolve(fsys fs.FS, spec Spec) ([]string, error) {
	if spec.Untracked && spec.Tracked == nil {
		return nil, errors.New("resolve files: untracked is set but no Tracked function was given")
	}
	excludes := make([]string, 0, len(spec.Exclude))
	for _, raw := range spec.Exclude {
		p, _, err := normalizePattern(raw)
		if err != nil {
			return nil, fmt.Errorf("resolve files: exclude %q: %w", raw, err)
		}
		if p != "" {
			excludes = append(excludes, p)
		}
	}

	c := collector{fsys: fsys, seen: map[string]bool{}, links: map[string]error{}}
	for _, raw := range spec.Paths {
		if err := c.addPattern(raw); err != nil {
			return nil, fmt.Errorf("resolve files: path %q: %w", raw, err)
		}
	}
	if spec.Untracked {
		if err := c.addUntracked(spec.Tracked); err != nil {
			return nil, fmt.Errorf("resolve files: untracked: %w", err)
		}
	}

	out := make([]string, 0, len(c.seen))
	for p := range c.seen {
		if !excluded(excludes, p) {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out, nil
}

// excluded reports whether any exclude pattern matches p. Patterns were
// validated by normalizePattern, so MatchUnvalidated cannot misreport.
func excluded(patterns []string, p string) bool {
	for _, pat := range patterns {
		if doublestar.MatchUnvalidated(pat, p) {
			return true
		}
	}
	return false
}

// collector accumulates selected entries; seen doubles as the result set so
// overlapping patterns do not produce duplicates.
type collector struct {
	fsys fs.FS
	seen map[string]bool
	// links caches the verdict of checkAncestors per directory.
	links map[string]error
}

func (c *collector) addPattern(raw string) error {
	pat, dirOnly, err := normalizePattern(raw)
	if err != nil || pat == "" {
		return err
	}
	var matches []string
	if pat == "." {
		matches = []string{"."}
	} else {
		matches, err = doublestar.Glob(c.fsys, pat, doublestar.WithNoFollow())
		if err != nil {
			return fmt.Errorf("glob: %w", err)
		}
	}
	for _, m := range matches {
		if err := c.checkAncestors(path.Dir(m)); err != nil {
			return err
		}
		info, err := fs.Lstat(c.fsys, m)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // removed while we looked: same as no match
			}
			return fmt.Errorf("inspect %q: %w", m, err)
		}
		if dirOnly && !info.IsDir() {
			continue
		}
		if info.IsDir() {
			if err := c.addTree(m, nil); err != nil {
				return err
			}
			continue
		}
		c.addEntry(m, info.Mode())
	}
	return nil
}

// addTree walks root without following symlinks. When keep is non-nil only
// files it accepts are added and empty directories are left out, since git
// has no notion of them.
func (c *collector) addTree(root string, keep func(string) bool) error {
	return fs.WalkDir(c.fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("walk %q: %w", p, err)
		}
		if d.IsDir() {
			if keep != nil {
				if d.Name() == ".git" && p != "." {
					return fs.SkipDir
				}
				return nil
			}
			if p == "." {
				return nil
			}
			empty, err := isEmptyDir(c.fsys, p)
			if err != nil {
				return err
			}
			if empty {
				c.seen[p] = true
			}
			return nil
		}
		if keep != nil && !keep(p) {
			return nil
		}
		c.addEntry(p, d.Type())
		return nil
	})
}

func (c *collector) addEntry(p string, mode fs.FileMode) {
	if mode.IsRegular() || mode&fs.ModeSymlink != 0 {
		c.seen[p] = true
	}
}

func (c *collector) addUntracked(tracked func(string) bool) error {
	return c.addTree(".", func(p string) bool { return !tracked(p) })
}

func isEmptyDir(fsys fs.FS, dir string) (bool, error) {
	f, err := fsys.Open(dir)
	if err != nil {
		return false, fmt.Errorf("open %q: %w", dir, err)
	}
	defer f.Close()
	rd, ok := f.(fs.ReadDirFile)
	if !ok {
		entries, err := fs.ReadDir(fsys, dir)
		return len(entries) == 0, err
	}
	entries, err := rd.ReadDir(1)
	if len(entries) > 0 {
		return false, nil
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return false, fmt.Errorf("read %q: %w", dir, err)
	}
	return true, nil
}

// normalizePattern makes a user pattern relative and clean. dirOnly is set
// for patterns written with a trailing slash, which only match directories.
// An empty result means the pattern selects nothing (blank entries are
// ignored, as GitLab does).
func normalizePattern(raw string) (pat string, dirOnly bool, err error) {
	if strings.TrimSpace(raw) == "" {
		return "", false, nil
	}
	if path.IsAbs(raw) {
		return "", false, ErrOutsideProject
	}
	dirOnly = strings.HasSuffix(raw, "/")
	pat = path.Clean(raw)
	if pat == ".." || strings.HasPrefix(pat, "../") {
		return "", false, ErrOutsideProject
	}
	if strings.ContainsRune(raw, 0) {
		return "", false, errors.New("pattern contains a NUL byte")
	}
	if !doublestar.ValidatePattern(pat) {
		return "", false, fmt.Errorf("bad glob pattern")
	}
	return pat, dirOnly, nil
}
