package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

// newProjectCmd is `gantry project add|show|list|delete`.
func newProjectCmd() *cobra.Command {
	var sf serverFlags
	cmd := &cobra.Command{Use: "project", Short: "Manage a server's projects"}
	sf.register(cmd)

	var add struct {
		repo, branch, poll string
		public, asJSON     bool
	}
	addCmd := &cobra.Command{
		Use:   "add NAME --repo PATH_OR_URL",
		Short: "Add a project: a git repository the server mirrors and builds",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := sf.client()
			if err != nil {
				return err
			}
			body := map[string]any{"name": args[0], "repo": add.repo, "default_branch": add.branch, "public": add.public}
			if add.poll != "" {
				body["poll"] = add.poll
			}
			var out map[string]any
			if err := c.do(cmd.Context(), "POST", "/api/v1/projects", body, &out); err != nil {
				return err
			}
			if add.asJSON {
				return printJSON(cmd.OutOrStdout(), out)
			}
			printProject(cmd.OutOrStdout(), out)
			return nil
		},
	}
	addCmd.Flags().StringVar(&add.repo, "repo", "", "git repository: a path, file://, http(s):// or ssh:// URL")
	addCmd.Flags().StringVar(&add.branch, "default-branch", "", "default branch (default: main, else master)")
	addCmd.Flags().StringVar(&add.poll, "poll", "", "poll the repository this often (e.g. 1m) for forges that cannot send webhooks")
	addCmd.Flags().BoolVar(&add.public, "public", false, "let anyone read the project's pipelines")
	addCmd.Flags().BoolVar(&add.asJSON, "json", false, "print JSON")
	_ = addCmd.MarkFlagRequired("repo")

	var showJSON bool
	showCmd := &cobra.Command{
		Use:   "show NAME",
		Short: "Show a project, its webhook URLs and secret",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := sf.client()
			if err != nil {
				return err
			}
			var out map[string]any
			if err := c.do(cmd.Context(), "GET", "/api/v1/projects/"+url.PathEscape(args[0]), nil, &out); err != nil {
				return err
			}
			if showJSON {
				return printJSON(cmd.OutOrStdout(), out)
			}
			printProject(cmd.OutOrStdout(), out)
			return nil
		},
	}
	showCmd.Flags().BoolVar(&showJSON, "json", false, "print JSON")

	var listJSON bool
	listCmd := &cobra.Command{
		Use:   "list",
		Short: "List projects",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := sf.client()
			if err != nil {
				return err
			}
			var out []map[string]any
			if err := c.do(cmd.Context(), "GET", "/api/v1/projects", nil, &out); err != nil {
				return err
			}
			if listJSON {
				return printJSON(cmd.OutOrStdout(), out)
			}
			for _, p := range out {
				fmt.Fprintf(cmd.OutOrStdout(), "%v\t%v\n", p["name"], p["repo"])
			}
			return nil
		},
	}
	listCmd.Flags().BoolVar(&listJSON, "json", false, "print JSON")

	var v struct{ masked, protected, file bool }
	varCmd := &cobra.Command{
		Use:   "var-set NAME KEY VALUE",
		Short: "Set a project CI/CD variable (stored encrypted; masked values are never shown again)",
		Args:  cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := sf.client()
			if err != nil {
				return err
			}
			value := args[2]
			if value == "-" {
				data, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), 1<<20))
				if err != nil {
					return err
				}
				value = strings.TrimSuffix(string(data), "\n")
			}
			body := map[string]any{"value": value, "masked": v.masked, "protected": v.protected, "file": v.file}
			return c.do(cmd.Context(), "PUT", "/api/v1/projects/"+url.PathEscape(args[0])+"/variables/"+url.PathEscape(args[1]), body, nil)
		},
	}
	varCmd.Flags().BoolVar(&v.masked, "masked", false, "hide the value in job logs")
	varCmd.Flags().BoolVar(&v.protected, "protected", false, "only for the default branch and tags")
	varCmd.Flags().BoolVar(&v.file, "file", false, "give jobs a file holding the value")

	cmd.AddCommand(addCmd, showCmd, listCmd, varCmd)
	return cmd
}

func printProject(w io.Writer, p map[string]any) {
	fmt.Fprintf(w, "Project %v (repository %v, default branch %v)\n", p["name"], p["repo"], p["default_branch"])
	if hooks, ok := p["webhooks"].(map[string]any); ok {
		fmt.Fprintln(w, "Webhooks (push, tag push, merge/pull request events):")
		for _, f := range []string{"github", "gitlab", "gitea"} {
			fmt.Fprintf(w, "  %-7s %v\n", f, hooks[f])
		}
		fmt.Fprintf(w, "Webhook secret: %v\n", p["webhook_secret"])
	}
}

