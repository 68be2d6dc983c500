package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestArtifactsPassing checks which jobs receive a producer's artifacts:
// a later-stage job by default, none with dependencies: [] or with
// needs: [{job: x, artifacts: false}]; and that exclude is honoured.
func TestArtifactsPassing(t *testing.T) {
	t.Parallel()
	r := newRepo(t, map[string]string{".gitlab-ci.yml": `
stages: [build, test]
build:
  stage: build
  script:
    - mkdir -p dist/logs
    - echo "binary built by $CI_JOB_NAME" > dist/app
    - echo noise > dist/logs/debug.log
  artifacts:
    paths: [dist/]
    exclude: [dist/logs/**]
consumer:
  stage: test
  script: [cat dist/app, 'ls dist/logs 2>/dev/null || echo "no logs"']
no-deps:
  stage: test
  dependencies: []
  script: ['cat dist/app 2>/dev/null || echo "no artifacts"']
needs-no-artifacts:
  stage: test
  needs: [{job: build, artifacts: false}]
  script: ['cat dist/app 2>/dev/null || echo "no artifacts"']
needs-artifacts:
  stage: test
  needs: [build]
  script: [cat dist/app]
`})
	res := r.mustRun(0, "run")
	tests := []struct {
		job, want, not string
	}{
		{"consumer", "binary built by build", ""},
		{"consumer", "no logs", ""},
		{"no-deps", "no artifacts", "binary built by build"},
		{"needs-no-artifacts", "no artifacts", "binary built by build"},
		{"needs-artifacts", "binary built by build", ""},
	}
	for _, tc := range tests {
		lines := linesOf(res.stdout, tc.job)
		if !hasLine(lines, tc.want) {
			t.Errorf("%s lacks %q:\n%s", tc.job, tc.want, res.stdout)
		}
		if tc.not != "" && hasLine(lines, tc.not) {
			t.Errorf("%s shows %q:\n%s", tc.job, tc.not, res.stdout)
		}
	}
	if _, err := os.Stat(filepath.Join(r.runDir(1), "artifacts", "build", "meta.json")); err != nil {
		t.Errorf("build's artifacts are not kept in the run folder: %v", err)
	}
	if _, err := os.Stat(r.path("dist")); !os.IsNotExist(err) {
		t.Errorf("artifacts leaked into the working tree: %v", err)
	}
}

// TestArtifactsWhen checks artifacts:when: on_failure artifacts are kept
// for a failed job (and reach an on_failure job after it), on_success
// artifacts are not.
func TestArtifactsWhen(t *testing.T) {
	t.Parallel()
	r := newRepo(t, map[string]string{".gitlab-ci.yml": `
stages: [test, report]
failing:
  stage: test
  script: [echo "crash dump" > dump.txt, echo "result" > result.txt, exit 1]
  artifacts:
    when: on_failure
    paths: [dump.txt]
failing-default:
  stage: test
  script: [echo "result" > result.txt, exit 1]
  artifacts:
    paths: [result.txt]
passing:
  stage: test
  script: [echo "ok" > ok.txt]
  artifacts:
    when: on_failure
    paths: [ok.txt]
triage:
  stage: report
  when: on_failure
  script:
    - cat dump.txt
    - 'cat result.txt 2>/dev/null || echo "no result"'
    - 'cat ok.txt 2>/dev/null || echo "no ok"'
`})
	res := r.mustRun(1, "run")
	lines := linesOf(res.stdout, "triage")
	for _, want := range []string{"crash dump", "no result", "no ok"} {
		if !hasLine(lines, want) {
			t.Errorf("triage lacks %q:\n%s", want, res.stdout)
		}
	}
	for job, want := range map[string]bool{"failing": true, "failing-default": false, "passing": false} {
		_, err := os.Stat(filepath.Join(r.runDir(1), "artifacts", job, "meta.json"))
		if got := err == nil; got != want {
			t.Errorf("artifacts of %s kept = %v, want %v", job, got, want)
		}
	}
}

