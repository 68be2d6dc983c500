package plan

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/gantry-ci/gantry/internal/pipeline/gitlab"
)

// bigPipeline writes a 2,000-job pipeline the way large projects do: hidden
// templates reached by extends from an included file, rules shared through
// an anchor, needs between stages and parallel:matrix jobs from another
// included file (600 build, test and deploy triples plus 50 matrix jobs of
// 4 instances each).
func bigPipeline() ([]byte, fstest.MapFS) {
	var b, templates, matrix strings.Builder
	b.WriteString(`include:
  - local: ci/*.yml
stages: [build, test, deploy]
variables:
  GLOBAL: "1"
  IMAGE: registry.example.com/app:$CI_COMMIT_SHORT_SHA
.rules: &rules
  rules:
    - if: $CI_PIPELINE_SOURCE == "merge_request_event"
      when: manual
    - if: $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH
      changes: ["src/**/*"]
    - when: on_success
`)
	templates.WriteString(`.base:
  image: alpine
  before_script: [echo setup]
  variables:
    BASE: "yes"
  retry: 1
.deploy:
  extends: .base
  stage: deploy
  environment:
    name: review/$CI_COMMIT_REF_SLUG
`)
	for i := range 600 {
		fmt.Fprintf(&b, `build-%[1]d:
  extends: .base
  stage: build
  <<: *rules
  script: [make part-%[1]d]
test-%[1]d:
  extends: .base
  stage: test
  needs: [build-%[1]d]
  variables:
    PART: "%[1]d"
  script: [make test-%[1]d]
  rules:
    - if: $PART == "%[1]d" && $GLOBAL == "1"
deploy-%[1]d:
  extends: .deploy
  needs: [test-%[1]d]
  only: [main, merge_requests]
  except:
    variables: [$SKIP_DEPLOY]
  script: [deploy %[1]d]
`, i)
	}
	for i := range 50 {
		fmt.Fprintf(&matrix, `.rules-%[1]d: &rules
  rules:
    - if: $CI_COMMIT_BRANCH
matrix-%[1]d:
  extends: .base
  stage: test
  <<: *rules
  parallel:
    matrix:
      - OS: [linux, windows]
        ARCH: [amd64, arm64]
  script: [make matrix-%[1]d]
`, i)
	}
	return []byte(b.String()), fstest.MapFS{
		"ci/templates.yml": {Data: []byte(templates.String())},
		"ci/matrix.yml":    {Data: []byte(matrix.String())},
	}
}

// BenchmarkMake measures what `gantry plan` pays for a big pipeline: the
// GitLab front end and the planner together, then the planner alone.
func BenchmarkMake(b *testing.B) {
	src, files := bigPipeline()
	ctx := context.Background()
	opts := gitlab.Options{FS: files}
	in := changed(pushMain, "src/app/main.go")
	check := func(b *testing.B, p *Plan, err error) {
		if err != nil {
			b.Fatal(err)
		}
		if len(p.Jobs) != 2000 {
			b.Fatalf("%d jobs, want 2000", len(p.Jobs))
		}
	}
	b.Run("load+make", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p, err := gitlab.Load(ctx, ".gitlab-ci.yml", src, opts)
			if err != nil {
				b.Fatal(err)
			}
			plan, err := Make(p, in)
			check(b, plan, err)
		}
	})
	b.Run("make", func(b *testing.B) {
		p, err := gitlab.Load(ctx, ".gitlab-ci.yml", src, opts)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			plan, err := Make(p, in)
			check(b, plan, err)
		}
	})
}
