package plan

import (
	"slices"
	"strings"
	"testing"

	"github.com/gantry-ci/gantry/internal/pipeline"
)

func TestParallelAndNeeds(t *testing.T) {
	runCases(t, []planCase{
		{
			name: "parallel count names instances and numbers them",
			yaml: "test:\n  script: a\n  parallel: 3\n",
			in:   pushMain,
			jobs: []string{"test 1/3", "test 2/3", "test 3/3"},
			check: func(t *testing.T, p *Plan) {
				j := jobOf(t, p, "test 2/3")
				if j.NodeIndex != 2 || j.NodeTotal != 3 || j.Base != "test" {
					t.Errorf("index %d total %d base %q", j.NodeIndex, j.NodeTotal, j.Base)
				}
				wantVar(t, j.Variables, "CI_NODE_INDEX", "2")
				wantVar(t, j.Variables, "CI_NODE_TOTAL", "3")
				wantVar(t, j.Variables, "CI_JOB_NAME", "test 2/3")
				wantVar(t, j.Variables, "CI_JOB_GROUP_NAME", "test")
			},
		},
		{
			name: "a job that is not parallel has one node",
			yaml: "test:\n  script: a\n",
			in:   pushMain,
			check: func(t *testing.T, p *Plan) {
				j := jobOf(t, p, "test")
				wantVar(t, j.Variables, "CI_NODE_TOTAL", "1")
				wantVar(t, j.Variables, "CI_NODE_INDEX", "<unset>")
				if j.NodeTotal != 0 {
					t.Errorf("NodeTotal = %d, want 0", j.NodeTotal)
				}
			},
		},
		{
			name: "matrix names follow the written order",
			yaml: `
build:
  script: a
  variables:
    ARCH: none
    KEEP: yes
  parallel:
    matrix:
      - OS: [linux, windows]
        ARCH: [amd64, arm64]
      - OS: mac
        ARCH: arm64`,
			in: pushMain,
			jobs: []string{"build: [linux, amd64]", "build: [linux, arm64]", "build: [windows, amd64]",
				"build: [windows, arm64]", "build: [mac, arm64]"},
			check: func(t *testing.T, p *Plan) {
				j := jobOf(t, p, "build: [windows, arm64]")
				wantVar(t, j.Variables, "OS", "windows")
				wantVar(t, j.Variables, "ARCH", "arm64")
				wantVar(t, j.Variables, "KEEP", "yes")
				if j.NodeIndex != 4 || j.NodeTotal != 5 {
					t.Errorf("index %d/%d, want 4/5", j.NodeIndex, j.NodeTotal)
				}
			},
		},
		{
			name: "rules see matrix values per instance",
			yaml: `
build:
  script: a
  parallel:
    matrix:
      - OS: [linux, windows]
  rules:
    - if: $OS == "linux"`,
			in:      pushMain,
			jobs:    []string{"build: [linux]"},
			skipped: map[string]string{"build: [windows]": "rules: no rule matched"},
		},
		{
			name: "needs on a parallel job wait for every instance",
			yaml: `
test:
  stage: test
  script: a
  parallel: 2
report:
  stage: deploy
  script: b
  needs: [test]
  dependencies: [test]`,
			in: pushMain,
			check: func(t *testing.T, p *Plan) {
				j := jobOf(t, p, "report")
				if got := needNames(j); !slices.Equal(got, []string{"test 1/2", "test 2/2"}) {
					t.Errorf("needs = %q", got)
				}
				if !slices.Equal(j.Dependencies, []string{"test 1/2", "test 2/2"}) {
					t.Errorf("dependencies = %q", j.Dependencies)
				}
			},
		},
		{
			name: "needs parallel matrix selects instances whatever the key order",
			yaml: `
build:
  stage: build
  script: a
  parallel:
    matrix:
      - PROVIDER: [aws, gcp]
        STACK: [app1, app2]
deploy:
  stage: deploy
  script: b
  needs:
    - job: build
      parallel:
        matrix:
          - STACK: app2
            PROVIDER: [aws, gcp]`,
			in: pushMain,
			check: func(t *testing.T, p *Plan) {
				got := needNames(jobOf(t, p, "deploy"))
				if !slices.Equal(got, []string{"build: [aws, app2]", "build: [gcp, app2]"}) {
					t.Errorf("needs = %q", got)
				}
			},
		},
		{
			name: "needs parallel matrix matching nothing is an error",
			yaml: `
build:
  stage: build
  script: a
  parallel:
    matrix:
      - PROVIDER: [aws]
deploy:
  stage: deploy
  script: b
  needs:
    - job: build
      parallel:
        matrix:
          - PROVIDER: azure`,
			in:  pushMain,
			err: "'deploy' job needs 'build: [azure]' job, but no instance of 'build' has these parallel:matrix values",
		},
		{
			name: "a needed matrix instance left out by rules",
			yaml: `
build:
  stage: build
  script: a
  parallel:
    matrix:
      - OS: [linux, windows]
  rules:
    - if: $OS == "linux"
deploy:
  stage: deploy
  script: b
  needs:
    - job: build
      parallel:
        matrix:
          - OS: windows`,
			in:  pushMain,
			err: "'deploy' job needs 'build: [windows]' job, but 'build: [windows]' does not exist in the pipeline",
		},
		{
			name: "an optional need on a left-out matrix instance is dropped",
			yaml: `
build:
  stage: build
  script: a
  parallel:
    matrix:
      - OS: [linux, windows]
  rules:
    - if: $OS == "linux"
deploy:
  stage: deploy
  script: b
  needs:
    - job: build
      optional: true
      parallel:
        matrix:
          - OS: [linux, windows]`,
			in: pushMain,
			check: func(t *testing.T, p *Plan) {
				if got := needNames(jobOf(t, p, "deploy")); !slices.Equal(got, []string{"build: [linux]"}) {
					t.Errorf("needs = %q", got)
				}
			},
		},
		{
			name: "need on a job left out by rules is GitLab's error",
			yaml: `
build:
  stage: build
  script: a
  only: [tags]
test:
  script: b
  needs: [build]`,
			in: pushMain,
			err: "'test' job needs 'build' job, but 'build' does not exist in the pipeline. " +
				"This might be because of the only, except, or rules keywords",
		},
		{
			name: "optional need on a left-out job is dropped",
			yaml: `
build:
  stage: build
  script: a
  only: [tags]
test:
  script: b
  needs:
    - job: build
      optional: true
      artifacts: false`,
			in: pushMain,
			check: func(t *testing.T, p *Plan) {
				j := jobOf(t, p, "test")
				if j.Needs == nil || len(j.Needs) != 0 {
					t.Errorf("needs = %#v, want empty but not nil (start at once)", j.Needs)
				}
			},
		},
		{
			name: "needs keep artifacts and optional flags",
			yaml: `
build:
  stage: build
  script: a
test:
  script: b
  needs:
    - job: build
      artifacts: false
      optional: true`,
			in: pushMain,
			check: func(t *testing.T, p *Plan) {
				got := jobOf(t, p, "test").Needs
				if len(got) != 1 || got[0] != (Need{Job: "build", Artifacts: false, Optional: true}) {
					t.Errorf("needs = %+v", got)
				}
			},
		},
		{
			name: "needs empty list and absent needs differ",
			yaml: "early:\n  stage: deploy\n  script: a\n  needs: []\nlate:\n  stage: deploy\n  script: b\n",
			in:   pushMain,
			check: func(t *testing.T, p *Plan) {
				if n := jobOf(t, p, "early").Needs; n == nil || len(n) != 0 {
					t.Errorf("needs: [] became %#v", n)
				}
				if n := jobOf(t, p, "late").Needs; n != nil {
					t.Errorf("absent needs became %#v", n)
				}
			},
		},
		{
			name: "dependencies default to nil, an empty list stays empty",
			yaml: "build:\n  stage: build\n  script: a\nall:\n  script: b\nnone:\n  script: c\n  dependencies: []\n",
			in:   pushMain,
			check: func(t *testing.T, p *Plan) {
				if d := jobOf(t, p, "all").Dependencies; d != nil {
					t.Errorf("dependencies = %q, want nil", d)
				}
				if d := jobOf(t, p, "none").Dependencies; d == nil || len(d) != 0 {
					t.Errorf("dependencies: [] became %#v", d)
				}
			},
		},
		{
			name: "a dependency left out by rules is noted and dropped",
			yaml: "build:\n  stage: build\n  script: a\n  only: [tags]\ntest:\n  script: b\n  dependencies: [build]\n",
			in:   pushMain,
			check: func(t *testing.T, p *Plan) {
				if d := jobOf(t, p, "test").Dependencies; len(d) != 0 {
					t.Errorf("dependencies = %q", d)
				}
				if len(p.Notices) != 1 || !strings.Contains(p.Notices[0], `dependencies: "build" is not in the pipeline`) {
					t.Errorf("notices = %q", p.Notices)
				}
			},
		},
		{
			name: "cross-project needs are not executed",
			yaml: "test:\n  script: b\n  needs:\n    - project: group/lib\n      job: build\n      ref: main\n",
			in:   pushMain,
			check: func(t *testing.T, p *Plan) {
				j := jobOf(t, p, "test")
				if len(j.Needs) != 0 {
					t.Errorf("needs = %+v", j.Needs)
				}
				if len(j.NotExecuted) != 1 || j.NotExecuted[0].Keyword != "needs:project" {
					t.Errorf("not executed = %+v", j.NotExecuted)
				}
			},
		},
	})
}

func TestParallelLimit(t *testing.T) {
	for _, par := range []*pipeline.Parallel{
		{Count: 201},
		{Matrix: []map[string][]string{{"A": seq(15), "B": seq(14)}}},
		{Matrix: []map[string][]string{{"A": seq(150)}, {"B": seq(60)}}},
	} {
		p := &pipeline.Pipeline{Stages: []string{".pre", "test", ".post"},
			Jobs: []*pipeline.Job{{Name: "big", Stage: "test", Script: []string{"x"}, Parallel: par}}}
		_, err := Make(p, pushMain)
		if err == nil || !strings.Contains(err.Error(), "jobs:big:parallel") || !strings.Contains(err.Error(), "at most 200") {
			t.Errorf("parallel %+v: error = %v", par, err)
		}
	}
}

func seq(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = strings.Repeat("v", i+1)
	}
	return out
}
