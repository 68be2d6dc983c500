package e2e

import (
	"maps"
	"strings"
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
		// pipeline is the final pipeline status when the exit code does
		// not tell it.
		pipeline string
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
			name: "needs on an allowed failure",
			ci: `
stages: [a, b, c]
flaky: {stage: a, allow_failure: true, script: ["exit 1"]}
after: {stage: b, needs: [flaky], script: [echo after]}
rescue: {stage: b, needs: [flaky], when: on_failure, script: [echo rescue]}
early: {stage: c, needs: [], script: [echo early]}
`,
			code: 0,
			want: map[string]string{"flaky": "failed", "after": "success", "rescue": "skipped", "early": "success"},
		},
		{
			name: "blocking manual job",
			ci: `
stages: [a, b]
gate: {stage: a, when: manual, allow_failure: false, script: [echo gate]}
build: {stage: a, script: [echo build]}
behind: {stage: b, script: [echo behind]}
`,
			code:     0,
			want:     map[string]string{"gate": "manual", "build": "success", "behind": "skipped"},
			pipeline: "blocked",
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
			evs := events(t, res.stdout)
			got := statusOf(evs)
			if !maps.Equal(got, tc.want) {
				t.Errorf("job statuses = %v, want %v", got, tc.want)
			}
			first, last := evs[0], evs[len(evs)-1]
			wantStatus := map[int]string{0: "success", 1: "failed"}[tc.code]
			if tc.pipeline != "" {
				wantStatus = tc.pipeline
			}
			if first.Type != "pipeline_started" || last.Type != "pipeline_finished" || last.Status != wantStatus {
				t.Errorf("event stream runs from %s to %s %s, want pipeline_started to pipeline_finished %s", first.Type, last.Type, last.Status, wantStatus)
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

// TestScriptFailFast checks the shell semantics GitLab gives scripts: a
// failing command ends the job, inside a multi-line entry and on the left
// of a pipe too, while a handled failure does not; a failing before_script
// skips script but not after_script, whose own failure changes nothing.
func TestScriptFailFast(t *testing.T) {
	t.Parallel()
	r := newRepo(t, map[string]string{".gitlab-ci.yml": `
multi:
  script:
    - |
      echo one
      false
      echo multi-went-on
pipe:
  script: [false | true, echo pipe-went-on]
handled:
  script: ['if false; then echo no; fi', false || echo recovered, echo reached]
before:
  before_script: [echo in-before, exit 3]
  script: [echo script-ran]
  after_script: [echo after-ran, exit 5]
`})
	res := r.mustRun(1, "run", "--json")
	evs := events(t, res.stdout)
	want := map[string]string{"multi": "failed", "pipe": "failed", "handled": "success", "before": "failed"}
	if got := statusOf(evs); !maps.Equal(got, want) {
		t.Errorf("statuses = %v, want %v", got, want)
	}
	if fin := finals(evs)["before"]; fin.ExitCode != 3 {
		t.Errorf("before ended with exit code %d, want 3 (before_script's, not after_script's)", fin.ExitCode)
	}
	logs := map[string]string{}
	for job := range want {
		logs[job] = jobLogText(evs, job)
	}
	for _, c := range []struct {
		job, text string
		present   bool
	}{
		{"multi", "multi-went-on", false},
		{"multi", "# collapsed multi-line command", true},
		{"pipe", "pipe-went-on", false},
		{"handled", "\nrecovered\n", true},
		{"handled", "\nreached\n", true},
		{"before", "\nin-before\n", true},
		{"before", "\nscript-ran\n", false},
		{"before", "\nafter-ran\n", true},
	} {
		if got := strings.Contains(logs[c.job], c.text); got != c.present {
			t.Errorf("%s's log shows %q: %v, want %v\n%s", c.job, c.text, got, c.present, logs[c.job])
		}
	}
}
