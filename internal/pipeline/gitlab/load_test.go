package gitlab

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/gantry-ci/gantry/internal/pipeline"
)

func mustLoad(t *testing.T, src string, files fstest.MapFS) *pipeline.Pipeline {
	t.Helper()
	p, errs := load(t, src, files)
	if len(errs) > 0 {
		t.Fatalf("unexpected errors:\n%v", errs)
	}
	return p
}

func vars(vs []pipeline.Variable) map[string]string {
	m := map[string]string{}
	for _, v := range vs {
		m[v.Name] = v.Value
	}
	return m
}

func TestExtendsDeepMerge(t *testing.T) {
	p := mustLoad(t, `
.base:
  image: alpine
  variables: {A: base, B: base}
  script: [base]
  artifacts:
    paths: [a]
    expire_in: 1 week
.mid:
  extends: .base
  variables: {B: mid, C: mid}
  artifacts:
    paths: [m]
job:
  extends: [.mid]
  variables: {C: job}
  script: [own]
`, nil)
	j := p.Job("job")
	if got := vars(j.Variables); !reflect.DeepEqual(got, map[string]string{"A": "base", "B": "mid", "C": "job"}) {
		t.Errorf("variables merge as hashes: got %v", got)
	}
	if !reflect.DeepEqual(j.Script, []string{"own"}) {
		t.Errorf("lists replace: script = %v", j.Script)
	}
	if !reflect.DeepEqual(j.Artifacts.Paths, []string{"m"}) || j.Artifacts.ExpireIn != "1 week" {
		t.Errorf("artifacts hash merged, paths replaced: %+v", j.Artifacts)
	}
	if j.Image == nil || j.Image.Name != "alpine" {
		t.Errorf("image inherited through two levels: %+v", j.Image)
	}
}

func TestExtendsMultipleParentsLaterWins(t *testing.T) {
	p := mustLoad(t, `
.a: {stage: build, variables: {X: a}, script: [a]}
.b: {variables: {X: b}, script: [b]}
job: {extends: [.a, .b]}
`, nil)
	j := p.Job("job")
	if j.Stage != "build" || vars(j.Variables)["X"] != "b" || j.Script[0] != "b" {
		t.Errorf("got stage %q vars %v script %v", j.Stage, vars(j.Variables), j.Script)
	}
}

func TestAnchorsAliasesAndMergeKeys(t *testing.T) {
	p := mustLoad(t, `
.defaults: &defaults
  stage: build
  script: [echo defaults]
  variables: &vars
    A: "1"
job1:
  <<: *defaults
  script: [echo own]
job2:
  <<: [*defaults]
  variables:
    <<: *vars
    B: "2"
`, nil)
	j1, j2 := p.Job("job1"), p.Job("job2")
	if j1.Stage != "build" || j1.Script[0] != "echo own" {
		t.Errorf("explicit keys win over merged ones: %+v", j1)
	}
	if got := vars(j2.Variables); !reflect.DeepEqual(got, map[string]string{"A": "1", "B": "2"}) {
		t.Errorf("merge key inside variables: %v", got)
	}
}

func TestReferenceTag(t *testing.T) {
	p := mustLoad(t, `
.setup:
  script:
    - echo one
    - echo two
  variables:
    URL: http://example
.nested:
  script:
    - !reference [.setup, script]
    - echo three
job:
  before_script:
    - !reference [.nested, script]
  script:
    - !reference [.setup, script]
    - echo own
  variables:
    SITE: !reference [.setup, variables, URL]
`, nil)
	j := p.Job("job")
	if want := []string{"echo one", "echo two", "echo three"}; !reflect.DeepEqual(j.BeforeScript, want) {
		t.Errorf("nested reference flattened: %v", j.BeforeScript)
	}
	if want := []string{"echo one", "echo two", "echo own"}; !reflect.DeepEqual(j.Script, want) {
		t.Errorf("script = %v", j.Script)
	}
	if vars(j.Variables)["SITE"] != "http://example" {
		t.Errorf("scalar reference: %v", j.Variables)
	}
}

