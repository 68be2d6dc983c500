package mirror

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// gitTestEnv isolates test git runs from the developer's own config and
// pins identities and dates so commit details are predictable.
func gitTestEnv() []string {
	return append(os.Environ(),
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=Ann Author", "GIT_AUTHOR_EMAIL=ann@example.com",
		"GIT_COMMITTER_NAME=Carl Committer", "GIT_COMMITTER_EMAIL=carl@example.com",
		"GIT_AUTHOR_DATE=2024-01-02T03:04:05Z", "GIT_COMMITTER_DATE=2024-01-02T03:04:05Z",
		"GIT_TERMINAL_PROMPT=0",
	)
}

// gitIn runs git in dir and returns its trimmed stdout.
func gitIn(t testing.TB, dir string, args ...string) string {
	t.Helper()
	out, err := gitTry(dir, args...)
	if err != nil {
		t.Fatalf("git %v in %s: %v\n%s", args, dir, err, out)
	}
	return out
}

func gitTry(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = gitTestEnv()
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// upstream is a work-tree repository standing in for the forge.
type upstream struct {
	t   testing.TB
	dir string

	first   string // main's first commit, tagged v1.0
	feature string // the feature branch's commit
	second  string // main's second commit
}

func writeFile(t testing.TB, dir, name, content string) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// newUpstream builds: main (first, second), feature (off first), an
// annotated tag v1.0 on first, an include file in ci/, a symlink to it,
// a link out of the repository and a submodule entry.
func newUpstream(t testing.TB) *upstream {
	t.Helper()
	u := &upstream{t: t, dir: filepath.Join(t.TempDir(), "upstream")}
	if err := os.MkdirAll(u.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	gitIn(t, u.dir, "init", "-q", "-b", "main")
	writeFile(t, u.dir, ".gitlab-ci.yml", "include: ci/build.yml\n")
	writeFile(t, u.dir, "ci/build.yml", "build:\n  script: make\n")
	writeFile(t, u.dir, "ci/deploy.yml", "deploy:\n  script: ship\n")
	writeFile(t, u.dir, "README.md", "# demo\n")
	writeFile(t, u.dir, "big.bin", strings.Repeat("x", 4096))
	if err := os.Symlink("ci/build.yml", filepath.Join(u.dir, "link.yml")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../outside.yml", filepath.Join(u.dir, "escape.yml")); err != nil {
		t.Fatal(err)
	}
	gitIn(t, u.dir, "add", "-A")
	// A gitlink without .gitmodules is all a tree needs for a submodule.
	gitIn(t, u.dir, "update-index", "--add", "--cacheinfo",
		"160000,1111111111111111111111111111111111111111,vendor/lib")
	gitIn(t, u.dir, "commit", "-q", "-m", "first\n\nwith a body")
	u.first = gitIn(t, u.dir, "rev-parse", "HEAD")
	gitIn(t, u.dir, "tag", "-a", "v1.0", "-m", "release 1.0")

	gitIn(t, u.dir, "checkout", "-q", "-b", "feature")
	writeFile(t, u.dir, "feature.txt", "new feature\n")
	gitIn(t, u.dir, "add", "-A")
	gitIn(t, u.dir, "commit", "-q", "-m", "feature work")
	u.feature = gitIn(t, u.dir, "rev-parse", "HEAD")
	gitIn(t, u.dir, "checkout", "-q", "main")

	writeFile(t, u.dir, "ci/build.yml", "build:\n  script: make all\n")
	writeFile(t, u.dir, "docs/notes.md", "notes\n")
	gitIn(t, u.dir, "add", "-A")
	gitIn(t, u.dir, "commit", "-q", "-m", "second")
	u.second = gitIn(t, u.dir, "rev-parse", "HEAD")
	return u
}

// commit adds a commit on the checked-out branch and returns its SHA.
func (u *upstream) commit(name, content, msg string) string {
	u.t.Helper()
	writeFile(u.t, u.dir, name, content)
	gitIn(u.t, u.dir, "add", "-A")
	gitIn(u.t, u.dir, "commit", "-q", "-m", msg)
	return gitIn(u.t, u.dir, "rev-parse", "HEAD")
}

// openMirror opens a fresh mirror of remote and closes it with the test.
func openMirror(t testing.TB, remote string) *Mirror {
	t.Helper()
	m, err := Open(context.Background(), filepath.Join(t.TempDir(), "mirrors", "app.git"), remote)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m
}

// fetchedMirror is a mirror of a fresh upstream, fetched once.
func fetchedMirror(t testing.TB) (*Mirror, *upstream) {
	t.Helper()
	u := newUpstream(t)
	m := openMirror(t, u.dir)
	if _, err := m.Fetch(context.Background()); err != nil {
		t.Fatal(err)
	}
	return m, u
}
