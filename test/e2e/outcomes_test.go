package e2e

import (
	"maps"
	"testing"
)

// TestOutcomes checks the exit code and every job's final status for the
// ways a pipeline can end.
func TestOutcomes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ci   string
		args []string
		code int
		want map[string]string
	}{
		{
			name: "all pass",
			ci: `
stages: [build, test]
build: {stage: build, script: [echo build]}
test: {stage: test, script: [echo test]}
`,
			code: 0,
			want: map[string]string{"build": "success", "test": "success"},
		},
		{
			name: "failure skips later stages",
			ci: `
stages: [build, test, deploy]
build: {stage: build, script: ["exit 4"]}
lint: {stage: build, script: [echo lint]}
test: {stage: test, script: [echo test]}
deploy: {stage: deploy, script: [echo deploy]}
`,
			code: 1,
			want: map[string]string{"build": "failed", "lint": "success", "test": "skipped", "deploy": "skipped"},
		},
		{
			name: "allow_failure true",
			ci: `
stages: [build, test]
flaky: {stage: build, script: ["exit 1"], allow_failure: true}
test: {stage: test, script: [echo test]}
`,
			code: 0,
			want: map[string]string{"flaky": "failed", "test": "success"},
		},
		{
			name: "allow_failure exit_codes matching",
			ci: `
stages: [build, test]
flaky: {stage: build, script: ["exit 3"], allow_failure: {exit_codes: [3]}}
test: {stage: test, script: [echo test]}
`,
			code: 0,
			want: map[string]string{"flaky": "failed", "test": "success"},
		},
		{
			name: "allow_failure exit_codes not matching",
			ci: `
stages: [build, test]
flaky: {stage: build, script: ["exit 4"], allow_failure: {exit_codes: [3]}}
test: {stage: test, script: [echo test]}
`,
			code: 1,
			want: map[string]string{"flaky": "failed", "test": "skipped"},
		},
		{
			name: "on_failure and always after a failure",
			ci: `
stages: [build, cleanup]
build: {stage: build, script: ["exit 1"]}
rescue: {stage: cleanup, when: on_failure, script: [echo rescue]}
tidy: {stage: cleanup, when: always, script: [echo tidy]}
next: {stage: cleanup, script: [echo next]}
`,
			code: 1,
			want: map[string]string{"build": "failed", "rescue": "success", "tidy": "success", "next": "skipped"},
		},
		{
			name: "on_failure and always after success",
			ci: `
stages: [build, cleanup]
build: {stage: build, script: [echo ok]}
rescue: {stage: cleanup, when: on_failure, script: [echo rescue]}
tidy: {stage: cleanup, when: always, script: [echo tidy]}
`,
			code: 0,
			want: map[string]string{"build": "success", "rescue": "skipped", "tidy": "success"},
		},
		{
			name: "manual jobs not played",
			ci:   manualCI,
			code: 0,
			want: map[string]string{"build": "success", "deploy": "manual", "docs": "manual"},
		},
		{
			name: "one manual job played",
			ci:   manualCI,
			args: []string{"--manual", "deploy"},
			code: 0,
			want: map[string]string{"build": "success", "deploy": "success", "docs": "manual"},
		},
		{
			name: "all manual jobs played",
			ci:   manualCI,
			args: []string{"--all-manual"},
			code: 0,
			want: map[string]string{"build": "success", "deploy": "success", "docs": "success"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRepo(t, map[string]string{".gitlab-ci.yml": tc.ci})
			res := r.mustRun(tc.code, append([]string{"run", "--json"}, tc.args...)...)
			got := statusOf(t, events(t, res.stdout))
			if !maps.Equal(got, tc.want) {
				t.Errorf("job statuses = %v, want %v", got, tc.want)
			}
		})
	}
}

const manualCI = `
stages: [build, deploy]
build: {stage: build, script: [echo build]}
deploy: {stage: deploy, when: manual, script: [echo deploying]}
docs: {stage: deploy, when: manual, script: [echo docs]}
`

// TestOutcomeSummaryText checks the plain output of a failed pipeline: the
// failing job's exit code and the summary table's statuses.
func TestOutcomeSummaryText(t *testing.T) {
	t.Parallel()
	r := newRepo(t, map[string]string{".gitlab-ci.yml": `
stages: [build, test]
build: {stage: build, script: ["exit 7"]}
flaky: {stage: build, script: ["exit 3"], allow_failure: {exit_codes: [3]}}
test: {stage: test, script: [echo test]}
`})
	res := r.mustRun(1, "run")
	for _, want := range []string{"exit code 7", "pipeline failed"} {
		if !contains(res.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, res.stdout)
		}
	}
	if !hasLinePrefix(linesOf(res.stdout, "flaky"), "failed (allowed to fail) in ") {
		t.Errorf("flaky is not shown as allowed to fail:\n%s", res.stdout)
	}
	row := summaryRow(res.stdout, "test")
	if len(row) < 3 || row[2] != "skipped" {
		t.Errorf("summary row of test = %v, want status skipped", row)
	}
	row = summaryRow(res.stdout, "flaky")
	if len(row) < 4 || row[2] != "failed" || row[3] != "(allowed)" {
		t.Errorf("summary row of flaky = %v, want failed (allowed)", row)
	}
}
