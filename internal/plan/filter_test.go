package plan

import (
	"testing"
	"time"

	"github.com/gantry-ci/gantry/internal/pipeline"
)

func TestOnlyExcept(t *testing.T) {
	schedule := with(pushMain, func(in *Input) { in.Source = SourceSchedule })
	runCases(t, []planCase{
		{
			name:    "default only runs for branches",
			yaml:    "build:\n  script: make\n",
			in:      pushFeature,
			jobs:    []string{"build"},
			check:   func(t *testing.T, p *Plan) { wantReason(t, jobOf(t, p, "build"), "default only: branches, tags") },
			skipped: nil,
		},
		{
			name: "default only runs for tags",
			yaml: "build:\n  script: make\n",
			in:   tagV123,
			jobs: []string{"build"},
		},
		{
			name: "default only keeps jobs out of merge request pipelines",
			yaml: "build:\n  script: make\nmr:\n  script: a\n  only: [merge_requests]\n",
			in:   mrFeature,
			jobs: []string{"mr"},
			skipped: map[string]string{
				"build": "default only: branches, tags (merge request pipeline for feature/login)",
			},
		},
		{
			name: "only a branch name",
			yaml: "deploy:\n  script: a\n  only: [main]\nbuild:\n  script: b\n",
			in:   pushMain,
			jobs: []string{"deploy", "build"},
			check: func(t *testing.T, p *Plan) {
				wantReason(t, jobOf(t, p, "deploy"), "only: refs main")
			},
		},
		{
			name:    "only a branch name on another branch",
			yaml:    "deploy:\n  script: a\n  only: [main]\nbuild:\n  script: b\n",
			in:      pushDevelop,
			skipped: map[string]string{"deploy": "only: refs main (ref is branch develop)"},
		},
		{
			name:    "only tags on a branch",
			yaml:    "release:\n  script: a\n  only: [tags]\nbuild:\n  script: b\n",
			in:      pushMain,
			skipped: map[string]string{"release": "only: refs tags (ref is branch main)"},
		},
		{
			name: "only tags on a tag",
			yaml: "release:\n  script: a\n  only: [tags]\n",
			in:   tagV123,
			jobs: []string{"release"},
		},
		{
			name:    "only branches on a tag",
			yaml:    "b:\n  script: a\n  only: [branches]\nother:\n  script: b\n",
			in:      tagV123,
			skipped: map[string]string{"b": "only: refs branches (ref is tag v1.2.3)"},
		},
		{
			name: "only a regular expression",
			yaml: "rel:\n  script: a\n  only: ['/^release\\/.*$/']\nother:\n  script: b\n",
			in:   with(pushMain, func(in *Input) { in.Ref = "release/1.0" }),
			jobs: []string{"rel", "other"},
		},
		{
			name: "only a case-insensitive regular expression",
			yaml: "rel:\n  script: a\n  only: ['/^issue-/i']\n",
			in:   with(pushMain, func(in *Input) { in.Ref = "ISSUE-42" }),
			jobs: []string{"rel"},
		},
		{
			name:    "a regular expression does not match merge request pipelines",
			yaml:    "rel:\n  script: a\n  only: ['/^feature/']\nmr:\n  script: b\n  only: [merge_requests]\n",
			in:      mrFeature,
			skipped: map[string]string{"rel": "only: refs /^feature/ (merge request pipeline for feature/login)"},
		},
		{
			name:    "a branch name does not match merge request pipelines",
			yaml:    "rel:\n  script: a\n  only: [feature/login]\nmr:\n  script: b\n  only: [merge_requests]\n",
			in:      mrFeature,
			jobs:    []string{"mr"},
			skipped: map[string]string{"rel": "only: refs feature/login"},
		},
		{
			name: "only schedules",
			yaml: "nightly:\n  script: a\n  only: [schedules]\nbuild:\n  script: b\n  except: [schedules]\n",
			in:   schedule,
			jobs: []string{"nightly"},
			skipped: map[string]string{
				"build": "except: refs schedules",
			},
		},
		{
			name: "branches also match scheduled pipelines",
			yaml: "b:\n  script: a\n  only: [branches]\n",
			in:   schedule,
			jobs: []string{"b"},
		},
		{
			name: "pipeline sources by keyword",
			yaml: `
web:
  script: a
  only: [web]
api:
  script: a
  only: [api]
triggers:
  script: a
  only: [triggers]
pipelines:
  script: a
  only: [pipelines]
pushes:
  script: a
  only: [pushes]`,
			in:   with(pushMain, func(in *Input) { in.Source = SourceTrigger }),
			jobs: []string{"triggers"},
			skipped: map[string]string{
				"web": "only: refs web (ref is branch main, source trigger)",
				"api": "only: refs api", "pipelines": "only: refs pipelines", "pushes": "only: refs pushes",
			},
		},
		{
			name: "pushes and api keywords",
			yaml: "p:\n  script: a\n  only: [pushes]\nx:\n  script: a\n  only: [external_pull_requests]\n",
			in:   pushMain,
			jobs: []string{"p"},
		},
		{
			name: "external pull requests keyword",
			yaml: "x:\n  script: a\n  only: [external_pull_requests]\n",
			in:   with(pushMain, func(in *Input) { in.Source = "external_pull_request_event" }),
			jobs: []string{"x"},
		},
		{
			name: "ref scoped to a project path",
			yaml: "mine:\n  script: a\n  only: [main@group/app]\nfork:\n  script: a\n  only: [main@other/app]\n",
			in:   pushMain,
			jobs: []string{"mine"},
			skipped: map[string]string{
				"fork": "only: refs main@other/app",
			},
		},
		{
			name:    "except a branch",
			yaml:    "build:\n  script: a\n  except: [main]\nother:\n  script: b\n",
			in:      pushMain,
			skipped: map[string]string{"build": "except: refs main"},
		},
		{
			name:    "except alone keeps the default only",
			yaml:    "build:\n  script: a\n  except: [main]\nmr:\n  script: b\n  only: [merge_requests]\n",
			in:      mrFeature,
			skipped: map[string]string{"build": "default only: branches, tags"},
		},
		{
			name:    "except merge requests",
			yaml:    "build:\n  script: a\n  only: [branches, merge_requests]\n  except: [merge_requests]\nmr:\n  script: b\n  only: [merge_requests]\n",
			in:      mrFeature,
			skipped: map[string]string{"build": "except: refs merge_requests"},
		},
		{
			name: "only variables",
			yaml: `
e2e:
  script: a
  only:
    variables:
      - $CI_COMMIT_MESSAGE =~ /run-e2e/
unit:
  script: a
  only:
    variables: [$CI_COMMIT_MESSAGE =~ /Add/]`,
			in:      pushMain,
			jobs:    []string{"unit"},
			skipped: map[string]string{"e2e": "only: variables: none holds ($CI_COMMIT_MESSAGE"},
		},
		{
			name: "only refs and variables must both hold",
			yaml: `
job:
  script: a
  only:
    refs: [main, schedules]
    variables: [$DEPLOY == "yes"]
other:
  script: b`,
			in:      with(pushDevelop, func(in *Input) { in.Variables = vars("DEPLOY", "yes") }),
			skipped: map[string]string{"job": "only: refs main, schedules (ref is branch develop)"},
		},
		{
			name: "only refs and variables both holding",
			yaml: `
job:
  script: a
  only:
    refs: [main, schedules]
    variables: [$DEPLOY == "yes"]`,
			in: with(pushMain, func(in *Input) { in.Variables = vars("DEPLOY", "yes") }),
			check: func(t *testing.T, p *Plan) {
				wantReason(t, jobOf(t, p, "job"), `only: refs main; variables $DEPLOY ("yes") == "yes"`)
			},
		},
		{
			name:    "except variables",
			yaml:    "e2e:\n  script: a\n  except:\n    variables: [$CI_COMMIT_MESSAGE =~ /Add/]\nother:\n  script: b\n",
			in:      pushMain,
			skipped: map[string]string{"e2e": "except: variables $CI_COMMIT_MESSAGE"},
		},
		{
			name:    "only changes",
			yaml:    "docs:\n  script: a\n  only:\n    changes: [docs/*]\nsrc:\n  script: a\n  only:\n    changes: ['src/**/*']\n",
			in:      changed(pushFeature, "src/pkg/a.go"),
			jobs:    []string{"src"},
			skipped: map[string]string{"docs": "only: changes: no changed file matches docs/*"},
		},
		{
			name:    "except changes",
			yaml:    "build:\n  script: a\n  except:\n    changes: ['*.md']\nother:\n  script: b\n",
			in:      changed(pushFeature, "README.md"),
			skipped: map[string]string{"build": "except: changes README.md"},
		},
		{
			name:    "except changes holds when changes are unknown",
			yaml:    "build:\n  script: a\n  except:\n    changes: ['*.md']\nother:\n  script: b\n",
			in:      tagV123,
			skipped: map[string]string{"build": "except: changes (changed files unknown"},
		},
		{
			name:    "only kubernetes active",
			yaml:    "k8s:\n  script: a\n  only:\n    kubernetes: active\nother:\n  script: b\n",
			in:      pushMain,
			skipped: map[string]string{"k8s": "only: kubernetes active (Kubernetes is not active)"},
		},
		{
			name: "only kubernetes active when it is",
			yaml: "k8s:\n  script: a\n  only:\n    kubernetes: active\n",
			in:   with(pushMain, func(in *Input) { in.KubernetesActive = true }),
			jobs: []string{"k8s"},
		},
		{
			name: "manual job without rules may fail",
			yaml: "deploy:\n  script: a\n  when: manual\nstrict:\n  script: a\n  when: manual\n  allow_failure: false\n",
			in:   pushMain,
			check: func(t *testing.T, p *Plan) {
				if !jobOf(t, p, "deploy").AllowFailure.Allowed {
					t.Error("manual job without rules: allow_failure false, want true")
				}
				if jobOf(t, p, "strict").AllowFailure.Allowed {
					t.Error("allow_failure: false was not kept")
				}
			},
		},
		{
			name: "delayed job keeps start_in",
			yaml: "later:\n  script: a\n  when: delayed\n  start_in: 1 hour\nnow:\n  script: a\n",
			in:   pushMain,
			check: func(t *testing.T, p *Plan) {
				j := jobOf(t, p, "later")
				if j.When != pipeline.WhenDelayed || j.StartIn != time.Hour {
					t.Errorf("when %s start_in %v, want delayed 1h", j.When, j.StartIn)
				}
				if jobOf(t, p, "now").When != pipeline.WhenOnSuccess {
					t.Error("default when is not on_success")
				}
			},
		},
	})
}
