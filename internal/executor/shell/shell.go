// Package shell runs jobs the way GitLab Runner's shell executor does: the
// job's before_script and script in one fail-fast bash, after_script in a
// second bash that runs whatever happened, each in its own process group so
// that a timeout or a cancel can take down everything the job started.
package shell

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/gantry-ci/gantry/internal/executor"
)

// Defaults applied by New to zero Options fields.
const (
	DefaultAfterScriptTimeout = 5 * time.Minute
	DefaultGrace              = 10 * time.Second
	DefaultDrainTimeout       = 2 * time.Second
	// DefaultPath is used when neither the job nor the caller has a PATH.
	DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
)

// Options configures an Executor; the zero value is usable.
type Options struct {
	// Bash is the bash binary. Empty means "bash" looked up in PATH when New
	// runs, or /bin/bash when that fails.
	Bash string
	// Color makes the echoed "$ command" lines bold green like GitLab's log;
	// off for consumers that do not render ANSI escapes.
	Color bool
	// Sections emits GitLab's collapsible-section markers around
	// before_script, script and after_script.
	Sections bool
	// AfterScriptTimeout applies when Job.AfterScriptTimeout is 0.
	AfterScriptTimeout time.Duration
	// Grace applies when Job.Grace is 0.
	Grace time.Duration
	// DrainTimeout bounds how long Run keeps waiting, once the job's process
	// group is dead, for processes that left the group (setsid) to release
	// the log pipe or die; after it Run stops reading so it cannot hang.
	DrainTimeout time.Duration
	// Path and Home fill PATH and HOME when the job's environment lacks
	// them; empty means the caller's values at New time.
	Path string
	Home string
}

// Executor runs jobs with local bash processes. It holds only its options,
// so one Executor serves any number of concurrent Runs.
type Executor struct {
	opts Options
}

var _ executor.Executor = (*Executor)(nil)

// New returns an Executor with opts' zero fields replaced by defaults.
func New(opts Options) *Executor {
	if opts.Bash == "" {
		opts.Bash = "/bin/bash"
		if p, err := exec.LookPath("bash"); err == nil {
			opts.Bash = p
		}
	}
	if opts.AfterScriptTimeout <= 0 {
		opts.AfterScriptTimeout = DefaultAfterScriptTimeout
	}
	if opts.Grace <= 0 {
		opts.Grace = DefaultGrace
	}
	if opts.DrainTimeout <= 0 {
		opts.DrainTimeout = DefaultDrainTimeout
	}
	if opts.Path == "" {
		opts.Path = os.Getenv("PATH")
		if opts.Path == "" {
			opts.Path = DefaultPath
		}
	}
	if opts.Home == "" {
		opts.Home = os.Getenv("HOME")
		if opts.Home == "" {
			opts.Home = "/"
		}
	}
	return &Executor{opts: opts}
}

// Run runs job's before_script and script, then its after_script, writing
// everything they print to log. The returned error is reserved for failures
// of the executor itself (bash could not start, log could not be written);
// a failing script is reported in the Result only.
func (e *Executor) Run(ctx context.Context, job *executor.Job, log io.Writer) (executor.Result, error) {
	res := executor.Result{ExitCode: -1, AfterScriptExitCode: -1}
	if job == nil {
		return res, errors.New("run job: no job given")
	}
	if log == nil {
		log = io.Discard
	}
	out := &logWriter{w: log}
	env := e.environment(job.Env)
	grace := job.Grace
	if grace <= 0 {
		grace = e.opts.Grace
	}

	if ctx.Err() != nil {
		// Never started; after_script still gets its chance below, as the
		// executor contract promises for cancelled jobs.
		res.Canceled = true
	} else {
		oc, err := e.runMain(ctx, job, env, grace, out)
		if err != nil {
			return res, fmt.Errorf("run job %q: %w", job.Name, err)
		}
		res.ExitCode, res.Signal = oc.exitCode, oc.signal
		res.TimedOut, res.Canceled = oc.timedOut, oc.canceled
	}

	if len(job.AfterScript) > 0 {
		timeout := job.AfterScriptTimeout
		if timeout <= 0 {
			timeout = e.opts.AfterScriptTimeout
		}
		e.sectionStart(out, sectionAfter, "Running after_script")
		// after_script must survive the cancel that may have ended the
		// script; only its own timeout bounds it.
		// GitLab tells after_script how the job went.
		afterEnv := append(env[:len(env):len(env)], "CI_JOB_STATUS="+jobStatus(res))
		oc, err := e.runStage(context.WithoutCancel(ctx), job, afterEnv, stage{
			name:    sectionAfter,
			script:  e.afterScript(job),
			timeout: timeout,
			grace:   grace,
		}, out)
		e.sectionEnd(out, sectionAfter)
		if err != nil {
			return res, fmt.Errorf("run after_script of job %q: %w", job.Name, err)
		}
		res.AfterScriptExitCode = oc.exitCode
		res.AfterScriptTimedOut = oc.timedOut
		e.afterScriptWarning(out, oc, timeout)
	}

	if out.err != nil {
		return res, fmt.Errorf("write log of job %q: %w", job.Name, out.err)
	}
	return res, nil
}

