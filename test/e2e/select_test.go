package e2e

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const selectCI = `
stages: [build, test, deploy]
build: {stage: build, script: [touch "$SIG/build"]}
lint: {stage: build, script: [touch "$SIG/lint"]}
test: {stage: test, needs: [build], script: [touch "$SIG/test"]}
deploy: {stage: deploy, needs: [test], script: [touch "$SIG/deploy"]}
docs: {stage: deploy, script: [touch "$SIG/docs"]}
`

// TestRunNamedJobs checks that `gantry run JOB...` runs those jobs and
// what they need, transitively, and nothing else.
func TestRunNamedJobs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"test"}, []string{"build", "test"}},
		{[]string{"deploy"}, []string{"build", "deploy", "test"}},
		{[]string{"lint", "docs"}, []string{"docs", "lint"}},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, "+"), func(t *testing.T) {
			t.Parallel()
			sig := t.TempDir()
			r := newRepo(t, map[string]string{".gitlab-ci.yml": selectCI})
			res := r.mustRun(0, append([]string{"run", "--json", "--var", "SIG=" + sig}, tc.args...)...)
			got := slices.Sorted(maps.Keys(statusOf(events(t, res.stdout))))
			if !slices.Equal(got, tc.want) {
				t.Errorf("jobs in the run = %v, want %v", got, tc.want)
			}
			ran := dirNames(t, sig)
			if !slices.Equal(ran, tc.want) {
				t.Errorf("jobs whose script ran = %v, want %v", ran, tc.want)
			}
		})
	}
}

// TestRunUnknownJob checks that naming a job that does not exist is a
// usage error that lists the jobs there are, and runs nothing.
func TestRunUnknownJob(t *testing.T) {
	t.Parallel()
	sig := t.TempDir()
	r := newRepo(t, map[string]string{".gitlab-ci.yml": selectCI})
	res := r.mustRun(2, "run", "--var", "SIG="+sig, "tset")
	if !strings.Contains(res.stderr, `no job "tset"`) || !strings.Contains(res.stderr, "build, deploy, docs, lint, test") {
		t.Errorf("stderr = %q, want the unknown name and the job list", res.stderr)
	}
	if ran := dirNames(t, sig); len(ran) > 0 {
		t.Errorf("jobs ran anyway: %v", ran)
	}
}

// TestList checks that --list and --dry-run print the plan (every job,
// with its stage and needs) and run nothing.
func TestList(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args    []string
		want    []string
		notWant []string
	}{
		{[]string{"--list"}, []string{"stage build", "stage deploy", "build", "lint", "needs [build]", "needs [test]", "docs"}, nil},
		{[]string{"--dry-run"}, []string{"stage build", "lint", "docs"}, nil},
		{[]string{"--list", "test"}, []string{"build", "needs [build]"}, []string{"lint", "deploy", "docs"}},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			t.Parallel()
			sig := t.TempDir()
			r := newRepo(t, map[string]string{".gitlab-ci.yml": selectCI})
			res := r.mustRun(0, append([]string{"run", "--var", "SIG=" + sig}, tc.args...)...)
			for _, want := range tc.want {
				if !strings.Contains(res.stdout, want) {
					t.Errorf("plan lacks %q:\n%s", want, res.stdout)
				}
			}
			for _, not := range tc.notWant {
				if strings.Contains(res.stdout, not) {
					t.Errorf("plan shows %q:\n%s", not, res.stdout)
				}
			}
			if ran := dirNames(t, sig); len(ran) > 0 {
				t.Errorf("listing ran jobs: %v", ran)
			}
			if _, err := os.Stat(filepath.Join(r.dir, ".gantry")); !os.IsNotExist(err) {
				t.Errorf("listing made a run folder: %v", err)
			}
		})
	}
}

// dirNames lists a folder's entries, sorted.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}