// newPipelineCmd is `gantry pipeline run|list|show|cancel|retry`.
func newPipelineCmd() *cobra.Command {
	var sf serverFlags
	cmd := &cobra.Command{Use: "pipeline", Short: "Run and inspect a server's pipelines"}
	sf.register(cmd)

	var run struct {
		ref          string
		vars         []string
		wait, asJSON bool
	}
	runCmd := &cobra.Command{
		Use:   "run PROJECT [--ref REF] [--var K=V]...",
		Short: "Start a pipeline for a branch or tag",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := sf.client()
			if err != nil {
				return err
			}
			vars := map[string]string{}
			for _, kv := range run.vars {
				k, val, ok := strings.Cut(kv, "=")
				if !ok || k == "" {
					return &exitError{code: ExitUsage, err: fmt.Errorf("--var %q: want KEY=VALUE", kv)}
				}
				vars[k] = val
			}
			var out map[string]any
			body := map[string]any{"ref": run.ref, "variables": vars}
			if err := c.do(cmd.Context(), "POST", "/api/v1/projects/"+url.PathEscape(args[0])+"/pipelines", body, &out); err != nil {
				return err
			}
			if out["id"] == nil {
				fmt.Fprintf(cmd.OutOrStdout(), "No pipeline: %v\n", out["reason"])
				return nil
			}
			if run.wait {
				if out, err = waitPipeline(cmd.Context(), c, int64(out["id"].(float64))); err != nil {
					return err
				}
			}
			if run.asJSON {
				if err := printJSON(cmd.OutOrStdout(), out); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "Pipeline #%v for %v (%.8v): %v\n", out["id"], out["ref"], out["sha"], out["status"])
			}
			if run.wait && out["status"] != "success" {
				return silentExit(ExitFailed)
			}
			return nil
		},
	}
	runCmd.Flags().StringVar(&run.ref, "ref", "", "branch or tag (default: the project's default branch)")
	runCmd.Flags().StringArrayVar(&run.vars, "var", nil, "pipeline variable KEY=VALUE (repeatable)")
	runCmd.Flags().BoolVar(&run.wait, "wait", false, "wait for the pipeline to end; exit 1 unless it succeeded")
	runCmd.Flags().BoolVar(&run.asJSON, "json", false, "print JSON")

	var list struct {
		ref, status string
		limit       int
		asJSON      bool
	}
	listCmd := &cobra.Command{
		Use:   "list PROJECT",
		Short: "List a project's pipelines, newest first",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := sf.client()
			if err != nil {
				return err
			}
			q := url.Values{}
			if list.ref != "" {
				q.Set("ref", list.ref)
			}
			if list.status != "" {
				q.Set("status", list.status)
			}
			q.Set("limit", strconv.Itoa(list.limit))
			var out []map[string]any
			if err := c.do(cmd.Context(), "GET", "/api/v1/projects/"+url.PathEscape(args[0])+"/pipelines?"+q.Encode(), nil, &out); err != nil {
				return err
			}
			if list.asJSON {
				return printJSON(cmd.OutOrStdout(), out)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSTATUS\tREF\tCOMMIT\tSOURCE\tCREATED")
			for _, p := range out {
				fmt.Fprintf(tw, "%v\t%v\t%v\t%.8v\t%v\t%v\n", p["id"], p["status"], p["ref"], p["sha"], p["source"], p["created_at"])
			}
			return tw.Flush()
		},
	}
	listCmd.Flags().StringVar(&list.ref, "ref", "", "only this branch or tag")
	listCmd.Flags().StringVar(&list.status, "status", "", "only this status")
	listCmd.Flags().IntVar(&list.limit, "limit", 20, "at most this many")
	listCmd.Flags().BoolVar(&list.asJSON, "json", false, "print JSON")

	var showJSON bool
	showCmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show a pipeline and its jobs",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := sf.client()
			if err != nil {
				return err
			}
			var out map[string]any
			if err := c.do(cmd.Context(), "GET", "/api/v1/pipelines/"+url.PathEscape(args[0]), nil, &out); err != nil {
				return err
			}
			if showJSON {
				return printJSON(cmd.OutOrStdout(), out)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Pipeline #%v %v for %v (%.8v)\n", out["id"], out["status"], out["ref"], out["sha"])
			if e, _ := out["error"].(string); e != "" {
				fmt.Fprintln(cmd.OutOrStdout(), e)
			}
			jobs, _ := out["jobs"].([]any)
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			for _, x := range jobs {
				j := x.(map[string]any)
				if j["retried"] == true {
					continue
				}
				fmt.Fprintf(tw, "  %v\t%v\t%v\t#%v\n", j["stage"], j["name"], j["status"], j["id"])
			}
			return tw.Flush()
		},
	}
	showCmd.Flags().BoolVar(&showJSON, "json", false, "print JSON")

	pipelineLine := func(out map[string]any) string { return fmt.Sprintf("Pipeline #%v: %v", out["id"], out["status"]) }
	cmd.AddCommand(runCmd, listCmd, showCmd,
		actionCmd(&sf, "pipelines", "cancel", "Cancel a pipeline", pipelineLine),
		actionCmd(&sf, "pipelines", "retry", "Retry a pipeline's failed jobs", pipelineLine))
	return cmd
}

