package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gantry-ci/gantry/internal/cache"
	"github.com/gantry-ci/gantry/internal/engine"
	"github.com/gantry-ci/gantry/internal/mask"
	"github.com/gantry-ci/gantry/internal/runnerapi"
	"github.com/gantry-ci/gantry/internal/worker"
)

// Job statuses of runnerapi.Result.
const (
	StatusSuccess  = "success"
	StatusFailed   = "failed"
	StatusCanceled = "canceled"
)

// Why a job's context was cancelled (its cause), besides the runner
// stopping (context.Canceled) and ErrLeaseLost.
var (
	errCanceledByServer = errors.New("canceled on the server")
	errLeaseExpired     = errors.New("the lease could not be renewed for longer than it lasts")
)

// finishTimeout bounds sending the rest of the log and the result once
// the job has ended, even when the runner is stopping.
const finishTimeout = 2 * time.Minute

// runJob carries out one job and reports it to the server: it runs the job
// under a context that the lease (a cancel, a 409, a lease that could not
// be renewed), the job's timeout and the runner's own end cancel, streams
// its masked log, and sends the result. It returns the result sent.
func (r *runner) runJob(ctx context.Context, spec *runnerapi.JobSpec) runnerapi.Result {
	logger := r.cfg.Logger.With("job", spec.ID)
	jobCtx, cancelJob := context.WithCancelCause(ctx)
	defer cancelJob(nil)

	stream, err := newLogStream(filepath.Join(r.cfg.Dir, "logs"), r.c, spec.ID, logger, func() { cancelJob(ErrLeaseLost) })
	if err != nil {
		res := runnerapi.Result{Status: StatusFailed, ExitCode: -1, Failure: engine.FailureRunnerSystem, Error: err.Error()}
		r.finish(ctx, logger, spec.ID, res)
		return res
	}
	masker := mask.New(secretsOf(spec))
	log := masker.Writer(stream)

	leaseCtx, stopLease := context.WithCancel(context.WithoutCancel(ctx))
	leaseDone := make(chan struct{})
	go func() {
		defer close(leaseDone)
		r.keepLease(leaseCtx, logger, spec.ID, cancelJob)
	}()

	res, cleanup := r.execute(jobCtx, spec, masker, log)
	_ = log.Close()
	done, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	if err := stream.Close(done); err != nil && !errors.Is(err, ErrLeaseLost) {
		logger.Warn("sending the job log", "err", err)
	}
	cancel()
	r.finish(ctx, logger, spec.ID, res)
	// The lease lasts until the server has the result.
	stopLease()
	<-leaseDone
	cleanup()
	return res
}

func (r *runner) finish(ctx context.Context, logger *slog.Logger, id int64, res runnerapi.Result) {
	done, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	if err := r.c.Finish(done, id, res); err != nil {
		logger.Warn("reporting the job's result", "status", res.Status, "err", err)
		return
	}
	logger.Info("job finished", "status", res.Status, "exit_code", res.ExitCode, "failure", res.Failure)
}

// keepLease renews the job's lease until ctx ends, cancelling the job when
// the server asks, answers 409, or cannot be reached for longer than a
// lease lasts (someone else may be running the job by then).
func (r *runner) keepLease(ctx context.Context, logger *slog.Logger, id int64, cancelJob context.CancelCauseFunc) {
	every := r.cfg.LeaseEvery
	last := time.Now()
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		call, cancel := context.WithTimeout(ctx, max(every, 5*time.Second))
		lease, err := r.c.RenewLease(call, id)
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, ErrLeaseLost):
			cancelJob(ErrLeaseLost)
			return
		case err != nil:
			logger.Warn("renewing the job's lease", "err", err)
			if time.Since(last) > runnerapi.LeaseDuration {
				cancelJob(errLeaseExpired)
				return
			}
		default:
			last = time.Now()
			if lease.Cancel {
				// Keep renewing: after_script and the log still run.
				cancelJob(errCanceledByServer)
			}
		}
	}
}

