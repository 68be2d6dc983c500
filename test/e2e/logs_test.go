package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLogLines checks the plain (non-terminal) output: every log line
// carries its job's name, commands are echoed as `$ command`, a last line
// without newline is still shown, and each job's log lands in
// .gantry/runs/<n>/logs/<job>.log.
func TestLogLines(t *testing.T) {
	t.Parallel()
	r := newRepo(t, map[string]string{".gitlab-ci.yml": `
stages: [build]
a:
  stage: build
  script:
    - echo "line one from a"
    - printf 'first\nsecond\n'
    - printf 'no newline at the end'
long-job-name:
  stage: build
  before_script: [echo before]
  script: [echo "from the long one"]
  after_script: [echo "after it"]
`})
	res := r.mustRun(0, "run")
	body, _, _ := strings.Cut(res.stdout, "\nJOB ")
	for _, line := range strings.Split(body, "\n") {
		if line == "" || strings.HasPrefix(line, "pipeline ") || strings.HasPrefix(line, "JOB") {
			continue
		}
		if !strings.HasPrefix(line, "[a            ] ") && !strings.HasPrefix(line, "[long-job-name] ") {
			t.Errorf("line without an aligned job prefix: %q", line)
		}
	}
	tests := []struct {
		job   string
		lines []string
	}{
		{"a", []string{"started", `$ echo "line one from a"`, "line one from a", "first", "second", "no newline at the end"}},
		{"long-job-name", []string{"$ echo before", "before", `$ echo "from the long one"`, "from the long one", "$ echo \"after it\"", "after it"}},
	}
	for _, tc := range tests {
		got := linesOf(res.stdout, tc.job)
		for _, want := range tc.lines {
			if !hasLine(got, want) {
				t.Errorf("[%s] lacks line %q; it printed:\n%s", tc.job, want, strings.Join(got, "\n"))
			}
		}
		if !hasLinePrefix(got, "success in ") {
			t.Errorf("[%s] has no `success in` line:\n%s", tc.job, strings.Join(got, "\n"))
		}
		log := r.jobLog(1, tc.job)
		for _, want := range tc.lines[1:] {
			if !strings.Contains(log, want) {
				t.Errorf("logs/%s.log lacks %q:\n%s", tc.job, want, log)
			}
		}
	}
	if !strings.Contains(res.stdout, "logs and artifacts: "+r.runDir(1)) {
		t.Errorf("stdout does not say where the run folder is:\n%s", res.stdout)
	}
	entries, err := os.ReadDir(filepath.Join(r.runDir(1), "logs"))
	if err != nil || len(entries) != 2 {
		t.Errorf("logs folder holds %v (%v), want 2 files", entries, err)
	}
}

// TestRunFoldersNumbered checks that each run gets the next folder and
// that the logs of earlier runs stay.
func TestRunFoldersNumbered(t *testing.T) {
	t.Parallel()
	r := newRepo(t, map[string]string{".gitlab-ci.yml": "job: {script: [echo \"run $CI_JOB_ID\"]}\n"})
	r.mustRun(0, "run")
	r.mustRun(0, "run")
	for n := 1; n <= 2; n++ {
		if log := r.jobLog(n, "job"); !strings.Contains(log, "echo \"run") {
			t.Errorf("run %d log of job = %q", n, log)
		}
	}
}

// TestParallelJobLogs checks that each instance of a parallel job gets its
// own log file, named after the instance ("test 1/2" → "test 1%2F2.log").
func TestParallelJobLogs(t *testing.T) {
	t.Parallel()
	r := newRepo(t, map[string]string{".gitlab-ci.yml": `
test:
  parallel: 2
  script: ['echo "node $CI_NODE_INDEX of $CI_NODE_TOTAL"']
build:
  parallel:
    matrix:
      - OS: [linux, mac]
  script: ['echo "building for $OS"']
`})
	res := r.mustRun(0, "run")
	for job, want := range map[string]string{
		"test 1/2":       "node 1 of 2",
		"test 2/2":       "node 2 of 2",
		"build: [linux]": "building for linux",
		"build: [mac]":   "building for mac",
	} {
		if !hasLine(linesOf(res.stdout, job), want) {
			t.Errorf("[%s] lacks %q:\n%s", job, want, res.stdout)
		}
		if log := r.jobLog(1, job); !strings.Contains(log, "\n"+want+"\n") {
			t.Errorf("%s lacks %q:\n%s", logName(job), want, log)
		}
	}
}
