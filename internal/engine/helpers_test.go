package engine

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/internal/pipeline"
	"github.com/gantry-ci/gantry/internal/plan"
	"github.com/gantry-ci/gantry/internal/variables"
)

// bashWorker runs a job's script with bash -c in dir, a directory all jobs
// of a test share (so they can leave files for each other). It reads the
// dotenv reports the job declares, and exports TEST_DEPS (the jobs whose
// artifacts the job receives) so scripts can show it.
type bashWorker struct{ dir string }

func (w bashWorker) RunJob(ctx context.Context, run *JobRun, log io.Writer) (Outcome, error) {
	script := strings.Join(run.Job.Def.Script, "\n")
	cmd := exec.CommandContext(ctx, "bash", "-e", "-c", script)
	cmd.Dir = w.dir
	cmd.Env = append(variables.Environ(run.Env),
		"PATH="+os.Getenv("PATH"),
		"TEST_DEPS="+strings.Join(run.Dependencies, ","))
	cmd.Stdout = log
	cmd.Stderr = log
	// Kill the whole process group, so a sleeping child does not keep the
	// output pipe open after bash is gone.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	var out Outcome
	var exitErr *exec.ExitError
	switch {
	case ctx.Err() != nil:
		return Outcome{ExitCode: -1}, nil
	case errors.As(err, &exitErr):
		out.ExitCode = exitErr.ExitCode()
	case err != nil:
		return Outcome{ExitCode: -1}, err
	}
	if a := run.Job.Def.Artifacts; a != nil {
		for _, name := range a.Reports.Dotenv {
			vars, err := readDotenv(filepath.Join(w.dir, name))
			if err != nil {
				return out, err
			}
			out.Dotenv = append(out.Dotenv, vars...)
		}
	}
	return out, nil
}

func readDotenv(path string) ([]pipeline.Variable, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var vars []pipeline.Variable
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			vars = append(vars, pipeline.Variable{Name: k, Value: v})
		}
	}
	return vars, sc.Err()
}

// noopWorker succeeds at once: what is left is the engine's own cost.
type noopWorker struct{}

func (noopWorker) RunJob(context.Context, *JobRun, io.Writer) (Outcome, error) {
	return Outcome{}, nil
}

// recorder keeps every event and fails the test if Emit is ever called
// concurrently.
type recorder struct {
	t        testing.TB
	inFlight atomic.Int32
	mu       sync.Mutex
	events   []Event
	onEmit   func(Event)
}

func (r *recorder) Emit(e Event) {
	if r.inFlight.Add(1) != 1 {
		r.t.Errorf("Emit called concurrently")
	}
	defer r.inFlight.Add(-1)
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
	if r.onEmit != nil {
		r.onEmit(e)
	}
}

// index returns the position of the first event of that type for job
// (and attempt, when attempt > 0), or -1.
func (r *recorder) index(typ, job string) int {
	for i, e := range r.events {
		if e.EventType() == typ && eventJob(e) == job {
			return i
		}
	}
	return -1
}

// final returns the JobFinished that settled the job.
func (r *recorder) final(job string) JobFinished {
	for _, e := range r.events {
		if f, ok := e.(JobFinished); ok && f.Job == job && !f.WillRetry {
			return f
		}
	}
	return JobFinished{}
}

// log joins the job's JobLog chunks.
func (r *recorder) log(job string) string {
	var b strings.Builder
	for _, e := range r.events {
		if l, ok := e.(JobLog); ok && l.Job == job {
			b.WriteString(l.Chunk)
		}
	}
	return b.String()
}

func eventJob(e Event) string {
	switch e := e.(type) {
	case JobQueued:
		return e.Job
	case JobScheduled:
		return e.Job
	case JobStarted:
		return e.Job
	case JobLog:
		return e.Job
	case JobFinished:
		return e.Job
	}
	return ""
}

// job builds a plan job the way plan.Make would: on_success, stage order,
// CI_JOB_NAME among its variables.
func job(name, stage string, script ...string) *plan.Job {
	return &plan.Job{
		Name: name, Base: name, Stage: stage, When: pipeline.WhenOnSuccess,
		Variables: []pipeline.Variable{{Name: "CI_JOB_NAME", Value: name}, {Name: "CI_JOB_STAGE", Value: stage}},
		Def:       &pipeline.Job{Name: name, Stage: stage, Script: script},
	}
}

// with applies changes to a job, for table tests.
func with(j *plan.Job, change func(*plan.Job)) *plan.Job {
	change(j)
	return j
}

// needs sets a job's needs (with artifacts).
func needs(j *plan.Job, names ...string) *plan.Job {
	j.Needs = []plan.Need{}
	for _, n := range names {
		j.Needs = append(j.Needs, plan.Need{Job: n, Artifacts: true})
	}
	return j
}

func newPlan(stages []string, jobs ...*plan.Job) *plan.Plan {
	return &plan.Plan{Created: true, Stages: stages, Jobs: jobs}
}

// run runs p with a bashWorker in a fresh directory.
func run(t *testing.T, p *plan.Plan, opts Options) (*Summary, *recorder) {
	t.Helper()
	return runIn(t, t.TempDir(), p, opts)
}

func runIn(t *testing.T, dir string, p *plan.Plan, opts Options) (*Summary, *recorder) {
	t.Helper()
	rec := &recorder{t: t}
	if opts.Sink == nil {
		opts.Sink = rec
	}
	if opts.Concurrency == 0 {
		opts.Concurrency = 4
	}
	sum, err := Run(context.Background(), p, bashWorker{dir: dir}, opts)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return sum, rec
}

// status asserts each job's final status.
func wantStatuses(t *testing.T, sum *Summary, want map[string]Status) {
	t.Helper()
	for name, st := range want {
		j := sum.Job(name)
		if j == nil {
			t.Errorf("job %s missing from summary", name)
			continue
		}
		if j.Status != st {
			t.Errorf("job %s: status %s (%s %s), want %s", name, j.Status, j.Failure, j.Reason, st)
		}
	}
}

// scaledClock is real time with waits divided by factor.
type scaledClock struct{ factor time.Duration }

func (scaledClock) Now() time.Time { return time.Now() }
func (c scaledClock) After(d time.Duration) <-chan time.Time {
	return time.After(d / c.factor)
}

// time2h is a start_in that only a scaled clock makes bearable.
const time2h = 2 * time.Hour
