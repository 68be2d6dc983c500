// Package executor defines how the engine hands one job to whatever runs it
// (the shell today; containers and Kubernetes pods later) and what it gets
// back. Implementations live in the sub-packages.
package executor

import (
	"context"
	"io"
	"os/exec"
	"time"
)

// Executor runs jobs.
//
// Concurrency: Run is called concurrently for different jobs and must not
// share mutable state between them. Run returns only when every process the
// job started has ended; nothing is left running. Cancelling ctx stops the
// job (the whole process group gets SIGTERM, then SIGKILL after Job.Grace),
// after which after_script still runs under its own timeout.
type Executor interface {
	Run(ctx context.Context, job *Job, log io.Writer) (Result, error)
}

// Job is one job instance ready to run: its workspace is prepared and its
// variables are expanded.
type Job struct {
	Name string
	// Dir is the job's working directory, $CI_PROJECT_DIR.
	Dir string
	// Env is the job's full environment as KEY=VALUE; nothing of the
	// caller's environment is added except what the executor needs to find
	// bash (PATH, HOME when absent).
	Env []string
	// BeforeScript and Script run in one bash that stops at the first
	// failing command; AfterScript runs in a separate bash afterwards,
	// whatever happened.
	BeforeScript []string
	Script       []string
	AfterScript  []string
	// Timeout bounds before_script+script (0: none); AfterScriptTimeout
	// bounds after_script (GitLab's default is 5 minutes).
	Timeout            time.Duration
	AfterScriptTimeout time.Duration
	// Grace is how long a cancelled job has between SIGTERM and SIGKILL.
	Grace time.Duration
	// Command builds a process that runs inside the job's workspace (its
	// private mount namespace); nil means exec.CommandContext.
	Command func(ctx context.Context, name string, args ...string) *exec.Cmd
	// Start starts a process built by Command, once its stdio, environment
	// and process group are set; nil means cmd.Start. A workspace may need
	// to prepare the thread the process is started from.
	Start func(cmd *exec.Cmd) error
}

// Result is how a job's script ended.
type Result struct {
	// ExitCode is the exit status of before_script+script; -1 when killed by
	// a signal or never started.
	ExitCode int
	Signal   string // the signal that ended it, if any
	TimedOut bool   // Job.Timeout ran out
	Canceled bool   // ctx was cancelled
	// AfterScriptExitCode is after_script's status (-1 when it did not run);
	// GitLab ignores it for the job's status, and so does the engine.
	AfterScriptExitCode int
	AfterScriptTimedOut bool
}
