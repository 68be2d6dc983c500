// Package worker runs one job on this machine, the way a GitLab runner's
// shell executor does: a private copy-on-write workspace, caches and
// artifacts restored before the scripts, artifacts, caches and reports saved
// after them. It is the engine.Worker of `gantry run` and of the server's
// built-in runner.
package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gantry-ci/gantry/internal/cache"
	"github.com/gantry-ci/gantry/internal/engine"
	"github.com/gantry-ci/gantry/internal/executor"
	"github.com/gantry-ci/gantry/internal/fileset"
	"github.com/gantry-ci/gantry/internal/pipeline"
	"github.com/gantry-ci/gantry/internal/report"
	"github.com/gantry-ci/gantry/internal/variables"
	"github.com/gantry-ci/gantry/internal/workspace"
)

// Artifacts keeps the artifacts of a run's jobs.
type Artifacts interface {
	// Save stores files (slash paths in fsys) as the artifacts of job.
	Save(ctx context.Context, job string, fsys fs.FS, files []string, a *pipeline.Artifacts, env func(string) (string, bool)) error
	// Restore writes job's artifacts under destDir and says whether it
	// had any; a job without artifacts is not an error.
	Restore(ctx context.Context, job, destDir string) (bool, error)
	// Tree returns job's artifacts unpacked into a read-only tree (made
	// once, shared by every job that receives them), or "" when it has none.
	Tree(ctx context.Context, job string) (string, error)
}

// CacheSync copies cache archives between Caches and a store shared by
// several machines. Errors are warnings in the job log: a job runs without
// a cache rather than fail for it, as in GitLab.
type CacheSync interface {
	// Fetch brings the shared archive of key into the local store when the
	// local one is missing or older; a key the shared store lacks is not an
	// error. It is called before key is restored.
	Fetch(ctx context.Context, key string) error
	// Push uploads the local archive of key, just saved, to the shared store.
	Push(ctx context.Context, key string) error
}

// Worker runs jobs of one run. Its fields are set once and then only read,
// so RunJob may be called concurrently.
type Worker struct {
	Snapshot  *workspace.Snapshot
	RunDir    string // .gantry/runs/<id>: job folders and logs live here
	Executor  executor.Executor
	Caches    *cache.Store // nil: caches are neither restored nor saved
	Artifacts Artifacts
	// KeepWorkspaces leaves job folders in place for inspection.
	KeepWorkspaces bool
	// CacheSync, when set, shares Caches with other machines (a remote
	// runner's server): it runs around the local store rather than in
	// place of it, so layers and unchanged-cache detection stay local.
	CacheSync CacheSync

	// removals tracks job folders being deleted in the background: a job's
	// result does not wait for its 20,000 files to go, the end of the run
	// does (Wait).
	removals sync.WaitGroup
}

var _ engine.Worker = (*Worker)(nil)

