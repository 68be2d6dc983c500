package e2e

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestVariablePrecedence checks GitLab's order, lowest first: global
// variables, job variables, rules:variables, then --var from the command
// line; and that a dotenv report of an earlier job beats the job's own
// variables but not --var.
func TestVariablePrecedence(t *testing.T) {
	t.Parallel()
	r := newRepo(t, map[string]string{".gitlab-ci.yml": `
stages: [build, test]
variables:
  A: global
  B: global
  C: global
  D: global
  V: global
  W: global
produce:
  stage: build
  script: ['printf "V=from-dotenv\nW=from-dotenv\n" > build.env']
  artifacts: {reports: {dotenv: build.env}}
show:
  stage: test
  variables:
    B: job
    C: job
    D: job
    V: job
  rules:
    - if: $CI_COMMIT_BRANCH == "main"
      variables:
        C: rules
        D: rules
  script:
    - echo "A=$A B=$B C=$C D=$D"
    - echo "V=$V W=$W"
`})
	res := r.mustRun(0, "run", "--var", "D=cli", "--var", "W=cli")
	lines := linesOf(res.stdout, "show")
	for _, want := range []string{"A=global B=job C=rules D=cli", "V=from-dotenv W=cli"} {
		if !hasLine(lines, want) {
			t.Errorf("[show] lacks %q:\n%s", want, res.stdout)
		}
	}
}

// TestVarFile checks --var-file: the job sees the variable as the path of
// a file holding the given file's content, kept outside the workspace so
// artifacts cannot pick it up.
func TestVarFile(t *testing.T) {
	t.Parallel()
	content := "host: db.internal\nport: 5432\n"
	src := filepath.Join(t.TempDir(), "settings.yml")
	if err := os.WriteFile(src, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	r := newRepo(t, map[string]string{".gitlab-ci.yml": `
job:
  script:
    - test -f "$SETTINGS" && echo "is a file"
    - cat "$SETTINGS"
    - case "$SETTINGS" in "$CI_PROJECT_DIR"/*) echo inside workspace;; *) echo outside workspace;; esac
`})
	res := r.mustRun(0, "run", "--var-file", "SETTINGS="+src)
	lines := linesOf(res.stdout, "job")
	for _, want := range []string{"is a file", "host: db.internal", "port: 5432", "outside workspace"} {
		if !hasLine(lines, want) {
			t.Errorf("[job] lacks %q:\n%s", want, res.stdout)
		}
	}
}

// TestDotenvReachesLaterJobs checks that a dotenv report is seen by jobs
// of later stages and by jobs that need the producer, but not by a job
// that opted out of its artifacts with dependencies: [].
func TestDotenvReachesLaterJobs(t *testing.T) {
	t.Parallel()
	r := newRepo(t, map[string]string{".gitlab-ci.yml": `
stages: [build, test, deploy]
version:
  stage: build
  script: [echo "VERSION=1.2.3" > v.env, echo "IMAGE=app:1.2.3" >> v.env]
  artifacts: {reports: {dotenv: v.env}}
staged:
  stage: test
  script: [echo "staged sees $VERSION $IMAGE"]
dag:
  stage: deploy
  needs: [version]
  script: [echo "dag sees $VERSION"]
none:
  stage: deploy
  dependencies: []
  script: ['echo "none sees ${VERSION:-nothing}"']
`})
	res := r.mustRun(0, "run")
	for job, want := range map[string]string{
		"staged": "staged sees 1.2.3 app:1.2.3",
		"dag":    "dag sees 1.2.3",
		"none":   "none sees nothing",
	} {
		if !hasLine(linesOf(res.stdout, job), want) {
			t.Errorf("[%s] lacks %q:\n%s", job, want, res.stdout)
		}
	}
}

// TestDotenvOfFailedJobFollowsArtifactsWhen checks that a failed job's
// dotenv report reaches later jobs only when its artifacts:when uploads
// artifacts on failure, as in GitLab.
func TestDotenvOfFailedJobFollowsArtifactsWhen(t *testing.T) {
	t.Parallel()
	r := newRepo(t, map[string]string{".gitlab-ci.yml": `
stages: [build, test]
default-when:
  stage: build
  allow_failure: true
  script: [echo "A=from-default" > a.env, exit 1]
  artifacts: {reports: {dotenv: a.env}}
always-when:
  stage: build
  allow_failure: true
  script: [echo "B=from-always" > b.env, exit 1]
  artifacts: {when: always, reports: {dotenv: b.env}}
check:
  stage: test
  script: ['echo "A=${A:-unset} B=${B:-unset}"']
`})
	res := r.mustRun(0, "run")
	if want := "A=unset B=from-always"; !hasLine(linesOf(res.stdout, "check"), want) {
		t.Errorf("[check] lacks %q:\n%s", want, res.stdout)
	}
}

// TestRefFlags checks --branch, --tag and --source: the predefined
// variables jobs see and the rules that pick the jobs follow them.
func TestRefFlags(t *testing.T) {
	t.Parallel()
	const ci = `
release:
  rules: [{if: $CI_COMMIT_TAG}]
  script: ['echo "release tag=$CI_COMMIT_TAG ref=$CI_COMMIT_REF_NAME"']
main-only:
  rules: [{if: '$CI_COMMIT_BRANCH == "main"'}]
  script: ['echo "main ref=$CI_COMMIT_REF_NAME"']
info:
  script: ['echo "branch=${CI_COMMIT_BRANCH:-none} source=$CI_PIPELINE_SOURCE"']
`
	tests := []struct {
		args []string
		jobs []string
		want map[string]string
	}{
		{nil, []string{"info", "main-only"}, map[string]string{"info": "branch=main source=push", "main-only": "main ref=main"}},
		{[]string{"--branch", "feature/x"}, []string{"info"}, map[string]string{"info": "branch=feature/x source=push"}},
		{[]string{"--tag", "v1.2.0"}, []string{"info", "release"}, map[string]string{"info": "branch=none source=push", "release": "release tag=v1.2.0 ref=v1.2.0"}},
		{[]string{"--source", "web"}, []string{"info", "main-only"}, map[string]string{"info": "branch=main source=web"}},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			t.Parallel()
			r := newRepo(t, map[string]string{".gitlab-ci.yml": ci})
			res := r.mustRun(0, append([]string{"run", "--json"}, tc.args...)...)
			evs := events(t, res.stdout)
			if got := slices.Sorted(maps.Keys(statusOf(evs))); !slices.Equal(got, tc.jobs) {
				t.Errorf("jobs = %v, want %v", got, tc.jobs)
			}
			for job, want := range tc.want {
				if log := jobLogText(evs, job); !strings.Contains(log, "\n"+want+"\n") {
					t.Errorf("%s's log lacks %q:\n%s", job, want, log)
				}
			}
		})
	}
}
