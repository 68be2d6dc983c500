package worker

import (
	"fmt"
	"io"
	"path"
	"path/filepath"
	"strings"

	"github.com/gantry-ci/gantry/internal/variables"
)

// projectPaths expands the variables of cache and artifacts patterns and
// puts them in the project-relative form file selection works with.
// Pipelines often write $CI_PROJECT_DIR/dist: an absolute path inside the
// project becomes relative. A path outside the project is dropped with
// GitLab Runner's warning (when log is not nil), so that one bad entry does
// not cost the job its other paths.
func projectPaths(patterns []string, lookup func(string) (string, bool), log io.Writer) []string {
	projectDir, _ := lookup("CI_PROJECT_DIR")
	out := make([]string, 0, len(patterns))
	for _, raw := range patterns {
		p := variables.Expand(raw, lookup)
		if strings.TrimSpace(p) == "" {
			continue
		}
		rel, ok := insideProject(p, projectDir)
		if !ok {
			if log != nil {
				fmt.Fprintf(log, "WARNING: %s: not supported: outside build directory\n", p)
			}
			continue
		}
		out = append(out, rel)
	}
	return out
}

// relativePaths expands patterns and makes those inside the project
// relative, leaving the others as they are for the caller to reject.
func relativePaths(patterns []string, lookup func(string) (string, bool)) []string {
	projectDir, _ := lookup("CI_PROJECT_DIR")
	out := make([]string, len(patterns))
	for i, raw := range patterns {
		out[i] = variables.Expand(raw, lookup)
		if rel, ok := insideProject(out[i], projectDir); ok {
			out[i] = rel
		}
	}
	return out
}

// insideProject returns p relative to the project, keeping a trailing
// slash (which selects directories only), and whether it stays inside.
func insideProject(p, projectDir string) (string, bool) {
	dirOnly := strings.HasSuffix(p, "/")
	if filepath.IsAbs(p) {
		if projectDir == "" {
			return "", false
		}
		rel, err := filepath.Rel(projectDir, p)
		if err != nil || !filepath.IsLocal(rel) && rel != "." {
			return "", false
		}
		p = filepath.ToSlash(rel)
		if dirOnly && p != "." {
			p += "/"
		}
		return p, true
	}
	if c := path.Clean(p); c == ".." || strings.HasPrefix(c, "../") {
		return "", false
	}
	return p, true
}
