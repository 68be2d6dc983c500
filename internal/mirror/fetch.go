package mirror

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// RefChange is a branch or tag that moved in a fetch; polling starts a
// pipeline for each.
type RefChange struct {
	Ref string // refs/heads/x or refs/tags/y
	// Old and New are commit SHAs (an annotated tag is peeled to its
	// commit). Old is "" for a created ref, New is "" for a deleted one.
	Old, New string
}

// Fetch brings the mirror up to date with the remote, pruning refs that
// were deleted there, and returns the refs that moved, sorted by name.
// Fetches of one mirror are serialised, also across processes, so each
// move is reported once; refs moved by an earlier FetchSHA are included.
func (m *Mirror) Fetch(ctx context.Context) ([]RefChange, error) {
	m.fetchMu.Lock()
	defer m.fetchMu.Unlock()
	changes, err := m.fetchLocked(ctx)
	if err != nil {
		return nil, err
	}
	changes = mergeChanges(m.pending, changes)
	m.pending = nil
	return changes, nil
}

// FetchSHA makes sure the commit sha, named by a webhook, is in the mirror,
// fetching everything if it is not. The moves such a fetch finds are kept
// for the next Fetch, so polling alongside webhooks misses nothing.
func (m *Mirror) FetchSHA(ctx context.Context, sha string) error {
	if !isHexSHA(sha) {
		return fmt.Errorf("fetch commit %q: not a commit SHA", sha)
	}
	if _, ok := m.commits.get(sha); ok {
		return nil
	}
	if m.hasCommit(ctx, sha) {
		return nil
	}
	m.fetchMu.Lock()
	defer m.fetchMu.Unlock()
	if m.hasCommit(ctx, sha) { // fetched while we waited
		return nil
	}
	changes, err := m.fetchLocked(ctx)
	if err != nil {
		return fmt.Errorf("fetch commit %s: %w", sha, err)
	}
	m.park(changes)
	if !m.hasCommit(ctx, sha) {
		return fmt.Errorf("fetch commit %s: the remote has no branch or tag containing it: %w", sha, ErrNotFound)
	}
	return nil
}

// fetchLocked fetches while holding the cross-process lock and diffs the
// refs before and after. A failed fetch may still have moved some refs;
// those moves are parked for the next successful Fetch rather than lost.
func (m *Mirror) fetchLocked(ctx context.Context) ([]RefChange, error) {
	unlock, err := lockFile(ctx, filepath.Join(m.dir, fetchLockName))
	if err != nil {
		return nil, fmt.Errorf("lock mirror %s for fetch: %w", m.dir, err)
	}
	defer unlock()
	before, err := m.refs(ctx)
	if err != nil {
		return nil, err
	}
	args := []string{"fetch", "--prune", "--quiet", "--no-write-fetch-head", "origin"}
	_, fetchErr := m.run(ctx, true, args...)
	if fetchErr != nil && isLockError(fetchErr) {
		// Another git (a gc, a hand-run command) holds a ref lock for
		// a moment; give it that moment once.
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond):
			_, fetchErr = m.run(ctx, true, args...)
		}
	}
	after, err := m.refs(ctx)
	if err != nil {
		return nil, err
	}
	changes := diffRefs(before, after)
	if fetchErr != nil {
		m.park(changes)
		return nil, fmt.Errorf("fetch %s: %w", RedactURL(m.remote), fetchErr)
	}
	if len(changes) > 0 {
		m.syncHead(ctx)
	}
	return changes, nil
}

// park keeps moves that the caller will not report, for the next Fetch.
// The caller holds fetchMu.
func (m *Mirror) park(changes []RefChange) {
	if len(changes) == 0 {
		return
	}
	merged := mergeChanges(m.pending, changes)
	m.pending = make(map[string]RefChange, len(merged))
	for _, c := range merged {
		m.pending[c.Ref] = c
	}
}

// refs snapshots the mirror's branches and tags as ref → commit SHA.
func (m *Mirror) refs(ctx context.Context) (map[string]string, error) {
	out, err := m.run(ctx, false, "for-each-ref",
		"--format=%(refname)%00%(objectname)%00%(*objectname)", "refs/heads", "refs/tags")
	if err != nil {
		return nil, fmt.Errorf("list refs: %w", err)
	}
	return parseRefs(out), nil
}

// parseRefs reads for-each-ref lines of "name NUL object NUL peeled".
func parseRefs(out []byte) map[string]string {
	refs := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\x00")
		if len(f) != 3 || f[0] == "" || f[1] == "" {
			continue
		}
		sha := f[1]
		if f[2] != "" {
			sha = f[2]
		}
		refs[f[0]] = sha
	}
	return refs
}

// diffRefs lists the refs whose commit differs between two snapshots.
func diffRefs(before, after map[string]string) []RefChange {
	var changes []RefChange
	for ref, newSHA := range after {
		if old := before[ref]; old != newSHA {
			changes = append(changes, RefChange{Ref: ref, Old: old, New: newSHA})
		}
	}
	for ref, old := range before {
		if _, ok := after[ref]; !ok {
			changes = append(changes, RefChange{Ref: ref, Old: old})
		}
	}
	sort.Slice(changes, func(i, j int) bool { return changes[i].Ref < changes[j].Ref })
	return changes
}

// mergeChanges folds later moves into earlier ones: a ref keeps its first
// Old and its last New, and drops out if it came back to where it was.
func mergeChanges(earlier map[string]RefChange, later []RefChange) []RefChange {
	merged := make(map[string]RefChange, len(earlier)+len(later))
	for ref, c := range earlier {
		merged[ref] = c
	}
	for _, c := range later {
		if e, ok := merged[c.Ref]; ok {
			c.Old = e.Old
		}
		merged[c.Ref] = c
	}
	out := make([]RefChange, 0, len(merged))
	for _, c := range merged {
		if c.Old != c.New {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Ref < out[j].Ref })
	return out
}

// syncHead points the mirror's HEAD at the remote's default branch when it
// points nowhere (a fresh mirror, or a deleted default branch), so clones
// from the mirror check out the right branch and DefaultBranch answers.
// Failure only leaves HEAD as it was.
func (m *Mirror) syncHead(ctx context.Context) {
	if _, err := m.run(ctx, false, "rev-parse", "--verify", "--quiet", "HEAD"); err == nil {
		return
	}
	out, err := m.run(ctx, true, "ls-remote", "--symref", "origin", "HEAD")
	if err != nil {
		return
	}
	for line := range strings.SplitSeq(string(out), "\n") {
		rest, ok := strings.CutPrefix(line, "ref: ")
		if !ok {
			continue
		}
		target, name, _ := strings.Cut(rest, "\t")
		if name == "HEAD" && strings.HasPrefix(target, "refs/heads/") && !strings.HasPrefix(target, "refs/heads/-") {
			_, _ = m.run(ctx, false, "symbolic-ref", "HEAD", target)
			return
		}
	}
}

// hasCommit reports whether the commit sha is in the mirror.
func (m *Mirror) hasCommit(ctx context.Context, sha string) bool {
	_, err := m.run(ctx, false, "cat-file", "-e", sha+"^{commit}")
	return err == nil
}
