package workspace

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestMain(m *testing.M) {
	MaybeRunSandbox()
	os.Exit(m.Run())
}

// requireOverlayEnv makes "auto" runs fail instead of silently testing copy
// mode; the unprivileged re-run sets it.
const requireOverlayEnv = "GANTRY_TEST_REQUIRE_OVERLAY"

// runGitT runs git in dir with a fixed identity and returns trimmed stdout.
func runGitT(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.name=Test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(gitEnv(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimRight(string(out), "\n")
}

func writeFile(t testing.TB, path, content string, perm os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), perm); err != nil {
		t.Fatal(err)
	}
}

// newTestRepo makes a repository whose working tree differs from HEAD in
// every way a snapshot must get right.
func newTestRepo(t testing.TB) string {
	t.Helper()
	repo := filepath.Join(t.TempDir(), "myproject")
	if err := os.Mkdir(repo, 0o777); err != nil {
		t.Fatal(err)
	}
	runGitT(t, repo, "init", "-q", "-b", "main")
	writeFile(t, filepath.Join(repo, "README.md"), "original\n", 0o644)
	writeFile(t, filepath.Join(repo, "src/main.go"), "package main\n", 0o644)
	writeFile(t, filepath.Join(repo, "src/sub/deep.txt"), "deep\n", 0o644)
	writeFile(t, filepath.Join(repo, "script.sh"), "#!/bin/sh\necho hi\n", 0o755)
	writeFile(t, filepath.Join(repo, "deleted.txt"), "gone soon\n", 0o644)
	writeFile(t, filepath.Join(repo, ".gitignore"), "*.log\nbuild/\n", 0o644)
	if err := os.Symlink("README.md", filepath.Join(repo, "link")); err != nil {
		t.Fatal(err)
	}
	runGitT(t, repo, "add", "-A")
	runGitT(t, repo, "commit", "-q", "-m", "first")
	runGitT(t, repo, "tag", "v1.0.0")
	// The working tree now diverges from HEAD.
	writeFile(t, filepath.Join(repo, "README.md"), "edited\n", 0o644)
	writeFile(t, filepath.Join(repo, "notes.txt"), "untracked\n", 0o644)
	writeFile(t, filepath.Join(repo, "staged.txt"), "staged\n", 0o644)
	runGitT(t, repo, "add", "staged.txt")
	writeFile(t, filepath.Join(repo, "debug.log"), "ignored\n", 0o644)
	writeFile(t, filepath.Join(repo, "build/out.bin"), "ignored\n", 0o644)
	if err := os.Remove(filepath.Join(repo, "deleted.txt")); err != nil {
		t.Fatal(err)
	}
	return repo
}

// forEachMode runs f once with overlays allowed and once with copies forced.
func forEachMode(t *testing.T, f func(t *testing.T, want Mode)) {
	for _, mode := range []string{"auto", string(ModeCopy)} {
		t.Run(mode, func(t *testing.T) {
			t.Setenv(ModeEnv, mode)
			want := ModeCopy
			if mode == "auto" {
				want = ModeOverlay
			}
			f(t, want)
		})
	}
}

// snapshotFor takes a snapshot of repo for a test, checking that "auto"
// really got overlays where the test run demands them.
func snapshotFor(t *testing.T, repo string, fromCommit bool, want Mode) (*Snapshot, string) {
	t.Helper()
	runDir := t.TempDir()
	s, err := TakeSnapshot(context.Background(), repo, runDir, fromCommit)
	if err != nil {
		t.Fatalf("TakeSnapshot: %v", err)
	}
	t.Cleanup(func() { _ = s.Remove() })
	if s.Mode() != want {
		if want == ModeOverlay && os.Getenv(requireOverlayEnv) == "" {
			t.Logf("overlay mode unavailable, testing copies: %s", s.ModeReason())
		} else {
			t.Fatalf("Mode() = %s, want %s (%s)", s.Mode(), want, s.ModeReason())
		}
	}
	return s, runDir
}

func newWorkspace(t *testing.T, s *Snapshot, jobDir string) *Workspace {
	t.Helper()
	w, err := s.NewWorkspace(context.Background(), jobDir)
	if err != nil {
		t.Fatalf("NewWorkspace: %v", err)
	}
	t.Cleanup(func() { _ = w.Remove() })
	return w
}

// runIn runs a shell script in the workspace and returns its combined output.
func runIn(t *testing.T, w *Workspace, script string) (string, error) {
	t.Helper()
	cmd := w.Command(context.Background(), "sh", "-c", script)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := run(w, cmd)
	return out.String(), err
}

// run is cmd.Run for a workspace command.
func run(w *Workspace, cmd *exec.Cmd) error {
	if err := w.Start(cmd); err != nil {
		return err
	}
	return cmd.Wait()
}

func mustRunIn(t *testing.T, w *Workspace, script string) string {
	t.Helper()
	out, err := runIn(t, w, script)
	if err != nil {
		t.Fatalf("run %q: %v\n%s", script, err, out)
	}
	return out
}

// assertNothingMounted checks the host's mount table for anything below dir.
func assertNothingMounted(t *testing.T, dir string) {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Skipf("no mount table: %v", err)
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if strings.Contains(line, dir) {
			t.Errorf("still mounted on the host: %s", line)
		}
	}
}
