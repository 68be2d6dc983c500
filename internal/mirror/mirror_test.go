package mirror

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestFetchReportsMovedRefs(t *testing.T) {
	ctx := context.Background()
	u := newUpstream(t)
	m := openMirror(t, u.dir)

	changes, err := m.Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []RefChange{
		{Ref: "refs/heads/feature", New: u.feature},
		{Ref: "refs/heads/main", New: u.second},
		{Ref: "refs/tags/v1.0", New: u.first}, // peeled to the commit
	}
	if !reflect.DeepEqual(changes, want) {
		t.Fatalf("first fetch:\n got %+v\nwant %+v", changes, want)
	}
	if branch, err := m.DefaultBranch(ctx); err != nil || branch != "main" {
		t.Fatalf("DefaultBranch = %q, %v; want main", branch, err)
	}

	changes, err = m.Fetch(ctx)
	if err != nil || len(changes) != 0 {
		t.Fatalf("fetch with nothing new = %+v, %v; want no changes", changes, err)
	}

	third := u.commit("ci/deploy.yml", "deploy:\n  script: ship it\n", "third")
	gitIn(t, u.dir, "branch", "-D", "feature")
	gitIn(t, u.dir, "tag", "v2.0", third)
	changes, err = m.Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want = []RefChange{
		{Ref: "refs/heads/feature", Old: u.feature},
		{Ref: "refs/heads/main", Old: u.second, New: third},
		{Ref: "refs/tags/v2.0", New: third},
	}
	if !reflect.DeepEqual(changes, want) {
		t.Fatalf("fetch after push:\n got %+v\nwant %+v", changes, want)
	}
	if _, _, err := m.Resolve(ctx, "feature"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted branch still resolves: %v", err)
	}
}

// Two server processes sharing a mirror must not both start a pipeline for
// the same push.
func TestConcurrentFetchesReportEachMoveOnce(t *testing.T) {
	ctx := context.Background()
	m1, u := fetchedMirror(t)
	m2, err := Open(ctx, m1.Dir(), u.dir)
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	third := u.commit("x.txt", "x", "third")

	var wg sync.WaitGroup
	results := make([][]RefChange, 4)
	errs := make([]error, 4)
	for i := range results {
		m := m1
		if i%2 == 1 {
			m = m2
		}
		wg.Go(func() { results[i], errs[i] = m.Fetch(ctx) })
	}
	wg.Wait()
	var all []RefChange
	for i := range results {
		if errs[i] != nil {
			t.Fatalf("fetch %d: %v", i, errs[i])
		}
		all = append(all, results[i]...)
	}
	want := []RefChange{{Ref: "refs/heads/main", Old: u.second, New: third}}
	if !reflect.DeepEqual(all, want) {
		t.Fatalf("changes over all fetches = %+v, want %+v", all, want)
	}
}

func TestFetchSHA(t *testing.T) {
	ctx := context.Background()
	m, u := fetchedMirror(t)
	third := u.commit("x.txt", "x", "third")

	if err := m.FetchSHA(ctx, third); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Commit(ctx, third); err != nil {
		t.Fatalf("commit named by the webhook is not readable: %v", err)
	}
	// The poller must still learn that main moved.
	changes, err := m.Fetch(ctx)
	want := []RefChange{{Ref: "refs/heads/main", Old: u.second, New: third}}
	if err != nil || !reflect.DeepEqual(changes, want) {
		t.Fatalf("Fetch after FetchSHA = %+v, %v; want %+v", changes, err, want)
	}

	err = m.FetchSHA(ctx, strings.Repeat("ab", 20))
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("FetchSHA of an unknown commit = %v, want ErrNotFound", err)
	}
	if err := m.FetchSHA(ctx, "--upload-pack=evil"); err == nil {
		t.Fatal("FetchSHA accepted an option as a SHA")
	}
}

func TestOpenExistingMirrorFollowsNewRemote(t *testing.T) {
	ctx := context.Background()
	m, _ := fetchedMirror(t)
	other := newUpstream(t)
	gitIn(t, other.dir, "checkout", "-q", "-b", "moved")
	moved := other.commit("moved.txt", "m", "moved repo")

	m2, err := Open(ctx, m.Dir(), other.dir)
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	if _, err := m2.Fetch(ctx); err != nil {
		t.Fatal(err)
	}
	if sha, _, err := m2.Resolve(ctx, "moved"); err != nil || sha != moved {
		t.Fatalf("Resolve(moved) = %s, %v; want %s from the new remote", sha, err, moved)
	}

	notGit := t.TempDir()
	if _, err := Open(ctx, notGit, other.dir); err == nil {
		t.Fatal("Open accepted a folder that is not a git repository")
	}
	for _, bad := range []string{"", "-oProxyCommand=evil", "ext::sh -c evil"} {
		if _, err := Open(ctx, filepath.Join(t.TempDir(), "m"), bad); err == nil {
			t.Errorf("Open accepted remote %q", bad)
		}
	}
}

