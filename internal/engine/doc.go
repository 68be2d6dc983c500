// Package engine runs a plan: it starts each job the moment GitLab would —
// a job with needs as soon as those jobs are done, any other job once every
// earlier stage is done — and decides from their outcomes which jobs run,
// are skipped, retried or blocked. The engine does not run scripts itself:
// a Worker runs one attempt of one job. What happens is reported as one
// ordered stream of events, and the result of the whole run as a Summary.
//
// The rules are GitLab's (Ci::PipelineProcessing and Ci::Status::Composite):
//
//   - A job's prerequisites are its needs when it has needs (an empty list:
//     none), else every job of the earlier stages. Their statuses combine
//     into one: an allowed failure counts as a success, an unplayed manual
//     job with allow_failure as skipped. For a job with needs, any need
//     that did not run (skipped, unplayed manual) makes the job skipped.
//   - when: on_success (and manual, delayed) runs after success — or, for a
//     stage-ordered job, after earlier stages that were all skipped;
//     on_failure runs after a failure; always after anything but a block.
//     A job that does not run ends skipped, with the reason.
//   - A manual job nobody played ends with status manual. Without
//     allow_failure it blocks: the stage-ordered jobs of later stages and
//     the jobs that need it (directly or through other blocked jobs) end
//     skipped with reason "blocked by manual job X" — where GitLab leaves
//     them created, waiting for a click — and the pipeline ends blocked.
//     Jobs that do not depend on it still run. A failure outweighs a block
//     (GitLab shows the pipeline blocked even then): the run must report
//     that something failed.
//   - allow_failure: true, or an exit code listed in allow_failure:
//     exit_codes, leaves the job failed but the pipeline passing.
//   - retry: up to max (at most 2) more attempts when the failure reason is
//     in retry:when (default always) or the exit code is in
//     retry:exit_codes; given only exit_codes, only those codes retry.
//     Each attempt is a new JobRun with its own ID and events.
//   - A job's timeout (default 1h, capped by Options.Timeout) covers the
//     whole attempt and fails it with job_execution_timeout.
//   - Jobs of one resource_group run one at a time.
//   - The dotenv report of a job reaches the jobs that receive its
//     artifacts, above their own variables and below pipeline variables.
package engine
