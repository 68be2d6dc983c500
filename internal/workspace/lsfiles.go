package workspace

import (
	"bytes"
	"fmt"
	"path"
	"strconv"
	"strings"
)

// Git file modes from the index that change how an entry is materialised.
const (
	modeGitlink = 0o160000
	modeSymlink = 0o120000
)

// indexEntry is one path from `git ls-files --stage`.
type indexEntry struct {
	path string
	mode uint32
}

// parseStageEntries parses the NUL-separated output of
// `git ls-files -z --stage`. Paths come from the repository, which the user
// may not control (a cloned project), so each is checked to stay inside the
// working tree. Unmerged paths appear once per stage; they are reported once.
func parseStageEntries(data []byte) ([]indexEntry, error) {
	var out []indexEntry
	seen := make(map[string]struct{})
	for rec := range bytes.SplitSeq(data, []byte{0}) {
		if len(rec) == 0 {
			continue
		}
		meta, name, ok := bytes.Cut(rec, []byte{'\t'})
		if !ok {
			return nil, fmt.Errorf("parse ls-files entry %q: missing tab", rec)
		}
		fields := strings.Fields(string(meta))
		if len(fields) != 3 {
			return nil, fmt.Errorf("parse ls-files entry %q: want mode, object and stage", rec)
		}
		mode, err := strconv.ParseUint(fields[0], 8, 32)
		if err != nil {
			return nil, fmt.Errorf("parse ls-files mode %q: %w", fields[0], err)
		}
		p := string(name)
		if err := checkRepoPath(p); err != nil {
			return nil, err
		}
		if _, dup := seen[p]; dup {
			continue
		}
		seen[p] = struct{}{}
		out = append(out, indexEntry{path: p, mode: uint32(mode)})
	}
	return out, nil
}

// parseOtherFiles parses the NUL-separated output of
// `git ls-files -z --others --exclude-standard`. Entries ending in "/" are
// nested repositories that are not submodules: GitLab would not have them,
// so they are left out.
func parseOtherFiles(data []byte) ([]string, error) {
	var out []string
	for rec := range bytes.SplitSeq(data, []byte{0}) {
		if len(rec) == 0 || rec[len(rec)-1] == '/' {
			continue
		}
		p := string(rec)
		if err := checkRepoPath(p); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// checkRepoPath rejects paths that would land outside the snapshot or inside
// its .git folder, whatever git printed.
func checkRepoPath(p string) error {
	if p == "" || path.Clean(p) != p || !isLocalSlash(p) {
		return fmt.Errorf("repository path %q is not a clean relative path", p)
	}
	for part := range strings.SplitSeq(p, "/") {
		if strings.EqualFold(part, ".git") {
			return fmt.Errorf("repository path %q is inside a .git folder", p)
		}
	}
	return nil
}

// isLocalSlash reports whether a slash-separated path stays below its root.
func isLocalSlash(p string) bool {
	return !strings.HasPrefix(p, "/") && p != ".." && !strings.HasPrefix(p, "../") && !strings.ContainsRune(p, 0)
}
