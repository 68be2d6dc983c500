package engine

import (
	"slices"

	"github.com/gantry-ci/gantry/internal/pipeline"
)

// composite is the combined status of a job's prerequisites (its needs, or
// every job of the earlier stages), reduced as GitLab's Ci::Status::Composite
// does. Counts keep it O(1) to extend, so the stage prefix is built once.
type composite struct {
	total    int
	success  int
	warning  int // failed but allowed to fail
	failed   int
	canceled int
	skipped  int
	ignored  int // manual jobs that may be left unplayed
	manual   int // blocking manual jobs, or jobs blocked behind one
	blocker  string
}

// add counts a finished job.
func (c *composite) add(n *node) {
	c.total++
	switch n.result.Status {
	case StatusSuccess:
		c.success++
	case StatusFailed:
		if n.result.AllowedFailure {
			c.warning++
		} else {
			c.failed++
		}
	case StatusCanceled:
		c.canceled++
	case StatusManual:
		if n.blockedBy != "" {
			c.manual++
			c.setBlocker(n.blockedBy)
		} else {
			c.ignored++
		}
	default: // skipped
		if n.blockedBy != "" {
			c.manual++
			c.setBlocker(n.blockedBy)
		} else {
			c.skipped++
		}
	}
}

func (c *composite) setBlocker(name string) {
	if c.blocker == "" {
		c.blocker = name
	}
}

// Composite statuses.
const (
	compSuccess  = "success"
	compFailed   = "failed"
	compSkipped  = "skipped"
	compCanceled = "canceled"
	compManual   = "manual"
)

// status reduces the counts. For a job with needs (dag), one need that was
// skipped or is an unplayed manual job makes the whole set "skipped": GitLab
// skips jobs that need a job which did not run.
func (c *composite) status(dag bool) string {
	passive := c.skipped + c.ignored
	switch {
	case c.total == 0:
		return compSuccess
	case dag && passive > 0:
		return compSkipped
	case passive == c.total:
		return compSkipped
	case c.success+c.warning+passive == c.total:
		return compSuccess
	case c.canceled+c.success+c.warning+passive == c.total:
		return compCanceled
	case c.manual > 0:
		return compManual
	}
	return compFailed
}

// runs reports whether a job with this `when` runs after prerequisites of
// that composite status (GitLab's ProcessBuildService).
func runs(when pipeline.When, dag bool, status string) bool {
	switch when {
	case pipeline.WhenOnFailure:
		return status == compFailed
	case pipeline.WhenAlways:
		return status == compSuccess || status == compFailed || status == compSkipped
	case pipeline.WhenNever:
		return false
	}
	// on_success, manual, delayed
	if dag {
		return status == compSuccess
	}
	return status == compSuccess || status == compSkipped
}

// skipReason says in words why a job does not run.
func skipReason(when pipeline.When, dag bool, status string) string {
	switch {
	case when == pipeline.WhenNever:
		return "when: never"
	case when == pipeline.WhenOnFailure && dag:
		return "when: on_failure, and no needed job failed"
	case when == pipeline.WhenOnFailure:
		return "when: on_failure, and no job of an earlier stage failed"
	case dag && status == compSkipped:
		return "a needed job did not run"
	case dag:
		return "a needed job did not succeed"
	case status == compCanceled:
		return "a job of an earlier stage was canceled"
	}
	return "a job of an earlier stage failed"
}

// allowedFailure reports whether a failure with this exit code may fail
// without failing the pipeline: allow_failure: true, or the code is one of
// allow_failure:exit_codes.
func allowedFailure(af pipeline.AllowFailure, exitCode int) bool {
	if len(af.ExitCodes) > 0 {
		return slices.Contains(af.ExitCodes, exitCode)
	}
	return af.Allowed
}

// maxRetries is GitLab's limit on retry:max.
const maxRetries = 2

// shouldRetry applies retry: an attempt (1-based) that failed is retried
// while attempts remain and the failure matches retry:when (default
// always) or its exit code is one of retry:exit_codes; given only
// exit_codes, only those codes are retried.
func shouldRetry(r pipeline.Retry, attempt int, failure string, exitCode int) bool {
	if attempt > min(max(r.Max, 0), maxRetries) {
		return false
	}
	if len(r.When) == 0 && len(r.ExitCodes) == 0 {
		return true
	}
	if slices.Contains(r.When, "always") || slices.Contains(r.When, failure) {
		return true
	}
	return slices.Contains(r.ExitCodes, exitCode)
}
