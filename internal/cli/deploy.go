package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/gantry-ci/gantry/internal/deploy"
)

// deployTarget is what `gantry deploy` and `gantry rollout` address: a
// server, a project and an environment, found from flags or, inside a
// pipeline job, from the job's variables.
type deployTarget struct {
	sf      serverFlags
	project string
	env     string
	asJSON  bool
}

func (d *deployTarget) register(cmd *cobra.Command) {
	d.sf.register(cmd)
	f := cmd.PersistentFlags()
	f.StringVar(&d.env, "env", "", "environment (default $CI_ENVIRONMENT_NAME, the job's environment:)")
	f.StringVar(&d.project, "project", "", "server project (default $CI_PROJECT_NAME, else the app's name)")
	f.BoolVar(&d.asJSON, "json", false, "print JSON")
}

// client reaches the server: flags, then GANTRY_SERVER/GANTRY_TOKEN, then
// inside a job CI_SERVER_URL and CI_JOB_TOKEN.
func (d *deployTarget) client() (*apiClient, error) {
	if d.sf.token == "" && os.Getenv("GANTRY_TOKEN") == "" && os.Getenv("CI_JOB_TOKEN") != "" {
		base := firstNonEmpty(d.sf.server, os.Getenv("GANTRY_SERVER"), os.Getenv("CI_SERVER_URL"))
		if base != "" {
			return &apiClient{base: strings.TrimSuffix(base, "/"), token: os.Getenv("CI_JOB_TOKEN"), http: &http.Client{Timeout: 60 * time.Second}}, nil
		}
	}
	return d.sf.client()
}

// resolve fills the project and environment defaults for app.
func (d *deployTarget) resolve(app string) (project, env string, err error) {
	project = firstNonEmpty(d.project, os.Getenv("CI_PROJECT_NAME"), app)
	env = firstNonEmpty(d.env, os.Getenv("CI_ENVIRONMENT_NAME"))
	if env == "" {
		return "", "", &exitError{code: ExitUsage, err: errors.New("no environment: give --env (inside a job, environment: sets it)")}
	}
	return project, env, nil
}

func rolloutPath(project, app, env string) string {
	return deploy.APIPrefix + url.PathEscape(project) + "/" + url.PathEscape(app) + "/" + url.PathEscape(env)
}

func newDeployCmd() *cobra.Command {
	var (
		d                  deployTarget
		file, version, art string
		sets               []string
		wait               bool
		timeout            time.Duration
	)
	cmd := &cobra.Command{
		Use:   "deploy [-f gantry.deploy.yaml] --env ENV --version LABEL [--artifact PATH] [--set KEY=VALUE]... [--wait]",
		Short: "Roll a new revision out to an environment of the server (rolling, blue-green or canary, as the spec says)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			yaml, err := os.ReadFile(file)
			if err != nil {
				return &exitError{code: ExitUsage, err: fmt.Errorf("read the deploy spec: %w", err)}
			}
			env := firstNonEmpty(d.env, os.Getenv("CI_ENVIRONMENT_NAME"))
			sp, _, err := deploy.ParseSpec(file, yaml, env)
			if err != nil {
				return &exitError{code: ExitFailed, err: err}
			}
			project, env, err := d.resolve(sp.App)
			if err != nil {
				return err
			}
			version = firstNonEmpty(version, os.Getenv("CI_COMMIT_TAG"), os.Getenv("CI_COMMIT_SHORT_SHA"))
			if version == "" {
				return &exitError{code: ExitUsage, err: errors.New("no version: give --version LABEL")}
			}
			for _, kv := range sets {
				if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
					return &exitError{code: ExitUsage, err: fmt.Errorf("--set %q: want KEY=VALUE", kv)}
				}
			}
			c, err := d.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			form := map[string][]string{"version": {version}, "set": sets, "spec_file": {filepath.Base(file)}, "sha": {os.Getenv("CI_COMMIT_SHA")}}
			var res deploy.DeployResponse
			if err := upload(ctx, c, rolloutPath(project, sp.App, env), form, yaml, art, &res); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if d.asJSON && !wait {
				return printJSON(out, res)
			}
			st := res.Status
			if !d.asJSON {
				fmt.Fprintf(out, "Revision %d (%s) of %s is rolling out to %s (%s): %s\n", res.Revision.Revision, version, sp.App, env, st.Strategy, st.URL)
			}
			if !wait {
				return nil
			}
			if timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, timeout)
				defer cancel()
			}
			return follow(ctx, c, project, sp.App, env, res.Revision.Revision, out, d.asJSON)
		},
	}
	d.register(cmd)
	f := cmd.Flags()
	f.StringVarP(&file, "file", "f", "gantry.deploy.yaml", "deploy spec")
	f.StringVar(&version, "version", "", "label of this revision, GANTRY_VERSION of its replicas (default $CI_COMMIT_TAG, else $CI_COMMIT_SHORT_SHA)")
	f.StringVar(&art, "artifact", "", "wasm module, executable or tarball to run (default: the spec's command as it is)")
	f.StringArrayVar(&sets, "set", nil, "KEY=VALUE environment variable of this revision's replicas (repeatable)")
	f.BoolVar(&wait, "wait", false, "follow the rollout: exit 0 once Healthy, 1 if it ends Aborted or Degraded")
	f.DurationVar(&timeout, "timeout", 0, "with --wait, give up after this long (exit 1)")
	return cmd
}

