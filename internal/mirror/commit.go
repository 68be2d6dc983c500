package mirror

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// CommitInfo is what a pipeline shows and exports about its commit.
type CommitInfo struct {
	SHA       string
	Message   string    // full message without trailing newlines
	Author    string    // "Name <email>"
	Timestamp time.Time // committer date, as GitLab's CI_COMMIT_TIMESTAMP
	Parents   []string
}

// Resolve turns a branch name, tag name, full ref (refs/heads/x,
// refs/tags/y) or commit SHA (full or abbreviated) into a commit SHA.
// isTag tells a tag from a branch; a name that is both is taken as the
// branch, as git itself does.
func (m *Mirror) Resolve(ctx context.Context, ref string) (sha string, isTag bool, err error) {
	if err := checkRefInput(ref); err != nil {
		return "", false, fmt.Errorf("resolve %q: %w", ref, err)
	}
	var candidates []string
	if strings.HasPrefix(ref, "refs/") {
		candidates = []string{ref}
	} else {
		candidates = []string{"refs/heads/" + ref, "refs/tags/" + ref}
		if isHexSHA(ref) {
			candidates = append(candidates, ref)
		}
	}
	for _, c := range candidates {
		out, err := m.run(ctx, false, "rev-parse", "--verify", "--quiet", c+"^{commit}")
		if err == nil {
			return strings.TrimSpace(string(out)), strings.HasPrefix(c, "refs/tags/"), nil
		}
		var ge *gitError
		if !errors.As(err, &ge) || ge.stderr != "" || exitCode(err) != 1 {
			return "", false, fmt.Errorf("resolve %q: %w", ref, err)
		}
	}
	return "", false, fmt.Errorf("resolve %q: %w", ref, ErrNotFound)
}

// commitFormat separates fields with NUL, which git never puts in names or
// dates; the message comes last so that anything in it stays in it.
const commitFormat = "--format=%H%x00%P%x00%an <%ae>%x00%cI%x00%B"

// Commit reads the commit sha.
func (m *Mirror) Commit(ctx context.Context, sha string) (CommitInfo, error) {
	if !isHexSHA(sha) {
		return CommitInfo{}, fmt.Errorf("read commit %q: not a commit SHA", sha)
	}
	if info, ok := m.commits.get(sha); ok {
		return info, nil
	}
	out, err := m.run(ctx, false, "log", "-1", "--no-show-signature", commitFormat, sha+"^{commit}", "--")
	if err != nil {
		if ctx.Err() == nil && !m.hasCommit(ctx, sha) {
			return CommitInfo{}, fmt.Errorf("read commit %s: %w", sha, ErrNotFound)
		}
		return CommitInfo{}, fmt.Errorf("read commit %s: %w", sha, err)
	}
	info, err := parseCommit(out)
	if err != nil {
		return CommitInfo{}, fmt.Errorf("read commit %s: %w", sha, err)
	}
	m.commits.put(info.SHA, info)
	return info, nil
}

// parseCommit reads one record of commitFormat.
func parseCommit(out []byte) (CommitInfo, error) {
	f := bytes.SplitN(out, []byte{0}, 5)
	if len(f) != 5 {
		return CommitInfo{}, errors.New("unexpected output of git log")
	}
	if !isHexSHA(string(f[0])) {
		return CommitInfo{}, fmt.Errorf("unexpected commit id %q from git log", f[0])
	}
	ts, err := time.Parse(time.RFC3339, string(f[3]))
	if err != nil {
		return CommitInfo{}, fmt.Errorf("commit date: %w", err)
	}
	return CommitInfo{
		SHA:       string(f[0]),
		Parents:   strings.Fields(string(f[1])),
		Author:    string(f[2]),
		Timestamp: ts,
		// Trailing newlines are git's framing, not the author's text;
		// gitrepo strips them the same way for local pipelines.
		Message: strings.TrimRight(string(f[4]), "\n"),
	}, nil
}

// Changed lists the paths that differ between the commits from and to, for
// rules:changes; a rename counts as both paths. known is false when from is
// empty, all zeros (a new branch) or no longer in the mirror (a force push
// pruned it): the caller cannot tell what changed and GitLab then treats
// every changes rule as matching.
func (m *Mirror) Changed(ctx context.Context, from, to string) (paths []string, known bool, err error) {
	if from == "" || strings.Trim(from, "0") == "" {
		return nil, false, nil
	}
	if !isHexSHA(from) || !isHexSHA(to) {
		return nil, false, fmt.Errorf("diff %q..%q: not commit SHAs", from, to)
	}
	if !m.hasCommit(ctx, from) {
		return nil, false, nil
	}
	if !m.hasCommit(ctx, to) {
		return nil, false, fmt.Errorf("diff %s..%s: %s %w", from, to, to, ErrNotFound)
	}
	out, err := m.run(ctx, false, "diff-tree", "-r", "-z", "--name-only", "--no-renames", "--no-commit-id",
		from+"^{commit}", to+"^{commit}", "--")
	if err != nil {
		return nil, false, fmt.Errorf("diff %s..%s: %w", from, to, err)
	}
	paths = []string{}
	for p := range strings.SplitSeq(string(out), "\x00") {
		if p != "" {
			paths = append(paths, p)
		}
	}
	return paths, true, nil
}

// isHexSHA accepts full SHA-1 or SHA-256 ids and abbreviations git would
// take; anything else must not reach git's command line as a revision.
func isHexSHA(s string) bool {
	if len(s) < 4 || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// checkRefInput rejects names that git would read as options or revision
// syntax (ranges, reflogs, peeling) instead of as a plain ref name.
func checkRefInput(ref string) error {
	switch {
	case ref == "":
		return errors.New("empty ref")
	case strings.HasPrefix(ref, "-"):
		return errors.New("ref starts with a dash")
	case strings.Contains(ref, ".."), strings.Contains(ref, "@{"):
		return errors.New("not a plain ref name")
	}
	for _, c := range ref {
		if c < 0x20 || c == 0x7f || strings.ContainsRune(" ~^:?*[\\", c) {
			return fmt.Errorf("ref contains %q", c)
		}
	}
	return nil
}