// RunJob prepares, runs and finishes one attempt of one job.
func (w *Worker) RunJob(ctx context.Context, run *engine.JobRun, log io.Writer) (engine.Outcome, error) {
	out := engine.Outcome{ExitCode: -1}
	def := run.Job.Def
	jobDir := filepath.Join(w.RunDir, "jobs", strconv.FormatInt(run.ID, 10))
	ws, err := w.Snapshot.NewWorkspace(ctx, jobDir)
	if err != nil {
		return out, fmt.Errorf("prepare workspace of %s: %w", run.Job.Name, err)
	}
	if !w.KeepWorkspaces {
		defer w.removals.Go(func() { _ = ws.Remove() })
	}
	env := w.environment(run, ws)
	lookup := variables.Lookup(env)

	// GitLab restores caches first; artifacts then win over cached files.
	caches := w.cacheKeys(ctx, def.Cache, lookup, log)
	w.restoreCaches(ctx, caches, ws, log)
	defer releaseCaches(caches)

	if err := w.restoreArtifacts(ctx, run.Dependencies, ws, log); err != nil {
		return out, err
	}

	files, err := writeFileVariables(filepath.Join(jobDir, "variables"), env)
	if err != nil {
		return out, err
	}
	var coverage *report.CoverageScanner
	jobLog := log
	if def.Coverage != "" {
		if coverage, err = report.NewCoverageScanner(def.Coverage); err == nil {
			jobLog = io.MultiWriter(log, coverage)
		}
	}
	job := &executor.Job{
		Name:         run.Job.Name,
		Dir:          ws.Dir(),
		Env:          files,
		BeforeScript: def.BeforeScript,
		Script:       def.Script,
		AfterScript:  def.AfterScript,
		Timeout:      run.Timeout,
		Command:      ws.Command,
		Start:        ws.Start,
	}
	res, err := w.Executor.Run(ctx, job, jobLog)
	if err != nil {
		return out, fmt.Errorf("run %s: %w", run.Job.Name, err)
	}
	out.ExitCode = res.ExitCode
	switch {
	case res.TimedOut || errors.Is(context.Cause(ctx), engine.ErrJobTimeout):
		out.Failure = engine.FailureTimeout
	case res.ExitCode != 0:
		out.Failure = engine.FailureScript
	}
	if coverage != nil {
		if v, ok := coverage.Result(); ok {
			out.Coverage = &v
		}
	}
	succeeded := out.Failure == ""
	// What follows must happen even when the pipeline is being cancelled.
	after := context.WithoutCancel(ctx)
	merged := ws.FS()
	if a := def.Artifacts; a != nil && whenApplies(a.When, succeeded) {
		w.saveArtifacts(after, run.Job.Name, merged, a, lookup, log)
	}
	if a := def.Artifacts; a != nil {
		// Any warning about these paths was given when saving artifacts.
		out.Tests = readJUnit(after, merged, projectPaths(a.Reports.JUnit, lookup, nil), log)
		// A dotenv report is an artifact: it reaches later jobs only when
		// artifacts:when let the job upload its artifacts.
		if whenApplies(a.When, succeeded) {
			out.Dotenv = readDotenv(merged, projectPaths(a.Reports.Dotenv, lookup, nil), log)
		}
	}
	w.saveCaches(after, caches, ws, succeeded, log)
	return out, nil
}

// restoreArtifacts hands the dependencies' artifacts to the job, later ones
// over earlier ones and all over the caches: with overlay workspaces each
// set is laid under the job's files as a tree unpacked once for every job
// that receives it; otherwise it is extracted into the workspace.
func (w *Worker) restoreArtifacts(ctx context.Context, deps []string, ws *workspace.Workspace, log io.Writer) error {
	layered := w.Snapshot.Mode() == workspace.ModeOverlay
	for _, dep := range deps {
		found := false
		if layered {
			tree, err := w.Artifacts.Tree(ctx, dep)
			if err != nil {
				return fmt.Errorf("restore artifacts of %s: %w", dep, err)
			}
			found = tree != "" && ws.AddLayer(tree)
		}
		if !found {
			var err error
			found, err = w.Artifacts.Restore(ctx, dep, ws.WriteDir())
			if err != nil {
				return fmt.Errorf("restore artifacts of %s: %w", dep, err)
			}
		}
		if found {
			fmt.Fprintf(log, "Downloaded artifacts of %s\n", dep)
		}
	}
	return nil
}

// Wait returns once every job folder removed in the background is gone.
func (w *Worker) Wait() { w.removals.Wait() }

// environment is the job's variables plus what only the runner knows.
func (w *Worker) environment(run *engine.JobRun, ws *workspace.Workspace) []pipeline.Variable {
	env := append([]pipeline.Variable(nil), run.Env...)
	set := func(name, value string) {
		for i := range env {
			if env[i].Name == name {
				env[i].Value = value
				return
			}
		}
		env = append(env, pipeline.Variable{Name: name, Value: value})
	}
	set("CI_PROJECT_DIR", ws.Dir())
	set("CI_BUILDS_DIR", filepath.Dir(ws.Dir()))
	set("CI_JOB_ID", strconv.FormatInt(run.ID, 10))
	set("CI_JOB_STARTED_AT", time.Now().UTC().Format(time.RFC3339))
	set("CI_RUNNER_EXECUTABLE_ARCH", "linux/amd64")
	set("CI_SERVER", "yes")
	set("GANTRY", "true")
	return env
}

