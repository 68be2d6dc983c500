package plan

import (
	"slices"
	"strings"
	"testing"

	"github.com/gantry-ci/gantry/internal/pipeline"
)

const mrOrMain = `
workflow:
  rules:
    - if: $CI_PIPELINE_SOURCE == "merge_request_event"
    - if: $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH
      variables:
        DEPLOY: "true"
build:
  script: make
deploy:
  script: deploy
  rules:
    - if: $DEPLOY == "true"
`

func TestWorkflow(t *testing.T) {
	runCases(t, []planCase{
		{
			name: "no workflow rules",
			yaml: "build:\n  script: make\n",
			in:   pushMain,
			check: func(t *testing.T, p *Plan) {
				if !p.Created || p.Reason != "no workflow:rules" {
					t.Errorf("created %v reason %q", p.Created, p.Reason)
				}
			},
		},
		{
			name: "workflow rule lets the pipeline run and sets variables",
			yaml: mrOrMain,
			in:   pushMain,
			jobs: []string{"build", "deploy"},
			check: func(t *testing.T, p *Plan) {
				if !p.Created || p.Reason != `workflow:rules:1: if $CI_COMMIT_BRANCH ("main") == $CI_DEFAULT_BRANCH ("main")` {
					t.Errorf("created %v reason %q", p.Created, p.Reason)
				}
				wantVar(t, p.Variables, "DEPLOY", "true")
				wantVar(t, jobOf(t, p, "build").Variables, "DEPLOY", "true")
			},
		},
		{
			name: "workflow rules drop the default only",
			yaml: mrOrMain,
			in:   mrFeature,
			jobs: []string{"build"},
			check: func(t *testing.T, p *Plan) {
				wantReason(t, jobOf(t, p, "build"), "no rules, only or except (workflow:rules replace the default only: branches, tags)")
			},
		},
		{
			name: "no workflow rule matched",
			yaml: mrOrMain,
			in:   pushFeature,
			check: func(t *testing.T, p *Plan) {
				if p.Created || len(p.Jobs) != 0 || !strings.HasPrefix(p.Reason, "workflow:rules: no rule matched") {
					t.Errorf("created %v jobs %d reason %q", p.Created, len(p.Jobs), p.Reason)
				}
			},
		},
		{
			name: "workflow when never",
			yaml: `
workflow:
  rules:
    - if: $CI_COMMIT_MESSAGE =~ /\[skip build\]/
      when: never
    - when: always
build:
  script: make`,
			in: with(pushMain, func(in *Input) { in.Commit.Message = "wip [skip build]" }),
			check: func(t *testing.T, p *Plan) {
				if p.Created || !strings.HasPrefix(p.Reason, "workflow:rules:0: when never (if $CI_COMMIT_MESSAGE") {
					t.Errorf("created %v reason %q", p.Created, p.Reason)
				}
			},
		},
		{
			name: "workflow rules cannot see job-only variables",
			yaml: "workflow:\n  rules:\n    - if: $CI_PIPELINE_ID\nbuild:\n  script: make\n",
			in:   pushMain,
			check: func(t *testing.T, p *Plan) {
				if p.Created {
					t.Error("pipeline created from a job-only variable")
				}
			},
		},
		{
			name: "workflow rules with changes",
			yaml: "workflow:\n  rules:\n    - changes: [src/**/*]\nbuild:\n  script: make\n",
			in:   changed(pushFeature, "docs/a.md"),
			check: func(t *testing.T, p *Plan) {
				if p.Created {
					t.Error("created without a matching change")
				}
			},
		},
		{
			name: "workflow name is expanded and exported",
			yaml: `
variables:
  KIND: nightly
workflow:
  name: "$KIND for $CI_COMMIT_REF_NAME ($MODE)"
  rules:
    - variables:
        MODE: full
  auto_cancel:
    on_new_commit: interruptible
build:
  script: make`,
			in: pushMain,
			check: func(t *testing.T, p *Plan) {
				if p.Name != "nightly for main (full)" {
					t.Errorf("name = %q", p.Name)
				}
				wantVar(t, jobOf(t, p, "build").Variables, "CI_PIPELINE_NAME", "nightly for main (full)")
				if p.AutoCancel.OnNewCommit != "interruptible" {
					t.Errorf("auto_cancel = %+v", p.AutoCancel)
				}
			},
		},
		{
			name: "workflow variables lose to job variables and input",
			yaml: `
variables:
  A: global
  B: global
workflow:
  rules:
    - variables:
        A: workflow
        B: workflow
build:
  script: make
  variables:
    B: job`,
			in: with(pushMain, func(in *Input) { in.Variables = vars("A", "input") }),
			check: func(t *testing.T, p *Plan) {
				vs := jobOf(t, p, "build").Variables
				wantVar(t, vs, "A", "input")
				wantVar(t, vs, "B", "job")
				wantVar(t, p.Variables, "B", "workflow")
			},
		},
	})
}