// runMain runs before_script and script in one bash, framed by sections.
func (e *Executor) runMain(ctx context.Context, job *executor.Job, env []string, grace time.Duration, out *logWriter) (outcome, error) {
	var watch *needleWatch
	open := sectionScript
	if len(job.BeforeScript) > 0 {
		open = sectionBefore
		if e.opts.Sections {
			// The switch from before_script to script happens inside bash;
			// spotting its marker in the output tells which section is
			// still open when bash ends.
			watch = newNeedleWatch(beforeEndNeedle)
		}
	}
	e.sectionStart(out, open, sectionHeader(open))
	oc, err := e.runStage(ctx, job, env, stage{
		name:    "script",
		script:  e.mainScript(job),
		timeout: job.Timeout,
		grace:   grace,
		watch:   watch,
	}, out)
	if watch != nil && watch.found {
		open = sectionScript
	}
	e.sectionEnd(out, open)
	return oc, err
}

// environment is exactly the job's variables plus what bash needs to run.
func (e *Executor) environment(jobEnv []string) []string {
	env := make([]string, 0, len(jobEnv)+3)
	env = append(env, jobEnv...)
	defaults := [...][2]string{{"PATH", e.opts.Path}, {"HOME", e.opts.Home}, {"SHELL", e.opts.Bash}}
	for _, d := range defaults {
		if !hasVar(jobEnv, d[0]) {
			env = append(env, d[0]+"="+d[1])
		}
	}
	return env
}

func hasVar(env []string, key string) bool {
	for _, kv := range env {
		if k, _, ok := strings.Cut(kv, "="); ok && k == key {
			return true
		}
	}
	return false
}

// afterScriptWarning tells the reader why a failed after_script did not
// fail the job, worded like GitLab Runner.
func (e *Executor) afterScriptWarning(out io.Writer, oc outcome, timeout time.Duration) {
	var why string
	switch {
	case oc.timedOut:
		why = fmt.Sprintf("after_script timed out after %s", timeout)
	case oc.signal != "":
		why = "after_script was killed by " + oc.signal
	case oc.exitCode != 0:
		why = fmt.Sprintf("after_script failed with exit code %d", oc.exitCode)
	default:
		return
	}
	msg := "WARNING: " + why + ", but job will continue unaffected"
	if e.opts.Color {
		msg = ansiYellow + msg + ansiReset
	}
	_, _ = io.WriteString(out, msg+"\n")
}

// logWriter keeps draining the job's output after the log consumer fails, so
// the job never blocks on a dead writer; Run reports the first error.
type logWriter struct {
	w   io.Writer
	err error
}

func (l *logWriter) Write(p []byte) (int, error) {
	if l.err != nil {
		return len(p), nil
	}
	n, err := l.w.Write(p)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	if err != nil {
		l.err = err
	}
	return len(p), nil
}

// jobStatus is CI_JOB_STATUS as GitLab sets it for after_script.
func jobStatus(res executor.Result) string {
	switch {
	case res.Canceled:
		return "canceled"
	case res.TimedOut:
		return "timedout"
	case res.ExitCode != 0:
		return "failed"
	}
	return "success"
}