func TestResolve(t *testing.T) {
	ctx := context.Background()
	m, u := fetchedMirror(t)
	tests := []struct {
		ref   string
		sha   string
		isTag bool
		err   bool
	}{
		{ref: "main", sha: u.second},
		{ref: "refs/heads/main", sha: u.second},
		{ref: "feature", sha: u.feature},
		{ref: "v1.0", sha: u.first, isTag: true},
		{ref: "refs/tags/v1.0", sha: u.first, isTag: true},
		{ref: u.first, sha: u.first},
		{ref: u.feature[:10], sha: u.feature},
		{ref: "nope", err: true},
		{ref: "refs/heads/nope", err: true},
		{ref: "main..feature", err: true},
		{ref: "main^", err: true},
		{ref: "main@{1}", err: true},
		{ref: "--all", err: true},
		{ref: "", err: true},
	}
	for _, tt := range tests {
		sha, isTag, err := m.Resolve(ctx, tt.ref)
		if tt.err {
			if err == nil {
				t.Errorf("Resolve(%q) = %s, want an error", tt.ref, sha)
			}
			continue
		}
		if err != nil || sha != tt.sha || isTag != tt.isTag {
			t.Errorf("Resolve(%q) = %s, %v, %v; want %s, %v", tt.ref, sha, isTag, err, tt.sha, tt.isTag)
		}
	}
	if _, _, err := m.Resolve(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown ref error %v is not ErrNotFound", err)
	}
}

func TestCommit(t *testing.T) {
	ctx := context.Background()
	m, u := fetchedMirror(t)
	got, err := m.Commit(ctx, u.first)
	if err != nil {
		t.Fatal(err)
	}
	want := CommitInfo{
		SHA:       u.first,
		Message:   "first\n\nwith a body",
		Author:    "Ann Author <ann@example.com>",
		Timestamp: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC),
	}
	if got.SHA != want.SHA || got.Message != want.Message || got.Author != want.Author ||
		!got.Timestamp.Equal(want.Timestamp) || len(got.Parents) != 0 {
		t.Fatalf("Commit(first) = %+v\nwant %+v", got, want)
	}
	got, err = m.Commit(ctx, u.second)
	if err != nil || !reflect.DeepEqual(got.Parents, []string{u.first}) {
		t.Fatalf("Commit(second).Parents = %v, %v; want [%s]", got.Parents, err, u.first)
	}
	if _, err := m.Commit(ctx, strings.Repeat("0", 40)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Commit of a missing SHA = %v, want ErrNotFound", err)
	}
}

func TestChanged(t *testing.T) {
	ctx := context.Background()
	m, u := fetchedMirror(t)
	paths, known, err := m.Changed(ctx, u.first, u.second)
	if err != nil || !known {
		t.Fatalf("Changed = %v, %v, %v", paths, known, err)
	}
	if want := []string{"ci/build.yml", "docs/notes.md"}; !reflect.DeepEqual(paths, want) {
		t.Fatalf("Changed(first, second) = %v, want %v", paths, want)
	}
	paths, known, err = m.Changed(ctx, u.second, u.second)
	if err != nil || !known || len(paths) != 0 {
		t.Fatalf("Changed of a commit with itself = %v, %v, %v; want known and empty", paths, known, err)
	}
	for _, from := range []string{"", strings.Repeat("0", 40), strings.Repeat("ab", 20)} {
		paths, known, err := m.Changed(ctx, from, u.second)
		if err != nil || known || paths != nil {
			t.Errorf("Changed(%q, second) = %v, %v, %v; want unknown", from, paths, known, err)
		}
	}
}

func TestMirrorConfigHoldsNoPassword(t *testing.T) {
	remote := "https://gantry-ci-token:hunter2-secret@127.0.0.1:1/app.git"
	m := openMirror(t, remote)
	cfg, err := os.ReadFile(filepath.Join(m.Dir(), "config"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(cfg), "hunter2-secret") {
		t.Fatalf("mirror config holds the password:\n%s", cfg)
	}
	// Nothing listens on port 1, so the fetch fails, and says why
	// without the password.
	_, err = m.Fetch(context.Background())
	if err == nil {
		t.Fatal("fetch from a closed port succeeded")
	}
	t.Logf("closed port: %v", err)
	if strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "127.0.0.1") {
		t.Fatalf("fetch error is not redacted or says nothing useful: %v", err)
	}
}