func TestStagesAndEmptyPlans(t *testing.T) {
	runCases(t, []planCase{
		{
			name: "stages hold only those with jobs, jobs in stage order",
			yaml: `
stages: [lint, build, test, deploy]
deploy:
  stage: deploy
  script: a
  only: [tags]
unit:
  stage: test
  script: a
compile:
  stage: build
  script: a
setup:
  stage: .pre
  script: a`,
			in:   pushMain,
			jobs: []string{"setup", "compile", "unit"},
			check: func(t *testing.T, p *Plan) {
				if !slices.Equal(p.Stages, []string{".pre", "build", "test"}) {
					t.Errorf("stages = %q", p.Stages)
				}
			},
		},
		{
			name: "no job left is GitLab's refusal",
			yaml: "release:\n  script: a\n  only: [tags]\n",
			in:   pushMain,
			err:  "pipeline will not run for the selected trigger",
			check: func(t *testing.T, p *Plan) {
				if p.Created || len(p.Skipped) != 1 || !strings.HasPrefix(p.Reason, "pipeline will not run") {
					t.Errorf("created %v skipped %v reason %q", p.Created, p.Skipped, p.Reason)
				}
			},
		},
		{
			name: "only .pre and .post jobs left",
			yaml: "setup:\n  stage: .pre\n  script: a\nrelease:\n  script: a\n  only: [tags]\n",
			in:   pushMain,
			err:  "only jobs of the .pre and .post stages",
			check: func(t *testing.T, p *Plan) {
				if p.Created || len(p.Jobs) != 0 {
					t.Errorf("created %v jobs %q", p.Created, jobNames(p))
				}
			},
		},
	})
}

func TestNotices(t *testing.T) {
	runCases(t, []planCase{
		{
			name: "unresolved includes",
			yaml: `
include:
  - project: group/templates
    file: /ci/build.yml
  - template: Security/SAST.gitlab-ci.yml
  - remote: https://example.com/ci.yml
  - component: gitlab.com/org/comp/deploy@1.0
build:
  script: make`,
			in: pushMain,
			check: func(t *testing.T, p *Plan) {
				want := []string{"include:project group/templates", "include:template Security/SAST",
					"include:remote https://example.com/ci.yml", "include:component gitlab.com/org/comp/deploy@1.0"}
				if len(p.Notices) != len(want) {
					t.Fatalf("notices = %q", p.Notices)
				}
				for i, w := range want {
					if !strings.HasPrefix(p.Notices[i], w) || !strings.Contains(p.Notices[i], "was not included") {
						t.Errorf("notice %d = %q, want it to start with %q", i, p.Notices[i], w)
					}
				}
			},
		},
		{
			name: "keywords Gantry does not carry out",
			yaml: `
deploy:
  image: alpine
  tags: [docker]
  script: a
  release:
    tag_name: v1
    description: first`,
			in: pushMain,
			check: func(t *testing.T, p *Plan) {
				var kws []string
				for _, n := range jobOf(t, p, "deploy").NotExecuted {
					kws = append(kws, n.Keyword)
					if n.Reason == "" {
						t.Errorf("%s has no reason", n.Keyword)
					}
				}
				if !slices.Equal(kws, []string{"image", "release", "tags"}) {
					t.Errorf("not executed = %q", kws)
				}
			},
		},
	})
}

func TestMakeRejectsBadInput(t *testing.T) {
	if _, err := Make(nil, pushMain); err == nil {
		t.Error("nil pipeline accepted")
	}
	p := &pipeline.Pipeline{Stages: []string{".pre", "test", ".post"}, Jobs: []*pipeline.Job{{
		Name: "bad", Stage: "test", Script: []string{"x"}, HasRules: true,
		Rules: []pipeline.Rule{{If: "$A == "}},
	}}}
	_, err := Make(p, pushMain)
	if err == nil || !strings.Contains(err.Error(), "jobs:bad: rules:0:if invalid expression") {
		t.Errorf("error = %v", err)
	}
	p.Jobs[0].Rules, p.Jobs[0].Stage = nil, "lint"
	_, err = Make(p, pushMain)
	if err == nil || !strings.Contains(err.Error(), `jobs:bad:stage: chosen stage "lint" does not exist`) {
		t.Errorf("error = %v", err)
	}
}
