package e2e

import (
	"strings"
	"testing"
)

const junitXML = `<?xml version="1.0" encoding="UTF-8"?>
<testsuites>
  <testsuite name="calc" tests="4" failures="1" skipped="1">
    <testcase classname="calc" name="TestAdd" time="0.01"/>
    <testcase classname="calc" name="TestSub" time="0.01"/>
    <testcase classname="calc" name="TestDivide" time="0.02">
      <failure message="division by zero">calc_test.go:12: got +Inf</failure>
    </testcase>
    <testcase classname="calc" name="TestLater"><skipped/></testcase>
  </testsuite>
</testsuites>
`

// TestCoverageAndJUnit checks the summary after a run: the coverage figure
// parsed from the log with the job's coverage regex, the JUnit counts, and
// the failed test named under "failed tests".
func TestCoverageAndJUnit(t *testing.T) {
	t.Parallel()
	r := newRepo(t, map[string]string{
		"report.xml": junitXML,
		".gitlab-ci.yml": `
unit:
  coverage: '/^Total coverage: (\d+\.\d+)%/'
  script:
    - 'echo "Total coverage: 87.50%"'
    - mkdir -p out && cp report.xml out/junit.xml
  artifacts:
    reports:
      junit: out/junit.xml
plain:
  script: [echo no reports here]
failing:
  allow_failure: true
  script: [mkdir -p out, cp report.xml out/junit.xml, exit 1]
  artifacts:
    when: always
    reports:
      junit: out/junit.xml
`})
	res := r.mustRun(0, "run")
	row := strings.Join(summaryRow(res.stdout, "unit"), " ")
	for _, want := range []string{"success", "87.50%", "2 passed, 1 failed, 1 skipped"} {
		if !strings.Contains(row, want) {
			t.Errorf("summary row of unit = %q, want it to show %q\n%s", row, want, res.stdout)
		}
	}
	if row := summaryRow(res.stdout, "plain"); len(row) < 6 || row[4] != "-" || row[5] != "-" {
		t.Errorf("summary row of plain = %v, want - for coverage and tests", row)
	}
	if row := strings.Join(summaryRow(res.stdout, "failing"), " "); !strings.Contains(row, "2 passed, 1 failed, 1 skipped") {
		t.Errorf("summary row of a failed job with a JUnit report = %q, want its test counts", row)
	}
	_, failed, ok := strings.Cut(res.stdout, "failed tests:\n")
	if !ok || !strings.Contains(failed, "unit: calc.TestDivide") || !strings.Contains(failed, "failing: calc.TestDivide") || strings.Contains(failed, "TestAdd") {
		t.Errorf("failed tests section:\n%s", res.stdout)
	}

	js := r.mustRun(0, "run", "--json")
	fin := finals(events(t, js.stdout))["unit"]
	if fin.Coverage == nil || *fin.Coverage != 87.5 {
		t.Errorf("--json job_finished coverage = %v, want 87.5", fin.Coverage)
	}
}
