package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/gantry-ci/gantry/internal/gitrepo"
	"github.com/gantry-ci/gantry/internal/pipeline"
	"github.com/gantry-ci/gantry/internal/plan"
)

// planFlags are the flags `plan` and `run` share: what pipeline to create.
type planFlags struct {
	branch, tag, source string
	vars                []string
	changed             []string
	mrTarget            string
	load                loadOptions
}

func (f *planFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.branch, "branch", "", "plan for a push to this branch (default: the current branch)")
	fl.StringVar(&f.tag, "tag", "", "plan for this tag")
	fl.StringVar(&f.source, "source", plan.SourcePush, "pipeline source: push, merge_request_event, schedule, web, api, trigger, pipeline")
	fl.StringArrayVar(&f.vars, "var", nil, "a pipeline variable KEY=VALUE (repeatable); wins over the file's variables")
	fl.StringArrayVar(&f.changed, "changed", nil, "a changed path for rules:changes (repeatable); without it changes are taken from git")
	fl.StringVar(&f.mrTarget, "target-branch", "", "merge request target branch (merge_request_event; default: the default branch)")
	f.load.register(cmd)
}

var sources = []string{plan.SourcePush, plan.SourceMergeRequest, plan.SourceSchedule, plan.SourceWeb, plan.SourceAPI, plan.SourceTrigger, plan.SourcePipeline}

// input builds the plan input from the flags and the repository.
func (f *planFlags) input(ctx context.Context, file string) (plan.Input, error) {
	in := plan.Input{Source: f.source, Now: time.Now()}
	found := false
	for _, s := range sources {
		found = found || s == f.source
	}
	if !found {
		return in, fmt.Errorf("unknown --source %q (one of %s)", f.source, strings.Join(sources, ", "))
	}
	if f.branch != "" && f.tag != "" {
		return in, errors.New("--branch and --tag exclude each other")
	}
	for _, kv := range f.vars {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return in, fmt.Errorf("--var %q: want KEY=VALUE", kv)
		}
		in.Variables = append(in.Variables, pipeline.Variable{Name: k, Value: v})
	}
	root := repoRoot(ctx, file)
	in.Files = os.DirFS(root)
	in.Project = plan.Project{Name: filepath.Base(root), Path: "local/" + filepath.Base(root), Dir: root, DefaultBranch: "main"}
	info, gitErr := gitrepo.Inspect(ctx, root)
	if gitErr == nil {
		in.Commit = plan.Commit{SHA: info.SHA, BeforeSHA: info.BeforeSHA, Message: info.Message, Author: info.Author, Timestamp: info.Timestamp}
		in.Project.DefaultBranch = info.DefaultBranch
		in.Ref = info.Branch
		if info.Branch == "" && info.Tag != "" {
			in.Ref, in.IsTag = info.Tag, true
		}
	}
	switch {
	case f.tag != "":
		in.Ref, in.IsTag = f.tag, true
	case f.branch != "":
		in.Ref = f.branch
	}
	if in.Ref == "" {
		in.Ref = in.Project.DefaultBranch
	}
	if f.source == plan.SourceMergeRequest {
		if in.IsTag {
			return in, errors.New("a merge request pipeline runs for a branch, not a tag")
		}
		target := f.mrTarget
		if target == "" {
			target = in.Project.DefaultBranch
		}
		in.MergeRequest = &plan.MergeRequest{IID: 1, SourceBranch: in.Ref, TargetBranch: target, Title: firstLine(in.Commit.Message)}
	}
	if gitErr == nil {
		in.ChangedSince = func(ref string) ([]string, error) { return gitrepo.ChangedFiles(ctx, root, ref) }
	}
	// Only pushes and merge requests have changes; for every other source
	// GitLab counts rules:changes as true.
	hasChanges := f.source == plan.SourcePush || f.source == plan.SourceMergeRequest
	switch {
	case len(f.changed) > 0:
		in.Changed, in.ChangesKnown = f.changed, true
	case gitErr == nil && !in.IsTag && hasChanges:
		base := info.BeforeSHA
		if in.MergeRequest != nil {
			base = in.MergeRequest.TargetBranch
		}
		if changed, err := gitrepo.ChangedFiles(ctx, root, base); err == nil {
			in.Changed, in.ChangesKnown = changed, true
		}
	}
	return in, nil
}

// makePlan compiles file and plans it for in. A broken file prints its
// located errors and exits 1; a command-line mistake exits 2. A pipeline
// that creates no jobs is a plan, not an error: it says why.
func makePlan(cmd *cobra.Command, file string, in plan.Input, load loadOptions) (*plan.Plan, error) {
	p, err := loadPipeline(cmd.Context(), file, &in, load)
	if err != nil {
		var errs pipeline.Errors
		if errors.As(err, &errs) {
			for _, e := range errs {
				fmt.Fprintln(cmd.ErrOrStderr(), e.Error())
			}
			return nil, silentExit(ExitFailed)
		}
		return nil, &exitError{code: ExitUsage, err: err}
	}
	pl, err := plan.Make(p, in)
	if err != nil && !(errors.Is(err, plan.ErrNoJobs) && pl != nil) {
		return nil, &exitError{code: ExitFailed, err: err}
	}
	return pl, nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func newPlanCmd() *cobra.Command {
	var (
		flags  planFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "plan [FILE]",
		Short: "Show which jobs a pipeline would run for a ref and event, and why",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			file := defaultFile(args)
			in, err := flags.input(cmd.Context(), file)
			if err != nil {
				return &exitError{code: ExitUsage, err: err}
			}
			pl, err := makePlan(cmd, file, in, flags.load)
			if err != nil {
				return err
			}
			if asJSON {
				return writePlanJSON(cmd.OutOrStdout(), pl)
			}
			writePlanText(cmd.OutOrStdout(), pl, in)
			return nil
		},
	}
	flags.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the plan as JSON")
	return cmd
}