// actionCmd is `gantry <pipeline|job> VERB ID`: POST /api/v1/<kind>/ID/VERB,
// then one line about the result.
func actionCmd(sf *serverFlags, kind, verb, short string, line func(map[string]any) string) *cobra.Command {
	return &cobra.Command{
		Use:   verb + " ID",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := sf.client()
			if err != nil {
				return err
			}
			var out map[string]any
			if err := c.do(cmd.Context(), "POST", "/api/v1/"+kind+"/"+url.PathEscape(args[0])+"/"+verb, nil, &out); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), line(out))
			return nil
		},
	}
}

// waitPipeline polls until the pipeline ends (or waits on a manual job).
func waitPipeline(ctx context.Context, c *apiClient, id int64) (map[string]any, error) {
	for {
		var out map[string]any
		if err := c.do(ctx, "GET", "/api/v1/pipelines/"+strconv.FormatInt(id, 10), nil, &out); err != nil {
			return nil, err
		}
		switch out["status"] {
		case "success", "failed", "canceled", "skipped", "manual":
			return out, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// newJobCmd is `gantry job log|play|retry|cancel`.
func newJobCmd() *cobra.Command {
	var sf serverFlags
	cmd := &cobra.Command{Use: "job", Short: "Follow and control a server's jobs"}
	sf.register(cmd)
	var follow bool
	logCmd := &cobra.Command{
		Use:   "log ID",
		Short: "Print a job's log (--follow streams it until the job ends)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := sf.client()
			if err != nil {
				return err
			}
			if !follow {
				resp, err := c.send(cmd.Context(), "GET", "/api/v1/jobs/"+url.PathEscape(args[0])+"/log", nil)
				if err != nil {
					return err
				}
				defer resp.Body.Close()
				_, err = io.Copy(cmd.OutOrStdout(), resp.Body)
				return err
			}
			return followLog(cmd.Context(), c, args[0], cmd.OutOrStdout())
		},
	}
	logCmd.Flags().BoolVarP(&follow, "follow", "f", false, "stream the log until the job ends")
	jobLine := func(out map[string]any) string {
		return fmt.Sprintf("Job #%v %v: %v", out["id"], out["name"], out["status"])
	}
	cmd.AddCommand(logCmd,
		actionCmd(&sf, "jobs", "play", "Run a manual job", jobLine),
		actionCmd(&sf, "jobs", "retry", "Retry a job that ended", jobLine),
		actionCmd(&sf, "jobs", "cancel", "Cancel a job", jobLine))
	return cmd
}

// followLog prints the job's log stream (Server-Sent Events) until "end".
func followLog(ctx context.Context, c *apiClient, id string, w io.Writer) error {
	resp, err := c.send(ctx, "GET", "/api/v1/jobs/"+url.PathEscape(id)+"/log/stream", nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 1<<20), 4<<20)
	event := ""
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			var chunk string
			if json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &chunk) != nil {
				continue
			}
			if event == "end" {
				if chunk != "success" {
					return silentExit(ExitFailed)
				}
				return nil
			}
			io.WriteString(w, chunk)
		}
	}
	return sc.Err()
}

// newTokenCmd is `gantry token create NAME [--kind]`.
func newTokenCmd() *cobra.Command {
	var sf serverFlags
	cmd := &cobra.Command{Use: "token", Short: "Manage API tokens (admin)"}
	sf.register(cmd)
	var kind string
	createCmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create an API token and print it once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := sf.client()
			if err != nil {
				return err
			}
			var out map[string]any
			if err := c.do(cmd.Context(), "POST", "/api/v1/tokens", map[string]string{"name": args[0], "kind": kind}, &out); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), out["token"])
			return nil
		},
	}
	createCmd.Flags().StringVar(&kind, "kind", "user", "user, admin or runner-registration")
	cmd.AddCommand(createCmd)
	return cmd
}