func TestDefaultAndInherit(t *testing.T) {
	p := mustLoad(t, `
variables: {G1: a, G2: b}
default:
  image: ruby
  before_script: [setup]
  retry: 2
  tags: [docker]
a:
  script: [x]
b:
  script: [x]
  image: alpine
  inherit:
    default: [retry]
    variables: [G2]
c:
  script: [x]
  inherit:
    default: false
    variables: false
`, nil)
	a, b, c := p.Job("a"), p.Job("b"), p.Job("c")
	if a.Image.Name != "ruby" || a.BeforeScript[0] != "setup" || a.Retry.Max != 2 || a.Tags[0] != "docker" {
		t.Errorf("a takes every default: %+v", a)
	}
	if b.Image.Name != "alpine" || b.BeforeScript != nil || b.Retry.Max != 2 || b.Tags != nil {
		t.Errorf("b takes only retry: image %v before %v retry %v tags %v", b.Image, b.BeforeScript, b.Retry, b.Tags)
	}
	if !reflect.DeepEqual(b.Inherit.Variables, []string{"G2"}) || c.Inherit.Variables == nil || len(c.Inherit.Variables) != 0 {
		t.Errorf("inherit:variables kept for the plan: b %v c %v", b.Inherit.Variables, c.Inherit.Variables)
	}
	if c.Image != nil || c.Retry.Max != 0 {
		t.Errorf("c inherits nothing: %+v", c)
	}
}

func TestIncludes(t *testing.T) {
	files := fstest.MapFS{
		"ci/build.yml":       {Data: []byte("variables: {FROM: build, OVER: build}\n.tpl: {script: [tpl]}\nbuild: {stage: build, script: [make]}\n")},
		"ci/test.yml":        {Data: []byte("include: ci/nested/deep.yml\ntest: {extends: .tpl}\n")},
		"ci/nested/deep.yml": {Data: []byte("deep: {script: [deep]}\n")},
		"ci/readme.md":       {Data: []byte("not yaml")},
	}
	p := mustLoad(t, `
include:
  - local: ci/*.yml
  - remote: https://example.com/ci.yml
  - project: group/tools
    file: [a.yml]
  - template: Auto-DevOps.gitlab-ci.yml
  - component: gitlab.com/org/comp@1.0
variables: {OVER: main}
main: {script: [x]}
`, files)
	var names []string
	for _, j := range p.Jobs {
		names = append(names, j.Name)
	}
	if got := strings.Join(names, ","); got != "build,deep,test,main" {
		t.Errorf("jobs from includes in order: %s", got)
	}
	if got := vars(p.Variables); got["FROM"] != "build" || got["OVER"] != "main" {
		t.Errorf("the including file wins: %v", got)
	}
	var kinds []string
	for _, inc := range p.Includes {
		kinds = append(kinds, inc.Kind+":"+inc.Target+":"+map[bool]string{true: "resolved", false: "unresolved"}[inc.Resolved])
	}
	want := "local:ci/build.yml:resolved,local:ci/test.yml:resolved,local:ci/nested/deep.yml:resolved,remote:https://example.com/ci.yml:unresolved,project:group/tools:unresolved,template:Auto-DevOps.gitlab-ci.yml:unresolved,component:gitlab.com/org/comp@1.0:unresolved"
	if got := strings.Join(kinds, ","); got != want {
		t.Errorf("includes:\n got %s\nwant %s", got, want)
	}
}

func TestRemoteIncludeFetched(t *testing.T) {
	fetch := func(_ context.Context, url string) ([]byte, error) {
		return []byte("remote_job: {script: [from " + url + "]}\n"), nil
	}
	p, err := Load(context.Background(), "ci.yml", []byte("include: https://x.test/a.yml\nmain: {script: [x]}\n"), Options{Fetch: fetch})
	if err != nil {
		t.Fatal(err)
	}
	if j := p.Job("remote_job"); j == nil || j.Script[0] != "from https://x.test/a.yml" {
		t.Fatalf("remote job not loaded: %+v", p.Jobs)
	}
}

