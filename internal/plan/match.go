package plan

import (
	"errors"
	"io/fs"
	"path"
	"strconv"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
)

// gitlabGlob turns a GitLab changes/exists pattern into a doublestar one.
// GitLab matches with Ruby's File.fnmatch (FNM_PATHNAME | FNM_DOTMATCH |
// FNM_EXTGLOB), where `**` spans directories only when a `/` follows it: a
// trailing `dir/**` is the same as `dir/*`, while doublestar would match
// the whole tree.
func gitlabGlob(pattern string) string {
	p := strings.TrimPrefix(pattern, "./")
	p = strings.TrimPrefix(p, "/")
	if strings.HasSuffix(p, "**") && (len(p) == 2 || p[len(p)-3] == '/') {
		p = p[:len(p)-1]
	}
	return p
}

// cleanPath makes a changed path comparable with patterns.
func cleanPath(p string) string {
	p = path.Clean("/" + strings.ReplaceAll(p, "\\", "/"))
	return strings.TrimPrefix(p, "/")
}

// firstChanged returns the first changed path that matches one of the
// patterns. Invalid patterns match nothing.
func (pl *planner) firstChanged(patterns []string) (string, bool) {
	return firstMatch(patterns, pl.changed, pl.notice)
}

func firstMatch(patterns, changed []string, notice func(string)) (string, bool) {
	for _, pat := range patterns {
		g := gitlabGlob(pat)
		if !doublestar.ValidatePattern(g) {
			notice("invalid glob pattern " + quote(pat) + " matches no file")
			continue
		}
		for _, c := range changed {
			if doublestar.MatchUnvalidated(g, c) {
				return c, true
			}
		}
	}
	return "", false
}

var errFound = errors.New("found")

// firstExisting returns a file of the repository that matches one of the
// patterns, remembering answers because many jobs share the same
// rules:exists.
func (pl *planner) firstExisting(patterns []string) (string, bool) {
	if pl.in.Files == nil {
		return "", false
	}
	for _, pat := range patterns {
		g := gitlabGlob(pat)
		if hit, ok := pl.existsCache[g]; ok {
			if hit != "" {
				return hit, true
			}
			continue
		}
		hit := ""
		if !doublestar.ValidatePattern(g) {
			pl.notice("invalid glob pattern " + quote(pat) + " matches no file")
		} else if !strings.ContainsAny(g, "*?[{\\") {
			if info, err := fs.Stat(pl.in.Files, g); err == nil && !info.IsDir() {
				hit = g
			}
		} else {
			_ = doublestar.GlobWalk(pl.in.Files, g, func(p string, d fs.DirEntry) error {
				if d.IsDir() {
					return nil
				}
				hit = p
				return errFound
			})
		}
		pl.existsCache[g] = hit
		if hit != "" {
			return hit, true
		}
	}
	return "", false
}

func quote(s string) string { return strconv.Quote(s) }
