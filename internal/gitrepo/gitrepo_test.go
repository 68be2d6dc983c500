package gitrepo

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func run(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=Ann", "GIT_AUTHOR_EMAIL=ann@example.com",
		"GIT_COMMITTER_NAME=Ann", "GIT_COMMITTER_EMAIL=ann@example.com")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

func TestInspect(t *testing.T) {
	dir := t.TempDir()
	run(t, dir, "init", "-q", "-b", "main")
	if err := os.WriteFile(filepath.Join(dir, "a.txt"), []byte("a"), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, dir, "add", ".")
	run(t, dir, "commit", "-q", "-m", "first\n\nbody")
	run(t, dir, "checkout", "-q", "-b", "feature/login")
	if err := os.WriteFile(filepath.Join(dir, "b.txt"), []byte("b"), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, dir, "add", ".")
	run(t, dir, "commit", "-q", "-m", "second")
	run(t, dir, "tag", "v1.0.0")

	info, err := Inspect(context.Background(), filepath.Join(dir))
	if err != nil {
		t.Fatal(err)
	}
	if info.Branch != "feature/login" || info.DefaultBranch != "main" || info.Tag != "v1.0.0" {
		t.Errorf("branch %q default %q tag %q", info.Branch, info.DefaultBranch, info.Tag)
	}
	if len(info.SHA) != 40 || len(info.BeforeSHA) != 40 || info.Message != "second" || info.Author != "Ann <ann@example.com>" {
		t.Errorf("commit info %+v", info)
	}
	changed, err := ChangedFiles(context.Background(), dir, "main")
	if err != nil || strings.Join(changed, ",") != "b.txt" {
		t.Errorf("changed against main = %v, %v", changed, err)
	}
}

func TestInspectNotARepository(t *testing.T) {
	_, err := Inspect(context.Background(), t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "git repository") {
		t.Fatalf("want a clear error for a folder without git, got %v", err)
	}
}
