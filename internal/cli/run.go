package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/gantry-ci/gantry/internal/artifact"
	"github.com/gantry-ci/gantry/internal/cache"
	"github.com/gantry-ci/gantry/internal/engine"
	"github.com/gantry-ci/gantry/internal/executor/shell"
	"github.com/gantry-ci/gantry/internal/mask"
	"github.com/gantry-ci/gantry/internal/pipeline"
	"github.com/gantry-ci/gantry/internal/plan"
	"github.com/gantry-ci/gantry/internal/termview"
	"github.com/gantry-ci/gantry/internal/worker"
	"github.com/gantry-ci/gantry/internal/workspace"
)

type runFlags struct {
	planFlags
	concurrency  int
	manual       []string
	allManual    bool
	timeout      time.Duration
	secrets      []string
	secretFiles  []string
	varFiles     []string
	fromCommit   bool
	asJSON       bool
	list, dryRun bool
	keep         bool
}

func newRunCmd() *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run [JOB...]",
		Short: "Run the pipeline of .gitlab-ci.yml here, or only the named jobs and what they need",
		Long: `Run a pipeline locally with the shell executor. Each job gets its own copy-on-write
workspace holding the working tree (tracked and untracked-but-not-ignored files), caches
and artifacts are kept under .gantry/ and the user's cache folder.
Exit status: 0 passed (allowed failures count as passed), 1 failed, 130 interrupted.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPipeline(cmd.Context(), cmd, &f, args)
		},
	}
	f.register(cmd)
	fl := cmd.Flags()
	fl.IntVar(&f.concurrency, "concurrency", runtime.NumCPU(), "jobs to run at once")
	fl.StringArrayVar(&f.manual, "manual", nil, "play this manual job (repeatable)")
	fl.BoolVar(&f.allManual, "all-manual", false, "play every manual job")
	fl.DurationVar(&f.timeout, "timeout", 0, "cap every job's timeout (e.g. 10m)")
	fl.StringArrayVar(&f.secrets, "secret", nil, "a masked variable KEY=VALUE (repeatable)")
	fl.StringArrayVar(&f.secretFiles, "secret-file", nil, "a masked variable KEY=PATH whose value is read from PATH")
	fl.StringArrayVar(&f.varFiles, "var-file", nil, "a file-type variable KEY=PATH: the job sees KEY as the path of a file holding PATH's content")
	fl.BoolVar(&f.fromCommit, "from-commit", false, "run on a clean checkout of HEAD instead of the working tree")
	fl.BoolVar(&f.asJSON, "json", false, "print the event stream as JSON lines")
	fl.BoolVar(&f.list, "list", false, "print the plan and exit")
	fl.BoolVar(&f.dryRun, "dry-run", false, "same as --list")
	fl.BoolVar(&f.keep, "keep-workspaces", false, "leave each job's workspace under .gantry/runs for inspection (each job then gets a full copy)")
	return cmd
}

func runPipeline(ctx context.Context, cmd *cobra.Command, f *runFlags, jobs []string) error {
	file := defaultPipelineFile
	in, err := f.input(ctx, file)
	if err != nil {
		return &exitError{code: ExitUsage, err: err}
	}
	extra, secrets, err := f.runVariables()
	if err != nil {
		return &exitError{code: ExitUsage, err: err}
	}
	in.Variables = append(in.Variables, extra...)
	pl, err := makePlan(cmd, file, in, f.load)
	if err != nil {
		return err
	}
	if len(jobs) > 0 {
		if pl, err = selectJobs(pl, jobs); err != nil {
			return &exitError{code: ExitUsage, err: err}
		}
	}
	out := cmd.OutOrStdout()
	if f.list || f.dryRun {
		writeMaskedPlan(out, pl, in, secrets)
		return nil
	}
	if !pl.Created || len(pl.Jobs) == 0 {
		writeMaskedPlan(out, pl, in, secrets)
		return silentExit(ExitFailed)
	}

	root := in.Project.Dir
	runDir, err := newRunDir(root)
	if err != nil {
		return err
	}
	if f.keep {
		// An overlay workspace is only whole while it is mounted; a kept
		// one must be a real folder, so keeping forces copy mode.
		os.Setenv(workspace.ModeEnv, string(workspace.ModeCopy))
	}
	snap, err := workspace.TakeSnapshot(ctx, root, runDir, f.fromCommit)
	if err != nil {
		return fmt.Errorf("snapshot the repository: %w", err)
	}
	defer snap.Remove()
	cacheDir, err := cache.DefaultDir()
	if err != nil {
		return err
	}
	// GitLab's caches belong to a project; without a folder per project
	// every repository's "default" key would be one shared cache.
	caches, err := cache.NewStore(filepath.Join(cacheDir, projectCacheDir(root)))
	if err != nil {
		return err
	}
	// Artifacts whose expire_in has passed go before a new run starts, as
	// GitLab removes them in the background.
	if removed, err := artifact.Expire(ctx, filepath.Dir(runDir), time.Now()); err != nil {
		fmt.Fprintf(cmd.ErrOrStderr(), "gantry: removing expired artifacts: %v\n", err)
	} else if removed > 0 && !f.asJSON {
		fmt.Fprintf(out, "removed %d expired artifact set(s)\n", removed)
	}
	arts := openArtifacts(runDir)
	w := &worker.Worker{
		Snapshot:       snap,
		RunDir:         runDir,
		Executor:       shell.New(shell.Options{Sections: true}),
		Caches:         caches,
		Artifacts:      arts,
		KeepWorkspaces: f.keep,
	}
	var sink engine.Sink
	var live *termview.Live
	switch {
	case f.asJSON:
		sink = termview.NewJSON(out)
	case terminalWidth(out) > 0:
		live = termview.NewLive(out, terminalWidth(out), 3, 100*time.Millisecond)
		sink = live
	default:
		sink = termview.NewLines(out)
	}
	logs := newLogFiles(filepath.Join(runDir, "logs"))
	defer logs.Close()
	summary, err := engine.Run(ctx, pl, w, engine.Options{
		Concurrency:       f.concurrency,
		Manual:            f.manual,
		AllManual:         f.allManual,
		Timeout:           f.timeout,
		Sink:              engine.SinkFunc(func(e engine.Event) { logs.Emit(e); sink.Emit(e) }),
		Secrets:           secrets,
		PipelineVariables: in.Variables,
	})
	w.Wait()
	if live != nil {
		live.Close()
	}
	if err != nil {
		return &exitError{code: ExitFailed, err: err}
	}
	if !f.asJSON {
		termview.Summary(out, summary)
		fmt.Fprintf(out, "logs and artifacts: %s\n", runDir)
	}
	if code := summary.ExitCode(); code != 0 {
		return silentExit(code)
	}
	return nil
}

// writeMaskedPlan prints the plan with secrets masked: it explains rules
// with the values they compared, which may be a --secret.
func writeMaskedPlan(w io.Writer, pl *plan.Plan, in plan.Input, secrets []string) {
	var b strings.Builder
	writePlanText(&b, pl, in)
	_, _ = io.WriteString(w, mask.New(secrets).String(b.String()))
}

// runVariables reads --secret, --secret-file and --var-file.
func (f *runFlags) runVariables() (vars []pipeline.Variable, secrets []string, err error) {
	split := func(flag, kv string) (string, string, error) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return "", "", fmt.Errorf("--%s %q: want KEY=VALUE", flag, kv)
		}
		return k, v, nil
	}
	for _, kv := range f.secrets {
		k, v, err := split("secret", kv)
		if err != nil {
			return nil, nil, err
		}
		vars = append(vars, pipeline.Variable{Name: k, Value: v, Secret: true})
		secrets = append(secrets, v)
	}
	for _, kv := range f.secretFiles {
		k, path, err := split("secret-file", kv)
		if err != nil {
			return nil, nil, err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, nil, fmt.Errorf("--secret-file %s: %w", k, err)
		}
		v := strings.TrimRight(string(data), "\n")
		vars = append(vars, pipeline.Variable{Name: k, Value: v, Secret: true})
		secrets = append(secrets, v)
	}
	for _, kv := range f.varFiles {
		k, path, err := split("var-file", kv)
		if err != nil {
			return nil, nil, err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, nil, fmt.Errorf("--var-file %s: %w", k, err)
		}
		vars = append(vars, pipeline.Variable{Name: k, Value: string(data), File: true})
	}
	return vars, secrets, nil
}

// selectJobs keeps the named jobs (instance or base names) and every job
// they need, transitively. A kept job without needs still waits for the
// earlier stages among the kept jobs.
func selectJobs(pl *plan.Plan, names []string) (*plan.Plan, error) {
	byName := map[string]*plan.Job{}
	for _, j := range pl.Jobs {
		byName[j.Name] = j
	}
	keep := map[string]bool{}
	var add func(j *plan.Job)
	add = func(j *plan.Job) {
		if keep[j.Name] {
			return
		}
		keep[j.Name] = true
		for _, n := range j.Needs {
			if dep := byName[n.Job]; dep != nil {
				add(dep)
			}
		}
	}
	for _, name := range names {
		found := false
		for _, j := range pl.Jobs {
			if j.Name == name || j.Base == name {
				add(j)
				found = true
			}
		}
		if !found {
			var all []string
			for _, j := range pl.Jobs {
				all = append(all, j.Name)
			}
			sort.Strings(all)
			return nil, fmt.Errorf("no job %q in this pipeline (jobs: %s)", name, strings.Join(all, ", "))
		}
	}
	out := *pl
	out.Jobs = nil
	stages := map[string]bool{}
	for _, j := range pl.Jobs {
		if keep[j.Name] {
			out.Jobs = append(out.Jobs, j)
			stages[j.Stage] = true
		}
	}
	out.Stages = nil
	for _, s := range pl.Stages {
		if stages[s] {
			out.Stages = append(out.Stages, s)
		}
	}
	return &out, nil
}

// newRunDir makes .gantry/runs/<n> with the next free number.
func newRunDir(root string) (string, error) {
	runs := filepath.Join(root, ".gantry", "runs")
	if err := os.MkdirAll(runs, 0o755); err != nil {
		return "", fmt.Errorf("create %s: %w", runs, err)
	}
	// Keep run folders out of git and so out of later runs' snapshots.
	ignore := filepath.Join(root, ".gantry", ".gitignore")
	if _, err := os.Stat(ignore); errors.Is(err, os.ErrNotExist) {
		if err := os.WriteFile(ignore, []byte("*\n"), 0o644); err != nil {
			return "", fmt.Errorf("write %s: %w", ignore, err)
		}
	}
	entries, err := os.ReadDir(runs)
	if err != nil {
		return "", fmt.Errorf("list runs: %w", err)
	}
	next := 1
	for _, e := range entries {
		if n, err := strconv.Atoi(e.Name()); err == nil && n >= next {
			next = n + 1
		}
	}
	for ; ; next++ {
		dir := filepath.Join(runs, strconv.Itoa(next))
		if err := os.Mkdir(dir, 0o755); err == nil {
			return dir, nil
		} else if !errors.Is(err, os.ErrExist) {
			return "", fmt.Errorf("create run folder: %w", err)
		}
	}
}

// logFiles writes each job's log to logs/<job>.log as it arrives.
type logFiles struct {
	dir   string
	files map[string]io.WriteCloser
}

func newLogFiles(dir string) *logFiles {
	return &logFiles{dir: dir, files: map[string]io.WriteCloser{}}
}

func (l *logFiles) Emit(e engine.Event) {
	if ev, ok := e.(engine.JobLog); ok {
		f, ok := l.files[ev.Job]
		if !ok {
			_ = os.MkdirAll(l.dir, 0o755)
			name := jobFileName(ev.Job) + ".log"
			file, err := os.Create(filepath.Join(l.dir, name))
			if err != nil {
				return
			}
			f = file
			l.files[ev.Job] = f
		}
		_, _ = io.WriteString(f, ev.Chunk)
	}
}

func (l *logFiles) Close() {
	for _, f := range l.files {
		f.Close()
	}
}

// terminalWidth is the width of the terminal w writes to, or 0 when w is
// not a terminal (a pipe, a file, CI), where plain prefixed lines are shown.
func terminalWidth(w io.Writer) int {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return 0
	}
	width, _, err := term.GetSize(int(f.Fd()))
	if err != nil {
		return 80
	}
	return width
}

// projectCacheDir names a project's folder in the user's cache store: the
// folder's name for people reading it, and a digest of its absolute path
// so that two checkouts with the same name stay apart.
func projectCacheDir(root string) string {
	abs, err := filepath.Abs(root)
	if err != nil {
		abs = root
	}
	sum := sha256.Sum256([]byte(abs))
	return filepath.Base(abs) + "-" + hex.EncodeToString(sum[:6])
}
