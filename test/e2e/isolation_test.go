package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestJobsAreIsolated checks that a job editing a tracked file changes
// neither the user's working tree nor what a job running at the same time
// sees. The two jobs meet through a folder outside their workspaces so
// that the reader looks exactly while the writer's edit exists.
func TestJobsAreIsolated(t *testing.T) {
	t.Parallel()
	forEachWorkspaceMode(t, testJobsAreIsolated)
}

// forEachWorkspaceMode runs test once with overlays where they work and
// once with the copies used where they do not.
func forEachWorkspaceMode(t *testing.T, test func(t *testing.T, mode string)) {
	for _, mode := range []string{"auto", "copy"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			test(t, mode)
		})
	}
}

func testJobsAreIsolated(t *testing.T, mode string) {
	sig := t.TempDir()
	r := newRepo(t, map[string]string{
		"config.txt": "original\n",
		".gitlab-ci.yml": `
stages: [test, check]
writer:
  stage: test
  script:
    - echo "edited by writer" > config.txt
    - echo new > created-by-writer.txt
    - rm -f .gitlab-ci.yml
    - touch "$SIG/written"
    - for i in $(seq 400); do [ -f "$SIG/read" ] && break; sleep 0.05; done
    - cat config.txt
reader:
  stage: test
  script:
    - for i in $(seq 400); do [ -f "$SIG/written" ] && break; sleep 0.05; done
    - cat config.txt
    - 'test -f created-by-writer.txt && echo "sees writer file" || echo "no writer file"'
    - touch "$SIG/read"
after:
  stage: check
  script:
    - cat config.txt
    - 'test -f .gitlab-ci.yml && echo "ci file present"'
`})
	r.extra = []string{"GANTRY_WORKSPACE=" + mode}
	res := r.mustRun(0, "run", "--concurrency", "2", "--var", "SIG="+sig)
	checks := []struct{ job, want string }{
		{"writer", "edited by writer"},
		{"reader", "original"},
		{"reader", "no writer file"},
		{"after", "original"},
		{"after", "ci file present"},
	}
	for _, c := range checks {
		if !hasLine(linesOf(res.stdout, c.job), c.want) {
			t.Errorf("[%s] lacks %q:\n%s", c.job, c.want, res.stdout)
		}
	}
	if got := r.read("config.txt"); got != "original\n" {
		t.Errorf("the working tree's config.txt became %q", got)
	}
	if got := r.git("status", "--porcelain", "--untracked-files=all"); got != "" {
		t.Errorf("the run left the working tree changed:\n%s", got)
	}
}

// TestWorkingTreeSnapshot checks what a job's workspace holds: without
// --from-commit the working tree as it is (uncommitted edits, untracked
// files that are not ignored, no ignored files, no earlier run folders);
// with --from-commit the commit only.
func TestWorkingTreeSnapshot(t *testing.T) {
	t.Parallel()
	forEachWorkspaceMode(t, testWorkingTreeSnapshot)
}

func testWorkingTreeSnapshot(t *testing.T, mode string) {
	r := newRepo(t, map[string]string{
		"app.txt":    "committed\n",
		".gitignore": "*.log\nbuild/\n",
		".gitlab-ci.yml": `
job:
  script:
    - cat app.txt
    - 'for f in notes.txt debug.log build/out .gantry; do test -e $f && echo "has $f" || echo "no $f"; done'
    - test "$(git rev-parse HEAD)" = "$CI_COMMIT_SHA" && echo "HEAD is the pipeline commit"
`})
	r.extra = []string{"GANTRY_WORKSPACE=" + mode}
	r.mustRun(0, "run") // leaves .gantry/runs/1 behind for the next runs
	r.write("app.txt", "edited, not committed\n")
	r.write("notes.txt", "untracked\n")
	r.write("debug.log", "ignored\n")
	r.write("build/out", "ignored\n")
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"working tree", nil, []string{"edited, not committed", "has notes.txt", "no debug.log", "no build/out", "no .gantry", "HEAD is the pipeline commit"}},
		{"from commit", []string{"--from-commit"}, []string{"committed", "no notes.txt", "no debug.log", "no build/out", "no .gantry", "HEAD is the pipeline commit"}},
	}
	for _, tc := range tests {
		res := r.mustRun(0, append([]string{"run"}, tc.args...)...)
		lines := linesOf(res.stdout, "job")
		for _, want := range tc.want {
			if !hasLine(lines, want) {
				t.Errorf("%s: [job] lacks %q:\n%s", tc.name, want, strings.Join(lines, "\n"))
			}
		}
	}
	if got := r.read("app.txt"); got != "edited, not committed\n" {
		t.Errorf("the run touched the uncommitted edit: app.txt = %q", got)
	}
}

// TestKeepWorkspaces checks --keep-workspaces: afterwards the job's
// workspace can be inspected as the job left it, the files it wrote and the
// project's own files; without the flag nothing of it stays.
func TestKeepWorkspaces(t *testing.T) {
	t.Parallel()
	forEachWorkspaceMode(t, func(t *testing.T, mode string) {
		r := newRepo(t, map[string]string{
			"app.txt":        "tracked\n",
			".gitlab-ci.yml": "job:\n  script: [echo made > made.txt]\n",
		})
		r.extra = []string{"GANTRY_WORKSPACE=" + mode}
		r.mustRun(0, "run")
		if left := dirNames(t, filepath.Join(r.runDir(1), "jobs")); len(left) > 0 {
			t.Errorf("without --keep-workspaces the run left jobs/%v", left)
		}
		r.mustRun(0, "run", "--keep-workspaces")
		matches, _ := filepath.Glob(filepath.Join(r.runDir(2), "jobs", "*", "builds", "*"))
		if len(matches) != 1 {
			t.Fatalf("kept workspaces: %v, want one", matches)
		}
		for name, want := range map[string]string{"made.txt": "made\n", "app.txt": "tracked\n"} {
			data, err := os.ReadFile(filepath.Join(matches[0], name))
			if err != nil || string(data) != want {
				t.Errorf("kept workspace %s: %s = %q (%v), want %q", matches[0], name, data, err, want)
			}
		}
	})
}
