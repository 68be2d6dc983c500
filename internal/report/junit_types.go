package report

import (
	"math"
	"time"
)

// Limits on what a JUnit summary keeps. Reports from big suites can list
// hundreds of thousands of cases; the summary keeps counts for all of them
// but details only for as many failures as a person will read.
const (
	// MaxFailedTests is how many failed tests a summary lists; the rest are
	// only counted in FailedOmitted.
	MaxFailedTests = 1000
	// MaxOutputLines and MaxOutputBytes bound the output kept per failed
	// test: the first lines of a stack trace say where it broke.
	MaxOutputLines = 20
	MaxOutputBytes = 4096
	// maxCollectBytes bounds the text read from one <failure> or
	// <system-out> element before it is cut to MaxOutputLines.
	maxCollectBytes = 64 << 10
	// maxCaseSeconds caps one test case's time attribute so that a bogus
	// value cannot overflow the summed duration.
	maxCaseSeconds = 1e8
)

// Status is the outcome of one test case.
type Status string

// The outcomes GitLab distinguishes. A case with several result elements
// takes the strongest: failure, then error, then skipped.
const (
	StatusPassed  Status = "passed"
	StatusFailed  Status = "failed"
	StatusError   Status = "error"
	StatusSkipped Status = "skipped"
)

// TestSummary is what Gantry shows for a job's `artifacts:reports:junit`.
// Counts are derived from the <testcase> elements, as GitLab does, and never
// from the tests="" or failures="" attributes of <testsuite>, which tools
// fill in inconsistently; so Failures+Errors+Skipped never exceeds Tests.
type TestSummary struct {
	Tests    int           `json:"tests"`
	Failures int           `json:"failures"`
	Errors   int           `json:"errors"`
	Skipped  int           `json:"skipped"`
	Time     time.Duration `json:"time"`
	// Failed lists failed and errored cases in file order, at most
	// MaxFailedTests of them.
	Failed []FailedTest `json:"failed,omitempty"`
	// FailedOmitted counts failed and errored cases left out of Failed.
	FailedOmitted int `json:"failed_omitted,omitempty"`
}

// Passed returns the number of cases that neither failed, errored nor were
// skipped.
func (s *TestSummary) Passed() int {
	return s.Tests - s.Failures - s.Errors - s.Skipped
}

// FailedTest describes one failed or errored test case.
type FailedTest struct {
	// Suite is the name of the enclosing <testsuite> (or <testsuites>);
	// empty when it has none, in which case GitLab shows the job name.
	Suite string `json:"suite,omitempty"`
	Class string `json:"class,omitempty"`
	Name  string `json:"name"`
	File  string `json:"file,omitempty"`
	// Status is StatusFailed or StatusError.
	Status Status `json:"status"`
	// Message and Type are the attributes of <failure>/<error>.
	Message string `json:"message,omitempty"`
	Type    string `json:"type,omitempty"`
	// Output is the start of the element's text, usually a stack trace.
	Output string `json:"output,omitempty"`
	// SystemOut is the start of the case's <system-out>.
	SystemOut string `json:"system_out,omitempty"`
	// Attachment is the path in a [[ATTACHMENT|path]] tag of <system-out>,
	// which GitLab shows as a screenshot of the failure.
	Attachment string        `json:"attachment,omitempty"`
	Time       time.Duration `json:"time"`
}

// MergeJUnit adds up summaries of several report files of one job (GitLab
// accepts a list of globs for `reports:junit`; the caller resolves them and
// parses each file). Nil summaries are ignored. The inputs are not modified.
func MergeJUnit(sums ...*TestSummary) *TestSummary {
	out := &TestSummary{}
	for _, s := range sums {
		if s == nil {
			continue
		}
		out.Tests += s.Tests
		out.Failures += s.Failures
		out.Errors += s.Errors
		out.Skipped += s.Skipped
		out.Time = addDuration(out.Time, s.Time)
		out.FailedOmitted += s.FailedOmitted
		for _, f := range s.Failed {
			out.addFailed(f)
		}
	}
	return out
}

// addFailed records f, or only counts it once the list is full.
func (s *TestSummary) addFailed(f FailedTest) {
	if len(s.Failed) >= MaxFailedTests {
		s.FailedOmitted++
		return
	}
	s.Failed = append(s.Failed, f)
}

// addDuration adds two non-negative durations, saturating instead of
// wrapping around.
func addDuration(a, b time.Duration) time.Duration {
	if b > 0 && a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}
