package gitlab

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/gantry-ci/gantry/internal/pipeline"
)

func load(t *testing.T, src string, files fstest.MapFS) (*pipeline.Pipeline, pipeline.Errors) {
	t.Helper()
	p, err := Load(context.Background(), "ci.yml", []byte(src), Options{FS: files})
	var errs pipeline.Errors
	if err != nil && !errors.As(err, &errs) {
		t.Fatalf("Load returned %T %v, want pipeline.Errors", err, err)
	}
	return p, errs
}

// TestValidationErrors checks that each mistake GitLab's lint refuses is
// reported with its position and keyword path.
func TestValidationErrors(t *testing.T) {
	cases := []struct {
		name string
		src  string
		want []string // each a full error line
	}{
		{"unknown keyword with suggestion", "build:\n  scrpt: [make]\n",
			[]string{`ci.yml:1:1: jobs:build config should implement the script: or a trigger: keyword`,
				`ci.yml:2:3: jobs:build unknown keyword "scrpt" (did you mean "script"?)`}},
		{"unknown keyword far from any", "build:\n  script: make\n  banana: 1\n",
			[]string{`ci.yml:3:3: jobs:build unknown keyword "banana"`}},
		{"script of wrong type", "build:\n  script: {a: 1}\n",
			[]string{`ci.yml:2:11: jobs:build:script should be a string or an array of strings, not a hash`}},
		{"job not a hash", "build: make\n",
			[]string{`ci.yml:1:1: jobs:build config should be a hash, not a string`}},
		{"needs unknown job", "a:\n  script: x\n  needs: [b]\n",
			[]string{`ci.yml:3:11: jobs:a:needs job "b" is not defined`}},
		{"needs later stage", "a:\n  stage: build\n  script: x\n  needs: [b]\nb:\n  stage: test\n  script: x\n",
			[]string{`ci.yml:4:11: jobs:a:needs job "b" is in stage "test", which comes after "build"`}},
		{"needs cycle", "a:\n  script: x\n  needs: [b]\nb:\n  script: x\n  needs: [a]\n",
			[]string{`ci.yml:6:11: jobs:b:needs needs form a cycle: a -> b -> a`}},
		{"undefined stage", "stages: [build]\na:\n  stage: tset\n  script: x\n",
			[]string{`ci.yml:2:1: jobs:a:stage chosen stage "tset" does not exist; available stages are .pre, build, .post`}},
		{"default stage missing", "stages: [build]\na:\n  script: x\n",
			[]string{`ci.yml:2:1: jobs:a:stage chosen stage "test" does not exist; available stages are .pre, build, .post`}},
		{"no script", "a:\n  stage: test\n",
			[]string{`ci.yml:1:1: jobs:a config should implement the script: or a trigger: keyword`}},
		{"start_in beside rules", "a:\n  script: x\n  start_in: 1 hour\n  rules:\n    - if: $X\n      when: delayed\n      start_in: 1 hour\n",
			[]string{`ci.yml:3:3: jobs:a:start_in may not be used with rules (set it inside a rule instead)`}},
		{"job when never", "a:\n  script: x\n  when: never\n",
			[]string{`ci.yml:3:9: jobs:a:when unknown value "never" (one of on_success, on_failure, always, manual, delayed)`}},
		{"only beside rules", "a:\n  script: x\n  only: [main]\n  rules:\n    - when: always\n",
			[]string{`ci.yml:3:3: jobs:a:only may not be used with rules (set it inside a rule instead)`}},
		{"invalid rule expression", "a:\n  script: x\n  rules:\n    - if: $X == \n",
			[]string{`ci.yml:4:16: jobs:a:rules:0:if invalid expression "$X ==": column 6: unexpected end of expression, expected a variable, string, null or /regex/`}},
		{"invalid rule regex", "a:\n  script: x\n  rules:\n    - if: $X =~ /a(/\n",
			[]string{"ci.yml:4:17: jobs:a:rules:0:if invalid expression \"$X =~ /a(/\": column 7: invalid regular expression /a(/: missing closing )"}},
		{"invalid only regex", "a:\n  script: x\n  only: ['/re(/']\n",
			[]string{"ci.yml:3:10: jobs:a:only invalid regular expression \"/re(/\": error parsing regexp: missing closing ): `re(`"}},
		{"parallel out of range", "a:\n  script: x\n  parallel: 201\n",
			[]string{`ci.yml:3:13: jobs:a:parallel should be between 1 and 200, not 201`}},
		{"parallel zero", "a:\n  script: x\n  parallel: 0\n",
			[]string{`ci.yml:3:13: jobs:a:parallel should be between 1 and 200, not 0`}},
		{"cache key with slash", "a:\n  script: x\n  cache:\n    key: a/b\n    paths: [x]\n",
			[]string{`ci.yml:4:10: jobs:a:cache:key cannot contain the "/" character`}},
		{"cache key dot", "a:\n  script: x\n  cache:\n    key: '..'\n    paths: [x]\n",
			[]string{`ci.yml:4:10: jobs:a:cache:key cannot be "." or ".."`}},
		{"bad expire_in", "a:\n  script: x\n  artifacts:\n    paths: [x]\n    expire_in: 3 fortnights\n",
			[]string{`ci.yml:5:16: jobs:a:artifacts:expire_in invalid duration "3 fortnights": unknown unit "fortnights"`}},
		{"bad start_in", "a:\n  script: x\n  when: delayed\n  start_in: soon\n",
			[]string{`ci.yml:4:13: jobs:a:start_in invalid duration "soon": unknown unit "soon"`}},
		{"delayed without start_in", "a:\n  script: x\n  when: delayed\n",
			[]string{`ci.yml:3:3: jobs:a:start_in should be set when when is delayed`}},
		{"bad timeout", "a:\n  script: x\n  timeout: 1 parsec\n",
			[]string{`ci.yml:3:12: jobs:a:timeout invalid duration "1 parsec": unknown unit "parsec"`}},
		{"extends missing", "a:\n  extends: .base\n  script: x\n",
			[]string{`ci.yml:2:12: jobs:a:extends unknown key ".base" in extends`}},
		{"extends loop", ".a:\n  extends: .b\n.b:\n  extends: .a\nc:\n  extends: .a\n  script: x\n",
			[]string{`ci.yml:2:12: jobs:.a:extends circular dependency detected in extends`}},
		{"invalid yaml", "a:\n  script: [x\n",
			[]string{`ci.yml:2:3: invalid YAML: did not find expected ',' or ']'`}},
		{"bad when", "a:\n  script: x\n  when: sometimes\n",
			[]string{`ci.yml:3:9: jobs:a:when unknown value "sometimes" (one of on_success, on_failure, always, manual, delayed)`}},
		{"allow_failure wrong type", "a:\n  script: x\n  allow_failure: maybe\n",
			[]string{`ci.yml:3:18: jobs:a:allow_failure should be a boolean, not a string`}},
		{"retry too many", "a:\n  script: x\n  retry: 3\n",
			[]string{`ci.yml:3:10: jobs:a:retry max should be 0, 1 or 2, not 3`}},
		{"retry bad when", "a:\n  script: x\n  retry:\n    max: 2\n    when: [script_failur]\n",
			[]string{`ci.yml:5:11: jobs:a:retry:when unknown failure type "script_failur" (did you mean "script_failure"?)`}},
		{"dependencies later stage", "a:\n  stage: build\n  script: x\n  dependencies: [b]\nb:\n  stage: test\n  script: x\n",
			[]string{`ci.yml:1:1: jobs:a:dependencies job "b" is not defined in a prior stage`}},
		{"coverage not a regex", "a:\n  script: x\n  coverage: 'Total: 1'\n",
			[]string{`ci.yml:3:13: jobs:a:coverage should be a regular expression between slashes, like /\d+\.\d+%/`}},
		{"missing local include", "include: missing.yml\na:\n  script: x\n",
			[]string{`ci.yml:1:10: include:local missing.yml: file does not exist or cannot be read`}},
		{"variable bad name", "variables:\n  'A-B': 1\na:\n  script: x\n",
			[]string{`ci.yml:2:3: variables:A-B invalid variable name: use letters, digits and _`}},
		{"reference missing", "a:\n  script: !reference [.x, script]\n",
			[]string{`ci.yml:2:11: !reference [.x, script] could not be found: no job or template named ".x"`}},
		{"environment tier", "a:\n  script: x\n  environment:\n    name: prod\n    deployment_tier: live\n",
			[]string{`ci.yml:5:22: jobs:a:environment:deployment_tier unknown value "live" (one of production, staging, testing, development, other)`}},
		{"errors sorted", "b:\n  scriptt: x\na:\n  script: x\n  needs: [zz]\n",
			[]string{`ci.yml:1:1: jobs:b config should implement the script: or a trigger: keyword`,
				`ci.yml:2:3: jobs:b unknown keyword "scriptt" (did you mean "script"?)`,
				`ci.yml:5:11: jobs:a:needs job "zz" is not defined`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, errs := load(t, c.src, fstest.MapFS{})
			var got []string
			for _, e := range errs {
				got = append(got, e.Error())
			}
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
		})
	}
}

func TestBillionLaughsIsRefused(t *testing.T) {
	src := "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	prev := "a"
	for _, name := range []string{"b", "c", "d", "e", "f", "g", "h"} {
		src += name + ": &" + name + " [" + strings.Repeat("*"+prev+", ", 9) + "*" + prev + "]\n"
		prev = name
	}
	src += "job: {script: [x], variables: {V: *h}}\n"
	_, errs := load(t, src, nil)
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "too big: anchors and aliases expand it") {
		t.Fatalf("want one size error, got %v", errs)
	}
}