func TestSpecInputs(t *testing.T) {
	src := `spec:
  inputs:
    stage: {default: test}
    env: {options: [staging, production]}
    replicas: {type: number, default: 2}
---
deploy-$[[ inputs.env ]]:
  stage: $[[ inputs.stage ]]
  script:
    - echo $[[ inputs.env | truncate(0,4) ]] $[[ inputs.replicas ]]
`
	p, err := Load(context.Background(), "ci.yml", []byte(src), Options{Inputs: map[string]any{"env": "production"}})
	if err != nil {
		t.Fatal(err)
	}
	j := p.Job("deploy-production")
	if j == nil || j.Stage != "test" || j.Script[0] != "echo prod 2" {
		t.Fatalf("interpolated job: %+v", p.Jobs)
	}
	if len(p.Inputs) != 3 || p.Inputs[1].Name != "env" {
		t.Errorf("inputs recorded: %+v", p.Inputs)
	}
	_, err = Load(context.Background(), "ci.yml", []byte(src), Options{Inputs: map[string]any{"env": "qa"}})
	if err == nil || !strings.Contains(err.Error(), `spec:inputs:env value qa is not one of the options [staging production]`) {
		t.Errorf("bad option value: %v", err)
	}
	_, err = Load(context.Background(), "ci.yml", []byte(src), Options{})
	if err == nil || !strings.Contains(err.Error(), "ci.yml:4:5: spec:inputs:env is required but no value was given") {
		t.Errorf("missing input: %v", err)
	}
}

func TestJobKeywordsDecoded(t *testing.T) {
	p := mustLoad(t, `
stages: [build, test, deploy]
build:
  stage: build
  script: make
  parallel:
    matrix:
      - OS: [linux, mac]
        ARCH: amd64
  retry: {max: 2, when: [script_failure], exit_codes: [137]}
  timeout: 1h 30m
  interruptible: true
  resource_group: prod
  allow_failure: {exit_codes: [3, 4]}
  cache:
    - key: {files: [go.sum], prefix: $CI_JOB_NAME}
      paths: [vendor/]
      policy: pull
      fallback_keys: [main]
    - key: static
      untracked: true
  artifacts:
    paths: [bin/]
    exclude: [bin/*.o]
    when: always
    expire_in: never
    reports:
      junit: report.xml
      dotenv: build.env
      coverage_report: {coverage_format: cobertura, path: cov.xml}
  coverage: '/total: \d+\.\d+%/'
deploy:
  stage: deploy
  script: ./deploy
  needs:
    - build
    - job: build
      artifacts: false
      parallel:
        matrix:
          - OS: linux
            ARCH: amd64
  when: delayed
  start_in: 30 minutes
  environment:
    name: production
    url: https://example.com
    deployment_tier: production
  release: {tag_name: v1, description: d}
  trigger: group/project
`, nil)
	b := p.Job("build")
	if b.Parallel == nil || len(b.Parallel.Matrix) != 1 || !reflect.DeepEqual(b.Parallel.MatrixKeys[0], []string{"OS", "ARCH"}) {
		t.Errorf("parallel: %+v", b.Parallel)
	}
	if b.Retry.Max != 2 || b.Retry.ExitCodes[0] != 137 || b.Timeout.Minutes() != 90 || !b.Interruptible || b.ResourceGroup != "prod" {
		t.Errorf("retry/timeout/interruptible/resource_group: %+v", b)
	}
	if !reflect.DeepEqual(b.AllowFailure.ExitCodes, []int{3, 4}) || b.AllowFailure.Allowed {
		t.Errorf("allow_failure exit codes: %+v", b.AllowFailure)
	}
	if len(b.Cache) != 2 || b.Cache[0].KeyFiles[0] != "go.sum" || b.Cache[0].Policy != "pull" || !b.Cache[1].Untracked || b.Cache[1].Policy != "pull-push" {
		t.Errorf("caches: %+v", b.Cache)
	}
	a := b.Artifacts
	if a.When != "always" || a.ExpireIn != "never" || a.Reports.JUnit[0] != "report.xml" || a.Reports.CoverageReport.Format != "cobertura" {
		t.Errorf("artifacts: %+v", a)
	}
	d := p.Job("deploy")
	if len(d.Needs) != 2 || d.Needs[1].Artifacts || d.Needs[1].Matrix[0]["OS"][0] != "linux" {
		t.Errorf("needs: %+v", d.Needs)
	}
	if d.When != pipeline.WhenDelayed || d.StartIn.Minutes() != 30 || d.Environment.DeploymentTier != "production" {
		t.Errorf("deploy: %+v", d)
	}
	if _, ok := d.Extra["release"]; !ok || !reflect.DeepEqual(d.Keywords, []string{"environment", "needs", "release", "script", "stage", "start_in", "trigger", "when"}) {
		t.Errorf("keywords kept for the plan: %v %v", d.Keywords, d.Extra)
	}
}