// execute prepares the source and runs the job with the worker, writing
// GitLab-like header, sections and closing line around the job's output.
// cleanup waits for the job folder's removal and lets the pipeline folder
// go; it is called once the server has the result.
func (r *runner) execute(jobCtx context.Context, spec *runnerapi.JobSpec, masker *mask.Masker, log io.Writer) (runnerapi.Result, func()) {
	cleanup := func() {}
	fmt.Fprintf(log, "Running with gantry runner %s on %s\n", r.cfg.Name, r.host)
	if err := validateSpec(spec); err != nil {
		res := result(jobCtx, jobCtx, engine.Outcome{ExitCode: -1}, err)
		closingLine(log, res, 0)
		return res, cleanup
	}
	timeout := spec.Timeout
	if timeout <= 0 {
		timeout = engine.DefaultJobTimeout
	}
	ctx, cancel := context.WithTimeoutCause(jobCtx, timeout, engine.ErrJobTimeout)
	defer cancel()

	sectionStart(log, "get_sources", "Getting source from Git repository")
	p, err := r.src.acquire(ctx, spec, log)
	sectionEnd(log, "get_sources")
	if err != nil {
		res := result(ctx, jobCtx, engine.Outcome{ExitCode: -1}, err)
		closingLine(log, res, timeout)
		return res, cleanup
	}
	store, err := cache.NewStore(filepath.Join(r.cfg.Dir, "cache", strconv.FormatInt(spec.ProjectID, 10)))
	if err != nil {
		r.src.release(p)
		res := result(ctx, jobCtx, engine.Outcome{ExitCode: -1}, err)
		closingLine(log, res, timeout)
		return res, cleanup
	}
	arts := &remoteArtifacts{c: r.c, spec: spec, p: p, log: log}
	w := &worker.Worker{
		Snapshot:  p.snap,
		RunDir:    p.dir,
		Executor:  r.exec,
		Caches:    store,
		CacheSync: &cacheSync{c: r.c, jobID: spec.ID, store: store, log: log},
		Artifacts: arts,
	}
	cleanup = func() {
		w.Wait()
		r.src.release(p)
	}
	run := &engine.JobRun{ID: spec.ID, Job: spec.Job, Attempt: spec.Attempt, Env: spec.Env, Timeout: timeout, Masker: masker}
	for _, d := range spec.Dependencies {
		run.Dependencies = append(run.Dependencies, d.Name)
	}
	out, err := w.RunJob(ctx, run, log)
	res := result(ctx, jobCtx, out, err)
	res.ArtifactsSize, res.ArtifactsExpireAt = arts.uploaded()
	closingLine(log, res, timeout)
	return res, cleanup
}

// result turns how the worker ended into what the server is told. ctx is
// the job's context with its timeout, jobCtx the one without.
func result(ctx, jobCtx context.Context, out engine.Outcome, err error) runnerapi.Result {
	res := runnerapi.Result{ExitCode: out.ExitCode, Dotenv: out.Dotenv, Coverage: out.Coverage, Tests: out.Tests}
	switch {
	case err == nil && out.Failure == "" && out.ExitCode == 0:
		res.Status = StatusSuccess
	case errors.Is(context.Cause(ctx), engine.ErrJobTimeout):
		res.Status, res.Failure = StatusFailed, engine.FailureTimeout
	case jobCtx.Err() != nil:
		res.Status = StatusCanceled
		if cause := context.Cause(jobCtx); errors.Is(cause, ErrLeaseLost) || errors.Is(cause, errLeaseExpired) {
			res.Error = cause.Error()
		}
	case err != nil:
		res.Status, res.Failure, res.Error = StatusFailed, engine.FailureRunnerSystem, err.Error()
	default:
		res.Status, res.Failure = StatusFailed, out.Failure
		if res.Failure == "" {
			res.Failure = engine.FailureScript
		}
	}
	return res
}

// closingLine ends the log as GitLab's runner does.
func closingLine(log io.Writer, res runnerapi.Result, timeout time.Duration) {
	switch {
	case res.Status == StatusSuccess:
		fmt.Fprintf(log, "\nJob succeeded\n")
	case res.Status == StatusCanceled:
		fmt.Fprintf(log, "\nERROR: Job failed: canceled\n")
	case res.Failure == engine.FailureTimeout:
		fmt.Fprintf(log, "\nERROR: Job failed: execution took longer than %v\n", timeout)
	case res.Failure == engine.FailureRunnerSystem:
		fmt.Fprintf(log, "\nERROR: Job failed (system failure): %s\n", res.Error)
	default:
		fmt.Fprintf(log, "\nERROR: Job failed: exit code %d\n", res.ExitCode)
	}
}

// secretsOf lists what the job's log must never show: the server's
// secrets, the job token, and every variable marked secret.
func secretsOf(spec *runnerapi.JobSpec) []string {
	out := append([]string{spec.Token}, spec.Secrets...)
	for _, v := range spec.Env {
		if v.Secret && v.Value != "" {
			out = append(out, v.Value)
		}
	}
	return out
}

// validateSpec rejects a job this runner cannot carry out safely; the SHA
// ends up in git's command line, so it must be a commit name and nothing
// else.
func validateSpec(spec *runnerapi.JobSpec) error {
	switch {
	case spec.Job == nil || spec.Job.Def == nil:
		return errors.New("the job has no definition")
	case len(spec.SHA) != 40 && len(spec.SHA) != 64 || strings.Trim(strings.ToLower(spec.SHA), "0123456789abcdef") != "":
		return fmt.Errorf("the job's commit %q is not a full commit hash", spec.SHA)
	case spec.RepoURL == "" || strings.HasPrefix(spec.RepoURL, "-"):
		return fmt.Errorf("the job's repository URL %q is not usable", spec.RepoURL)
	case spec.PipelineID < 0 || spec.ProjectID < 0:
		return fmt.Errorf("bad pipeline %d or project %d", spec.PipelineID, spec.ProjectID)
	}
	return nil
}

// ansiClearLine precedes GitLab's section markers.
const ansiClearLine = "\x1b[0K"

// sectionStart opens one of GitLab's collapsible log sections.
func sectionStart(w io.Writer, name, header string) {
	fmt.Fprintf(w, "%ssection_start:%d:%s\r%s%s\n", ansiClearLine, time.Now().Unix(), name, ansiClearLine, header)
}

// sectionEnd closes it.
func sectionEnd(w io.Writer, name string) {
	fmt.Fprintf(w, "%ssection_end:%d:%s\r%s\n", ansiClearLine, time.Now().Unix(), name, ansiClearLine)
}