// TestLookAlikeJobNames checks that jobs whose names differ only in
// characters a file name cannot hold as they are ("pkg/a", "pkg a",
// "pkg_a") keep separate logs and artifacts.
func TestLookAlikeJobNames(t *testing.T) {
	t.Parallel()
	r := newRepo(t, map[string]string{".gitlab-ci.yml": `
stages: [build, test]
"pkg/a":
  stage: build
  script: [echo slash > slash.txt, echo log-of-slash]
  artifacts: {paths: [slash.txt]}
"pkg a":
  stage: build
  script: [echo space > space.txt, echo log-of-space]
  artifacts: {paths: [space.txt]}
pkg_a:
  stage: build
  script: [echo underscore > underscore.txt, echo log-of-underscore]
  artifacts: {paths: [underscore.txt]}
consumer:
  stage: test
  script: [cat slash.txt space.txt underscore.txt]
`})
	res := r.mustRun(0, "run")
	lines := linesOf(res.stdout, "consumer")
	for _, want := range []string{"slash", "space", "underscore"} {
		if !hasLine(lines, want) {
			t.Errorf("consumer lacks %q: some artifacts were overwritten\n%s", want, res.stdout)
		}
	}
	logs, err := os.ReadDir(filepath.Join(r.runDir(1), "logs"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range logs {
		data, err := os.ReadFile(filepath.Join(r.runDir(1), "logs", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, who := range []string{"slash", "space", "underscore"} {
			if strings.Contains(string(data), "\nlog-of-"+who) {
				if seen[who] {
					t.Errorf("the log of %s is in two files", who)
				}
				seen[who] = true
				if strings.Count(string(data), "\nlog-of-") != 1 {
					t.Errorf("log file %s mixes the logs of several jobs:\n%s", e.Name(), data)
				}
			}
		}
	}
	if len(seen) != 3 || len(logs) != 4 {
		t.Errorf("log files %d for 4 jobs; found the logs of %v", len(logs), seen)
	}
}

// TestProjectDirPaths checks paths written as $CI_PROJECT_DIR/..., common
// in real pipelines: they are inside the project and must work for
// artifacts, reports and caches alike; a path outside the project is
// skipped with a warning without losing the others, as GitLab Runner does.
func TestProjectDirPaths(t *testing.T) {
	t.Parallel()
	r := newRepo(t, map[string]string{".gitlab-ci.yml": `
stages: [build, test]
build:
  stage: build
  script:
    - mkdir -p dist .npm
    - echo app > dist/app
    - echo pkg > .npm/pkg
    - echo "BUILT=yes" > "$CI_PROJECT_DIR/build.env"
    - echo outside > ../outside.txt
  cache:
    key: npm
    paths: [$CI_PROJECT_DIR/.npm]
  artifacts:
    paths: [$CI_PROJECT_DIR/dist, ../outside.txt]
    reports:
      dotenv: $CI_PROJECT_DIR/build.env
test:
  stage: test
  cache:
    key: npm
    paths: [$CI_PROJECT_DIR/.npm]
    policy: pull
  script: [cat dist/app, cat .npm/pkg, echo "built=$BUILT"]
`})
	res := r.mustRun(0, "run")
	lines := linesOf(res.stdout, "test")
	for _, want := range []string{"app", "pkg", "built=yes"} {
		if !hasLine(lines, want) {
			t.Errorf("[test] lacks %q:\n%s", want, res.stdout)
		}
	}
	if !strings.Contains(strings.Join(linesOf(res.stdout, "build"), "\n"), "../outside.txt") {
		t.Errorf("[build] does not warn about the path outside the project:\n%s", res.stdout)
	}
}

// TestExpiredArtifactsRemovedOnNextRun checks expire_in: artifacts past it
// are removed when the next run starts, and artifacts set to never stay.
func TestExpiredArtifactsRemovedOnNextRun(t *testing.T) {
	t.Parallel()
	r := newRepo(t, map[string]string{".gitlab-ci.yml": `
short:
  script: [echo a > a.txt]
  artifacts: {paths: [a.txt], expire_in: 1 sec}
forever:
  script: [echo b > b.txt]
  artifacts: {paths: [b.txt], expire_in: never}
`})
	r.mustRun(0, "run")
	for _, job := range []string{"short", "forever"} {
		if _, err := os.Stat(filepath.Join(r.runDir(1), "artifacts", job, "meta.json")); err != nil {
			t.Fatalf("artifacts of %s missing after the first run: %v", job, err)
		}
	}
	time.Sleep(1100 * time.Millisecond) // let expire_in: 1 sec pass
	res := r.mustRun(0, "run")
	if !strings.Contains(res.stdout, "removed 1 expired artifact set(s)") {
		t.Errorf("second run does not say it removed expired artifacts:\n%s", res.stdout)
	}
	if _, err := os.Stat(filepath.Join(r.runDir(1), "artifacts", "short")); !os.IsNotExist(err) {
		t.Errorf("expired artifacts of run 1 still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(r.runDir(1), "artifacts", "forever", "meta.json")); err != nil {
		t.Errorf("expire_in: never artifacts removed: %v", err)
	}
}