func TestGlobalVariablesForms(t *testing.T) {
	p := mustLoad(t, `
variables:
  PLAIN: x
  NUM: 10
  DEPLOY:
    value: staging
    description: where to deploy
    options: [staging, production]
  RAW:
    value: $NOT_EXPANDED
    expand: false
job: {script: [x]}
`, nil)
	b, _ := json.Marshal(p.Variables)
	want := `[{"name":"PLAIN","value":"x"},{"name":"NUM","value":"10"},{"name":"DEPLOY","value":"staging","description":"where to deploy","options":["staging","production"]},{"name":"RAW","value":"$NOT_EXPANDED","raw":true}]`
	if string(b) != want {
		t.Errorf("variables:\n got %s\nwant %s", b, want)
	}
}

func TestWorkflow(t *testing.T) {
	p := mustLoad(t, `
workflow:
  name: 'Pipeline for $CI_COMMIT_REF_NAME'
  auto_cancel: {on_new_commit: interruptible}
  rules:
    - if: $CI_COMMIT_TAG
      variables: {DEPLOY: "true"}
    - if: $CI_PIPELINE_SOURCE == "merge_request_event"
    - when: never
job: {script: [x]}
`, nil)
	w := p.Workflow
	if w.Name != "Pipeline for $CI_COMMIT_REF_NAME" || w.AutoCancel.OnNewCommit != "interruptible" || len(w.Rules) != 3 || w.Rules[2].When != pipeline.WhenNever || w.Rules[0].Variables[0].Name != "DEPLOY" {
		t.Errorf("workflow: %+v", w)
	}
}

func TestSeedPipelineLintsClean(t *testing.T) {
	p, errs := loadFile(t, "testdata/seed.gitlab-ci.yml")
	if len(errs) > 0 {
		t.Fatalf("seed pipeline errors:\n%v", errs)
	}
	if len(p.Jobs) != 10 || strings.Join(p.Stages, ",") != ".pre,check,build,test,package,deploy,.post" {
		t.Errorf("seed: %d jobs, stages %v", len(p.Jobs), p.Stages)
	}
}

func TestIncludeRules(t *testing.T) {
	files := fstest.MapFS{
		"tag.yml":    {Data: []byte("publish: {script: [x]}\n")},
		"branch.yml": {Data: []byte("preview: {script: [x]}\n")},
	}
	src := `include:
  - local: tag.yml
    rules:
      - if: $CI_COMMIT_TAG
  - local: branch.yml
    rules:
      - if: $CI_COMMIT_TAG
        when: never
      - exists: [branch.yml]
build: {script: [x]}
`
	for _, c := range []struct {
		vars map[string]string
		want string
	}{
		{map[string]string{"CI_COMMIT_BRANCH": "main"}, "preview,build"},
		{map[string]string{"CI_COMMIT_TAG": "v1"}, "publish,build"},
	} {
		lookup := func(name string) (string, bool) { v, ok := c.vars[name]; return v, ok }
		p, err := Load(context.Background(), "ci.yml", []byte(src), Options{FS: files, Variables: lookup})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, j := range p.Jobs {
			names = append(names, j.Name)
		}
		if got := strings.Join(names, ","); got != c.want {
			t.Errorf("vars %v: jobs %s, want %s", c.vars, got, c.want)
		}
	}
}