// jsonPlan is the stable JSON shape of `gantry plan --json`.
type jsonPlan struct {
	Created bool           `json:"created"`
	Reason  string         `json:"reason,omitempty"`
	Name    string         `json:"name,omitempty"`
	Stages  []string       `json:"stages"`
	Jobs    []jsonJob      `json:"jobs"`
	Skipped []plan.Skipped `json:"skipped"`
	Notices []string       `json:"notices,omitempty"`
}

type jsonJob struct {
	Name          string   `json:"name"`
	Base          string   `json:"base,omitempty"`
	Stage         string   `json:"stage"`
	When          string   `json:"when"`
	StartIn       string   `json:"start_in,omitempty"`
	AllowFailure  bool     `json:"allow_failure"`
	AllowExitCode []int    `json:"allow_failure_exit_codes,omitempty"`
	Needs         []string `json:"needs"`
	// StageOrder is true when the job has no needs: and waits for every
	// earlier stage, false when it starts as soon as Needs are done.
	StageOrder   bool          `json:"stage_order"`
	Dependencies []string      `json:"dependencies,omitempty"`
	Reason       string        `json:"reason"`
	NotExecuted  []plan.Notice `json:"not_executed,omitempty"`
}

func toJSONPlan(pl *plan.Plan) jsonPlan {
	out := jsonPlan{Created: pl.Created, Reason: pl.Reason, Name: pl.Name, Stages: pl.Stages,
		Jobs: []jsonJob{}, Skipped: pl.Skipped, Notices: pl.Notices}
	if out.Stages == nil {
		out.Stages = []string{}
	}
	if out.Skipped == nil {
		out.Skipped = []plan.Skipped{}
	}
	for _, j := range pl.Jobs {
		jj := jsonJob{Name: j.Name, Stage: j.Stage, When: string(j.When), AllowFailure: j.AllowFailure.Allowed,
			AllowExitCode: j.AllowFailure.ExitCodes, Needs: []string{}, Dependencies: j.Dependencies, Reason: j.Reason, NotExecuted: j.NotExecuted}
		if j.Base != j.Name {
			jj.Base = j.Base
		}
		if j.StartIn > 0 {
			jj.StartIn = j.StartIn.String()
		}
		for _, n := range j.Needs {
			jj.Needs = append(jj.Needs, n.Job)
		}
		jj.StageOrder = j.Needs == nil
		out.Jobs = append(out.Jobs, jj)
	}
	return out
}

func writePlanJSON(w io.Writer, pl *plan.Plan) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(toJSONPlan(pl))
}

func writePlanText(w io.Writer, pl *plan.Plan, in plan.Input) {
	what := "branch " + in.Ref
	if in.IsTag {
		what = "tag " + in.Ref
	}
	if !pl.Created {
		fmt.Fprintf(w, "No pipeline for %s (%s): %s\n", what, in.Source, pl.Reason)
		return
	}
	title := "Pipeline"
	if pl.Name != "" {
		title = fmt.Sprintf("Pipeline %q", pl.Name)
	}
	fmt.Fprintf(w, "%s for %s (%s): %d job(s)\n", title, what, in.Source, len(pl.Jobs))
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	for _, stage := range pl.Stages {
		fmt.Fprintf(tw, "\nstage %s\n", stage)
		for _, j := range pl.Jobs {
			if j.Stage != stage {
				continue
			}
			when := string(j.When)
			if j.StartIn > 0 {
				when += " " + j.StartIn.String()
			}
			if j.AllowFailure.Allowed {
				when += ", may fail"
			} else if len(j.AllowFailure.ExitCodes) > 0 {
				when += fmt.Sprintf(", may fail with %v", j.AllowFailure.ExitCodes)
			}
			needs := "stage order"
			if j.Needs != nil {
				names := make([]string, len(j.Needs))
				for i, n := range j.Needs {
					names[i] = n.Job
				}
				needs = "needs [" + strings.Join(names, ", ") + "]"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", j.Name, when, needs, j.Reason)
		}
	}
	tw.Flush()
	if len(pl.Skipped) > 0 {
		fmt.Fprintf(w, "\nleft out\n")
		tw = tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
		for _, s := range pl.Skipped {
			fmt.Fprintf(tw, "  %s\t%s\n", s.Name, s.Reason)
		}
		tw.Flush()
	}
	// One line per keyword that will not take effect, naming its jobs.
	var keywords []string
	users := map[string][]string{}
	reasons := map[string]string{}
	for _, j := range pl.Jobs {
		for _, n := range j.NotExecuted {
			if _, seen := users[n.Keyword]; !seen {
				keywords = append(keywords, n.Keyword)
			}
			users[n.Keyword] = append(users[n.Keyword], j.Name)
			reasons[n.Keyword] = n.Reason
		}
	}
	if len(keywords) > 0 || len(pl.Notices) > 0 {
		fmt.Fprintf(w, "\nwill not take effect\n")
		for _, n := range pl.Notices {
			fmt.Fprintf(w, "  %s\n", n)
		}
		for _, k := range keywords {
			fmt.Fprintf(w, "  %s (%s): %s\n", k, strings.Join(users[k], ", "), reasons[k])
		}
	}
}