// upload posts a deploy as multipart/form-data, streaming the artifact.
func upload(ctx context.Context, c *apiClient, path string, fields map[string][]string, spec []byte, artifact string, out any) error {
	var art *os.File
	if artifact != "" {
		f, err := os.Open(artifact)
		if err != nil {
			return &exitError{code: ExitUsage, err: fmt.Errorf("open the artifact: %w", err)}
		}
		defer f.Close()
		art = f
	}
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		pw.CloseWithError(func() error {
			for k, vs := range fields {
				for _, v := range vs {
					if err := mw.WriteField(k, v); err != nil {
						return err
					}
				}
			}
			w, err := mw.CreateFormFile("spec", fields["spec_file"][0])
			if err != nil {
				return err
			}
			if _, err := w.Write(spec); err != nil {
				return err
			}
			if art != nil {
				if w, err = mw.CreateFormFile("artifact", filepath.Base(art.Name())); err != nil {
					return err
				}
				if _, err := io.Copy(w, art); err != nil {
					return err
				}
			}
			return mw.Close()
		}())
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, pr)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := (&http.Client{}).Do(req) // no timeout: artifacts can be large
	if err != nil {
		return &exitError{code: ExitFailed, err: fmt.Errorf("reach the server: %w", err)}
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		var e struct {
			Error string `json:"error"`
		}
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if json.Unmarshal(data, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(data))
		}
		return &exitError{code: ExitFailed, err: fmt.Errorf("deploy: %s: %s", resp.Status, e.Error)}
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// follow prints the rollout as it changes until revision rev is Healthy
// (nil), or the rollout ends Aborted or Degraded, or rev is replaced
// (exit 1). rev 0 follows whatever is rolled out.
func follow(ctx context.Context, c *apiClient, project, app, env string, rev int64, out io.Writer, asJSON bool) error {
	var last *deploy.Status
	var seq int64
	for {
		err := watchStream(ctx, c, rolloutPath(project, app, env)+"/watch", func(st *deploy.Status) (bool, error) {
			last = st
			if asJSON {
				_ = json.NewEncoder(out).Encode(st)
			} else {
				for _, e := range st.Events {
					if e.Seq > seq {
						fmt.Fprintf(out, "%s  %-24s %s\n", e.Time.Local().Format("15:04:05"), e.Reason, e.Message)
						seq = e.Seq
					}
				}
			}
			if rev == 0 && st.Canary != nil {
				rev = st.Canary.Revision
			}
			switch {
			case st.Phase == "Healthy" && st.Canary == nil && (rev == 0 || st.Stable.Revision == rev):
				return true, nil
			case st.Phase == "Aborted" || st.Phase == "Degraded":
				return true, &exitError{code: ExitFailed, err: fmt.Errorf("rollout of %s in %s is %s: %s", app, env, st.Phase, firstNonEmpty(st.AbortReason, st.Message))}
			case rev != 0 && (st.Stable == nil || st.Stable.Revision != rev) && (st.Canary == nil || st.Canary.Revision != rev):
				return true, &exitError{code: ExitFailed, err: fmt.Errorf("revision %d of %s in %s was replaced before it became Healthy", rev, app, env)}
			}
			return false, nil
		})
		if err == nil {
			if !asJSON && last != nil {
				fmt.Fprintf(out, "%s in %s is Healthy: revision %d (%s) at %s\n", app, env, last.Stable.Revision, last.Stable.Version, last.URL)
			}
			return nil
		}
		var ee *exitError
		if errors.As(err, &ee) || ctx.Err() != nil {
			if ctx.Err() != nil && ee == nil {
				return &exitError{code: ExitFailed, err: fmt.Errorf("gave up following %s in %s: %w", app, env, ctx.Err())}
			}
			return err
		}
		// The stream broke (a server restart): reconnect.
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// watchStream reads the NDJSON status stream until fn says done.
func watchStream(ctx context.Context, c *apiClient, path string, fn func(*deploy.Status) (bool, error)) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := (&http.Client{}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return &exitError{code: ExitFailed, err: fmt.Errorf("watch: %s: %s", resp.Status, strings.TrimSpace(string(data)))}
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var st deploy.Status
		if err := json.Unmarshal(sc.Bytes(), &st); err != nil {
			return fmt.Errorf("watch: %w", err)
		}
		if done, err := fn(&st); done {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return io.ErrUnexpectedEOF
}

func newRolloutCmd() *cobra.Command {
	var d deployTarget
	cmd := &cobra.Command{
		Use:   "rollout",
		Short: "Follow and steer rollouts: status, analysis, watch, history, promote, abort, retry, pause, undo",
	}
	d.register(cmd)
	// run resolves APP and the environment and calls fn with the rollout's path.
	run := func(fn func(cmd *cobra.Command, c *apiClient, project, app, env string) error) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, args []string) error {
			project, env, err := d.resolve(args[0])
			if err != nil {
				return err
			}
			c, err := d.client()
			if err != nil {
				return err
			}
			return fn(cmd, c, project, args[0], env)
		}
	}
	cmd.AddCommand(&cobra.Command{
		Use: "status APP --env ENV", Short: "Show a rollout: phase, step, weight, revisions and replicas", Args: cobra.ExactArgs(1),
		RunE: run(func(cmd *cobra.Command, c *apiClient, project, app, env string) error {
			var st deploy.Status
			if err := c.do(cmd.Context(), http.MethodGet, rolloutPath(project, app, env)+"/status", nil, &st); err != nil {
				return err
			}
			if d.asJSON {
				return printJSON(cmd.OutOrStdout(), st)
			}
			printStatus(cmd.OutOrStdout(), &st)
			return nil
		}),
	})
	cmd.AddCommand(newRolloutAnalysisCmd(&d, run))
	cmd.AddCommand(&cobra.Command{
		Use: "watch APP --env ENV", Short: "Follow a rollout until it is Healthy (exit 0), Aborted or Degraded (exit 1)", Args: cobra.ExactArgs(1),
		RunE: run(func(cmd *cobra.Command, c *apiClient, project, app, env string) error {
			return follow(cmd.Context(), c, project, app, env, 0, cmd.OutOrStdout(), d.asJSON)
		}),
	})
	cmd.AddCommand(&cobra.Command{
		Use: "history APP --env ENV", Short: "List the kept revisions", Args: cobra.ExactArgs(1),
		RunE: run(func(cmd *cobra.Command, c *apiClient, project, app, env string) error {
			var revs []deploy.Revision
			if err := c.do(cmd.Context(), http.MethodGet, rolloutPath(project, app, env)+"/history", nil, &revs); err != nil {
				return err
			}
			if d.asJSON {
				return printJSON(cmd.OutOrStdout(), revs)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "REVISION\tVERSION\tPHASE\tCREATED\tBY\tNOTE")
			for _, r := range revs {
				note := ""
				if r.RollbackOf != 0 {
					note = fmt.Sprintf("undo to %d", r.RollbackOf)
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", r.Revision, r.Version, r.Phase, r.CreatedAt.Local().Format(time.DateTime), r.Who, note)
			}
			return tw.Flush()
		}),
	})
	var full bool
	promote := &cobra.Command{
		Use: "promote APP --env ENV [--full]", Short: "End the current pause or step (--full: skip every remaining step)", Args: cobra.ExactArgs(1),
		RunE: run(func(cmd *cobra.Command, c *apiClient, project, app, env string) error {
			q := ""
			if full {
				q = "?full=true"
			}
			return rolloutAction(cmd, c, rolloutPath(project, app, env)+"/promote"+q, d.asJSON)
		}),
	}
	promote.Flags().BoolVar(&full, "full", false, "skip every remaining step")
	cmd.AddCommand(promote)
	for _, a := range []struct{ name, short string }{
		{"abort", "Give up the revision being rolled out: all traffic back on the stable one"},
		{"retry", "Roll an aborted revision out again from the first step (also resumes a pause)"},
		{"pause", "Hold the rollout where it is until promote or retry"},
	} {
		cmd.AddCommand(&cobra.Command{
			Use: a.name + " APP --env ENV", Short: a.short, Args: cobra.ExactArgs(1),
			RunE: run(func(cmd *cobra.Command, c *apiClient, project, app, env string) error {
				return rolloutAction(cmd, c, rolloutPath(project, app, env)+"/"+a.name, d.asJSON)
			}),
		})
	}
	var to int64
	undo := &cobra.Command{
		Use:   "undo APP --env ENV [--to-revision N]",
		Short: "Roll back to the previous revision (or N): at once while the old one is still warm, else through the strategy",
		Args:  cobra.ExactArgs(1),
		RunE: run(func(cmd *cobra.Command, c *apiClient, project, app, env string) error {
			q := ""
			if to > 0 {
				q = fmt.Sprintf("?to-revision=%d", to)
			}
			return rolloutAction(cmd, c, rolloutPath(project, app, env)+"/undo"+q, d.asJSON)
		}),
	}
	undo.Flags().Int64Var(&to, "to-revision", 0, "revision to go back to (default: the previous one)")
	cmd.AddCommand(undo)
	return cmd
}

// rolloutAction posts an action and prints the rollout after it.
func rolloutAction(cmd *cobra.Command, c *apiClient, path string, asJSON bool) error {
	var st deploy.Status
	if err := c.do(cmd.Context(), http.MethodPost, path, nil, &st); err != nil {
		return err
	}
	if asJSON {
		return printJSON(cmd.OutOrStdout(), st)
	}
	printStatus(cmd.OutOrStdout(), &st)
	return nil
}

// printStatus prints a rollout the way `kubectl argo rollouts get` does.
func printStatus(w io.Writer, st *deploy.Status) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	ref := func(r *deploy.RevisionRef) string {
		if r == nil {
			return "-"
		}
		return fmt.Sprintf("revision %d (%s)", r.Revision, r.Version)
	}
	fmt.Fprintf(tw, "Name:\t%s (project %s)\n", st.App, st.Project)
	fmt.Fprintf(tw, "Environment:\t%s\n", st.Env)
	fmt.Fprintf(tw, "Strategy:\t%s\n", st.Strategy)
	if st.Steps > 0 {
		fmt.Fprintf(tw, "  Step:\t%d/%d\n", st.Step, st.Steps)
	}
	if st.Canary != nil {
		fmt.Fprintf(tw, "  Weight:\t%d%%\n", st.Weight)
	}
	phase := st.Phase
	if st.Message != "" {
		phase += " — " + st.Message
	}
	fmt.Fprintf(tw, "Phase:\t%s\n", phase)
	if st.AbortReason != "" {
		fmt.Fprintf(tw, "Abort reason:\t%s\n", st.AbortReason)
	}
	if v := st.Analysis; v != nil {
		fmt.Fprintf(tw, "Analysis:\t%s %s of revision %d: %s\n", v.Run, v.Phase, v.Revision, v.Reason)
	}
	fmt.Fprintf(tw, "Stable:\t%s\n", ref(st.Stable))
	fmt.Fprintf(tw, "Canary:\t%s\n", ref(st.Canary))
	fmt.Fprintf(tw, "URL:\t%s\n", st.URL)
	if st.PreviewURL != "" {
		fmt.Fprintf(tw, "Preview URL:\t%s\n", st.PreviewURL)
	}
	tw.Flush()
	if len(st.Revisions) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "REVISION\tVERSION\tWEIGHT\tDESIRED\tREADY\tRESTARTS")
		for _, r := range st.Revisions {
			restarts := 0
			for _, rep := range r.Replicas {
				restarts += rep.Restarts
			}
			fmt.Fprintf(tw, "%d\t%s\t%d%%\t%d\t%d\t%d\n", r.Revision, r.Version, st.Traffic[r.Revision], r.Desired, r.Ready, restarts)
		}
		tw.Flush()
	}
}
