package engine

import "time"

// Summary is the result of a run.
type Summary struct {
	Status   Status        `json:"status"`
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"duration_ns"`
	// Jobs holds every job of the plan, in plan order.
	Jobs []JobResult `json:"jobs"`
}

// JobResult is how one job ended: its last attempt, or why it did not run.
type JobResult struct {
	Name  string `json:"name"`
	Stage string `json:"stage"`
	// Status is success, failed, skipped, canceled or manual.
	Status Status `json:"status"`
	// Reason says why a job did not run (or was blocked).
	Reason         string `json:"reason,omitempty"`
	ExitCode       int    `json:"exit_code"`
	Failure        string `json:"failure_reason,omitempty"`
	AllowedFailure bool   `json:"allowed_failure,omitempty"`
	// Attempts counts the attempts that started (0: the job never ran).
	Attempts int   `json:"attempts"`
	ID       int64 `json:"id,omitempty"` // the last attempt's
	// Started and Duration are the last attempt's.
	Started  time.Time     `json:"started,omitzero"`
	Duration time.Duration `json:"duration_ns"`
	Coverage *float64      `json:"coverage,omitempty"`
	Tests    *TestCounts   `json:"tests,omitempty"`
}

// Job returns the result of the job with that instance name, or nil.
func (s *Summary) Job(name string) *JobResult {
	for i := range s.Jobs {
		if s.Jobs[i].Name == name {
			return &s.Jobs[i]
		}
	}
	return nil
}

// ExitCode is what a command running the pipeline exits with: 0 when it
// passed (allowed failures and a pipeline blocked on a manual job count as
// passed: nothing failed), 1 when it failed, 130 when it was cancelled,
// like a shell interrupted by Ctrl-C.
func (s *Summary) ExitCode() int {
	switch s.Status {
	case StatusFailed:
		return 1
	case StatusCanceled:
		return 130
	}
	return 0
}
