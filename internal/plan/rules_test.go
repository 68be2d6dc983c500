package plan

import (
	"strings"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/internal/pipeline"
)

func TestJobRules(t *testing.T) {
	runCases(t, []planCase{
		{
			name: "if matches and says why",
			yaml: `
build:
  script: make
  rules:
    - if: $CI_COMMIT_BRANCH == "main"`,
			in:   pushMain,
			jobs: []string{"build"},
			check: func(t *testing.T, p *Plan) {
				wantReason(t, jobOf(t, p, "build"), `rules:0: if $CI_COMMIT_BRANCH ("main") == "main"`)
			},
		},
		{
			name: "no rule matched leaves the job out",
			yaml: `
build:
  script: make
  rules:
    - if: $CI_COMMIT_TAG
keep:
  script: make`,
			in:      pushMain,
			jobs:    []string{"keep"},
			skipped: map[string]string{"build": "rules: no rule matched (rules:0 if $CI_COMMIT_TAG (undefined))"},
		},
		{
			name: "first matching rule wins",
			yaml: `
deploy:
  script: deploy
  rules:
    - if: $CI_COMMIT_BRANCH == "main"
      when: manual
    - when: always`,
			in: pushMain,
			check: func(t *testing.T, p *Plan) {
				j := jobOf(t, p, "deploy")
				if j.When != pipeline.WhenManual {
					t.Errorf("when = %s, want manual", j.When)
				}
			},
		},
		{
			name: "later rule matches when earlier ones fail",
			yaml: `
deploy:
  script: deploy
  rules:
    - if: $CI_COMMIT_TAG
      when: manual
    - when: always`,
			in: pushMain,
			check: func(t *testing.T, p *Plan) {
				j := jobOf(t, p, "deploy")
				if j.When != pipeline.WhenAlways {
					t.Errorf("when = %s, want always", j.When)
				}
				wantReason(t, j, "rules:1: no conditions")
			},
		},
		{
			name: "when never excludes",
			yaml: `
build:
  script: make
  rules:
    - if: $CI_PIPELINE_SOURCE == "push"
      when: never
    - when: always
other:
  script: make`,
			in:      pushMain,
			jobs:    []string{"other"},
			skipped: map[string]string{"build": `rules:0: when never (if $CI_PIPELINE_SOURCE ("push") == "push")`},
		},
		{
			name: "bare when never",
			yaml: `
build:
  script: make
  rules:
    - when: never
other:
  script: make`,
			in:      pushMain,
			skipped: map[string]string{"build": "rules:0: when never"},
		},
		{
			name: "empty rules list runs nowhere",
			yaml: `
build:
  script: make
  rules: []
other:
  script: make`,
			in:      pushMain,
			skipped: map[string]string{"build": "rules: no rule matched"},
		},
		{
			name: "manual in rules does not allow failure",
			yaml: `
deploy:
  script: deploy
  rules:
    - when: manual`,
			in: pushMain,
			check: func(t *testing.T, p *Plan) {
				if af := jobOf(t, p, "deploy").AllowFailure; af.Allowed {
					t.Errorf("allow_failure = %+v, want false for a manual job from rules", af)
				}
			},
		},
		{
			name: "rule allow_failure true",
			yaml: `
deploy:
  script: deploy
  rules:
    - when: manual
      allow_failure: true`,
			in: pushMain,
			check: func(t *testing.T, p *Plan) {
				if af := jobOf(t, p, "deploy").AllowFailure; !af.Allowed {
					t.Error("allow_failure false, want true from the rule")
				}
			},
		},
		{
			name: "job allow_failure kept when the rule is silent",
			yaml: `
lint:
  script: lint
  allow_failure: true
  rules:
    - when: on_success`,
			in: pushMain,
			check: func(t *testing.T, p *Plan) {
				if !jobOf(t, p, "lint").AllowFailure.Allowed {
					t.Error("allow_failure false, want the job's true")
				}
			},
		},
		{
			name: "rule allow_failure false overrides exit codes",
			yaml: `
lint:
  script: lint
  allow_failure:
    exit_codes: [3]
  rules:
    - allow_failure: false`,
			in: pushMain,
			check: func(t *testing.T, p *Plan) {
				af := jobOf(t, p, "lint").AllowFailure
				if af.Allowed || len(af.ExitCodes) != 0 {
					t.Errorf("allow_failure = %+v, want plain false", af)
				}
			},
		},
		{
			name: "rules variables override job variables, input wins over both",
			yaml: `
build:
  script: make
  variables:
    MODE: debug
    LEVEL: "1"
    KEEP: job
  rules:
    - variables:
        MODE: release
        LEVEL: "2"`,
			in: with(pushMain, func(in *Input) { in.Variables = vars("LEVEL", "9") }),
			check: func(t *testing.T, p *Plan) {
				vs := jobOf(t, p, "build").Variables
				wantVar(t, vs, "MODE", "release")
				wantVar(t, vs, "LEVEL", "9")
				wantVar(t, vs, "KEEP", "job")
			},
		},
		{
			name: "rules needs replace the job's needs",
			yaml: `
a:
  stage: build
  script: a
b:
  stage: build
  script: b
test:
  script: t
  needs: [a]
  rules:
    - needs: [b]`,
			in: pushMain,
			check: func(t *testing.T, p *Plan) {
				if got := needNames(jobOf(t, p, "test")); len(got) != 1 || got[0] != "b" {
					t.Errorf("needs = %q, want [b]", got)
				}
			},
		},
		{
			name: "rules interruptible and delayed start",
			yaml: `
deploy:
  script: deploy
  interruptible: false
  rules:
    - when: delayed
      start_in: 30 minutes
      interruptible: true`,
			in: pushMain,
			check: func(t *testing.T, p *Plan) {
				j := jobOf(t, p, "deploy")
				if j.When != pipeline.WhenDelayed || j.StartIn != 30*time.Minute || !j.Interruptible {
					t.Errorf("when %s start_in %v interruptible %v, want delayed 30m true", j.When, j.StartIn, j.Interruptible)
				}
			},
		},
		{
			name: "if sees job, global and input variables",
			yaml: `
variables:
  TARGET: staging
build:
  script: make
  variables:
    FLAVOR: slim
  rules:
    - if: $TARGET == "prod" && $FLAVOR == "slim"`,
			in:   with(pushMain, func(in *Input) { in.Variables = vars("TARGET", "prod") }),
			jobs: []string{"build"},
		},
		{
			name: "if sees nested variables expanded, raw ones literally",
			yaml: `
variables:
  BASE: app
  IMAGE: $BASE-image
  RAW:
    value: $BASE
    expand: false
build:
  script: make
  rules:
    - if: $IMAGE == "app-image" && $RAW == "$BASE"`,
			in:   pushMain,
			jobs: []string{"build"},
		},
		{
			name: "if sees CI_JOB_NAME and CI_JOB_STAGE",
			yaml: `
.only-lint: &only-lint
  rules:
    - if: $CI_JOB_NAME =~ /^lint/ && $CI_JOB_STAGE == "test"
lint-go:
  <<: *only-lint
  script: lint
build-go:
  <<: *only-lint
  script: make`,
			in:      pushMain,
			jobs:    []string{"lint-go"},
			skipped: map[string]string{"build-go": "rules: no rule matched"},
		},
		{
			name: "if cannot see job-only CI_PROJECT_DIR",
			yaml: `
build:
  script: make
  rules:
    - if: $CI_PROJECT_DIR
other:
  script: make`,
			in:      with(pushMain, func(in *Input) { in.Project.Dir = "/builds/group/app" }),
			skipped: map[string]string{"build": "rules: no rule matched (rules:0 if $CI_PROJECT_DIR (undefined))"},
			check: func(t *testing.T, p *Plan) {
				wantVar(t, jobOf(t, p, "other").Variables, "CI_PROJECT_DIR", "/builds/group/app")
			},
		},
		{
			name: "if sees CI_ENVIRONMENT_NAME",
			yaml: `
deploy:
  script: deploy
  environment: review/$CI_COMMIT_REF_SLUG
  rules:
    - if: $CI_ENVIRONMENT_NAME =~ /^review\//`,
			in:   pushFeature,
			jobs: []string{"deploy"},
		},
		{
			name: "changes matches a changed file",
			yaml: `
docs:
  script: make docs
  rules:
    - changes: ["docs/**/*.md"]`,
			in:   changed(pushFeature, "src/main.go", "docs/guide/intro.md"),
			jobs: []string{"docs"},
			check: func(t *testing.T, p *Plan) {
				wantReason(t, jobOf(t, p, "docs"), "rules:0: changes docs/guide/intro.md")
			},
		},
		{
			name: "changes without a matching file",
			yaml: `
docs:
  script: make docs
  rules:
    - changes: ["docs/**/*.md"]
other:
  script: make`,
			in:      changed(pushFeature, "src/main.go"),
			skipped: map[string]string{"docs": "rules: no rule matched (rules:0 changes: no changed file matches docs/**/*.md)"},
		},
		{
			name: "changes are true when they cannot be known",
			yaml: `
docs:
  script: make docs
  rules:
    - changes: [docs/*]`,
			in:   tagV123,
			jobs: []string{"docs"},
			check: func(t *testing.T, p *Plan) {
				wantReason(t, jobOf(t, p, "docs"), "rules:0: changes (changed files unknown, so counted as changed)")
			},
		},
		{
			name: "trailing ** matches one level only, as Ruby's fnmatch",
			yaml: `
shallow:
  script: a
  rules:
    - changes: [docs/**]
deep:
  script: b
  rules:
    - changes: [docs/**/*]`,
			in:      changed(pushFeature, "docs/guide/intro.md"),
			jobs:    []string{"deep"},
			skipped: map[string]string{"shallow": "rules: no rule matched"},
		},
		{
			name: "star matches dot files",
			yaml: `
env:
  script: a
  rules:
    - changes: ["config/*"]`,
			in:   changed(pushFeature, "config/.env"),
			jobs: []string{"env"},
		},
		{
			name: "changes paths expand variables",
			yaml: `
variables:
  SERVICE: api
svc:
  script: a
  rules:
    - changes: [services/$SERVICE/**/*]`,
			in:   changed(pushFeature, "services/api/main.go"),
			jobs: []string{"svc"},
		},
		{
			name: "changes compare_to is noted",
			yaml: `
svc:
  script: a
  rules:
    - changes:
        paths: [src/*]
        compare_to: refs/heads/main`,
			in:   changed(pushFeature, "src/a.go"),
			jobs: []string{"svc"},
			check: func(t *testing.T, p *Plan) {
				if len(p.Notices) != 1 || !strings.Contains(p.Notices[0], "compare_to \"refs/heads/main\" is not compared") {
					t.Errorf("notices = %q", p.Notices)
				}
			},
		},
		{
			name:    "an invalid glob matches nothing and is noted",
			yaml:    "svc:\n  script: a\n  rules:\n    - changes: ['src/[']\nother:\n  script: b\n",
			in:      changed(pushFeature, "src/["),
			skipped: map[string]string{"svc": "rules: no rule matched"},
			check: func(t *testing.T, p *Plan) {
				if len(p.Notices) != 1 || !strings.Contains(p.Notices[0], `invalid glob pattern "src/["`) {
					t.Errorf("notices = %q", p.Notices)
				}
			},
		},
		{
			name: "if and changes must both hold",
			yaml: `
svc:
  script: a
  rules:
    - if: $CI_COMMIT_BRANCH == "main"
      changes: [src/*]
other:
  script: b`,
			in:      changed(pushFeature, "src/a.go"),
			skipped: map[string]string{"svc": `rules: no rule matched (rules:0 if $CI_COMMIT_BRANCH ("feature/login") == "main")`},
		},
		{
			name:  "exists finds a file",
			yaml:  "docker:\n  script: a\n  rules:\n    - exists: [Dockerfile]\n",
			in:    pushMain,
			files: map[string]string{"Dockerfile": "FROM scratch"},
			jobs:  []string{"docker"},
			check: func(t *testing.T, p *Plan) {
				wantReason(t, jobOf(t, p, "docker"), "rules:0: exists Dockerfile")
			},
		},
		{
			name:    "exists with a glob and no match",
			yaml:    "gotest:\n  script: a\n  rules:\n    - exists: ['**/*.go']\nother:\n  script: b\n",
			in:      pushMain,
			files:   map[string]string{"src/main.rs": "", "README.md": ""},
			skipped: map[string]string{"gotest": "rules: no rule matched (rules:0 exists: no file matches **/*.go)"},
		},
		{
			name:  "exists glob in subfolders",
			yaml:  "gotest:\n  script: a\n  rules:\n    - exists: ['**/*.go']\n",
			in:    pushMain,
			files: map[string]string{"cmd/tool/main.go": ""},
			jobs:  []string{"gotest"},
		},
		{
			name:    "exists is false without repository files",
			yaml:    "docker:\n  script: a\n  rules:\n    - exists: [Dockerfile]\nother:\n  script: b\n",
			in:      pushMain,
			skipped: map[string]string{"docker": "rules: no rule matched"},
		},
		{
			name:    "exists ignores folders",
			yaml:    "docs:\n  script: a\n  rules:\n    - exists: [docs]\nother:\n  script: b\n",
			in:      pushMain,
			files:   map[string]string{"docs/index.md": ""},
			skipped: map[string]string{"docs": "rules: no rule matched"},
		},
		{
			name: "rules jobs run in merge request pipelines",
			yaml: `
mr:
  script: a
  rules:
    - if: $CI_PIPELINE_SOURCE == "merge_request_event"
plain:
  script: b`,
			in:      mrFeature,
			jobs:    []string{"mr"},
			skipped: map[string]string{"plain": "default only: branches, tags (merge request pipeline for feature/login)"},
		},
	})
}