// writeFileVariables turns the environment into KEY=VALUE strings, writing
// file-type variables to files (outside the workspace) whose paths become
// their values, as GitLab does.
func writeFileVariables(dir string, env []pipeline.Variable) ([]string, error) {
	out := make([]string, 0, len(env))
	for _, v := range env {
		value := v.Value
		if v.File {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, fmt.Errorf("create folder for file variables: %w", err)
			}
			path := filepath.Join(dir, v.Name)
			if err := os.WriteFile(path, []byte(v.Value), 0o600); err != nil {
				return nil, fmt.Errorf("write file variable %s: %w", v.Name, err)
			}
			value = path
		}
		out = append(out, v.Name+"="+value)
	}
	return out, nil
}

func whenApplies(when string, succeeded bool) bool {
	switch when {
	case "always":
		return true
	case "on_failure":
		return !succeeded
	default:
		return succeeded
	}
}

func (w *Worker) saveArtifacts(ctx context.Context, job string, fsys fs.FS, a *pipeline.Artifacts, lookup func(string) (string, bool), log io.Writer) {
	all := append(append([]string(nil), a.Paths...), a.Reports.Dotenv...)
	all = append(all, a.Reports.JUnit...)
	all = append(all, a.Reports.Metrics...)
	if a.Reports.CoverageReport != nil && a.Reports.CoverageReport.Path != "" {
		all = append(all, a.Reports.CoverageReport.Path)
	}
	paths := projectPaths(all, lookup, log)
	files, err := fileset.Resolve(fsys, fileset.Spec{Paths: paths, Exclude: projectPaths(a.Exclude, lookup, nil), Untracked: a.Untracked, Tracked: w.Snapshot.Tracked})
	if err != nil {
		fmt.Fprintf(log, "WARNING: artifacts: %v\n", err)
		return
	}
	if len(files) == 0 {
		fmt.Fprintf(log, "WARNING: no files to upload as artifacts\n")
		return
	}
	if err := w.Artifacts.Save(ctx, job, fsys, files, a, lookup); err != nil {
		fmt.Fprintf(log, "ERROR: saving artifacts: %v\n", err)
		return
	}
	fmt.Fprintf(log, "Uploaded %d artifact file(s)\n", len(files))
}

func readJUnit(ctx context.Context, fsys fs.FS, patterns []string, log io.Writer) *engine.TestCounts {
	if len(patterns) == 0 {
		return nil
	}
	files, err := fileset.Resolve(fsys, fileset.Spec{Paths: patterns})
	if err != nil || len(files) == 0 {
		fmt.Fprintf(log, "WARNING: junit report: no file matches %s\n", strings.Join(patterns, ", "))
		return nil
	}
	var summaries []*report.TestSummary
	for _, f := range files {
		r, err := fsys.Open(f)
		if err != nil {
			continue
		}
		s, err := report.ParseJUnit(r)
		r.Close()
		if err != nil {
			fmt.Fprintf(log, "WARNING: junit report %s: %v\n", f, err)
			continue
		}
		summaries = append(summaries, s)
	}
	if len(summaries) == 0 {
		return nil
	}
	s := report.MergeJUnit(summaries...)
	counts := &engine.TestCounts{Tests: s.Tests, Failed: s.Failures, Errored: s.Errors, Skipped: s.Skipped}
	for _, f := range s.Failed {
		counts.FailedNames = append(counts.FailedNames, strings.TrimPrefix(f.Class+"."+f.Name, "."))
	}
	return counts
}

func readDotenv(fsys fs.FS, paths []string, log io.Writer) []pipeline.Variable {
	var out []pipeline.Variable
	for _, p := range paths {
		r, err := fsys.Open(p)
		if err != nil {
			fmt.Fprintf(log, "WARNING: dotenv report %s: %v\n", p, err)
			continue
		}
		vars, err := report.ParseDotenv(r)
		r.Close()
		if err != nil {
			fmt.Fprintf(log, "WARNING: dotenv report %s: %v\n", p, err)
			continue
		}
		for _, v := range vars {
			out = append(out, pipeline.Variable{Name: v.Key, Value: v.Value})
		}
	}
	return out
}
