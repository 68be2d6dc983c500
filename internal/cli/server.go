package cli

import (
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gantry-ci/gantry/internal/runner"
	"github.com/gantry-ci/gantry/internal/server"
)

func newServerCmd() *cobra.Command {
	cfg := server.Config{
		Data:        envOr("GANTRY_DATA", ".gantry-server"),
		Listen:      envOr("GANTRY_LISTEN", "127.0.0.1:8080"),
		ExternalURL: os.Getenv("GANTRY_EXTERNAL_URL"),
		DB:          os.Getenv("GANTRY_DB"),
	}
	if n, err := strconv.Atoi(os.Getenv("GANTRY_RUNNERS")); err == nil {
		cfg.Runners = n
	}
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the Gantry server: webhooks, pipelines, runners, API (SQLite and a built-in runner by default)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			cfg.Logger = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			ensureOnPath()
			cfg.AdminTokenOut = func(tok string) {
				fmt.Fprintf(out, "Admin token (shown once; also in %s/admin-token):\n  %s\n", cfg.Data, tok)
			}
			srv, err := server.New(cmd.Context(), cfg)
			if err != nil {
				return &exitError{code: ExitFailed, err: err}
			}
			if err := srv.Listen(); err != nil {
				return &exitError{code: ExitFailed, err: err}
			}
			fmt.Fprintf(out, "Gantry server listening on %s\n", srv.URL())
			if err := srv.Run(cmd.Context()); err != nil {
				return &exitError{code: ExitFailed, err: err}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Data, "data", cfg.Data, "state folder: database, logs, artifacts, mirrors, keys ($GANTRY_DATA)")
	f.StringVar(&cfg.Listen, "listen", cfg.Listen, "address to listen on ($GANTRY_LISTEN)")
	f.StringVar(&cfg.ExternalURL, "external-url", cfg.ExternalURL, "URL forges, runners and jobs reach the server at ($GANTRY_EXTERNAL_URL)")
	f.StringVar(&cfg.DB, "db", cfg.DB, "postgres://… for PostgreSQL; default SQLite in the data folder ($GANTRY_DB)")
	f.DurationVar(&cfg.GCInterval, "gc-interval", 10*time.Minute, "how often expired artifacts are deleted")
	f.IntVar(&cfg.Runners, "runners", cfg.Runners, "jobs the built-in shell runner runs at once; 0 = cores, -1 = no built-in runner ($GANTRY_RUNNERS)")
	return cmd
}

// ensureOnPath lets jobs of a runner call `gantry` itself (gantry deploy)
// without installing it: the running binary's folder joins PATH when no
// gantry is found there.
func ensureOnPath() {
	if _, err := exec.LookPath("gantry"); err == nil {
		return
	}
	if exe, err := os.Executable(); err == nil && filepath.Base(exe) == "gantry" {
		_ = os.Setenv("PATH", filepath.Dir(exe)+string(os.PathListSeparator)+os.Getenv("PATH"))
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func newRunnerCmd() *cobra.Command {
	var (
		sf  serverFlags
		cfg runner.Config
	)
	cmd := &cobra.Command{
		Use:   "runner",
		Short: "Run jobs for a Gantry server (gantry runner --server URL --token TOKEN)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Server = firstNonEmpty(sf.server, os.Getenv("GANTRY_SERVER"))
			cfg.Token = firstNonEmpty(sf.token, os.Getenv("GANTRY_TOKEN"))
			if cfg.Server == "" || cfg.Token == "" {
				return &exitError{code: ExitUsage, err: fmt.Errorf("--server and --token are required (create a runner token with `gantry runner create NAME`)")}
			}
			cfg.Logger = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			ensureOnPath()
			if err := runner.Run(cmd.Context(), cfg); err != nil && cmd.Context().Err() == nil {
				return &exitError{code: ExitFailed, err: err}
			}
			return nil
		},
	}
	sf.register(cmd)
	f := cmd.Flags()
	f.StringSliceVar(&cfg.Tags, "tags", nil, "tags of this runner (the server matches them with jobs' tags)")
	f.IntVar(&cfg.Concurrency, "concurrency", 1, "jobs run at once")
	f.StringVar(&cfg.Dir, "dir", ".gantry-runner", "work folder: repositories, job folders, caches")

	var create struct {
		tags     []string
		untagged bool
		conc     int
		asJSON   bool
	}
	createCmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Register a runner and print its token (admin)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := sf.client()
			if err != nil {
				return err
			}
			body := map[string]any{"name": args[0], "tags": create.tags, "concurrency": create.conc}
			if cmd.Flags().Changed("run-untagged") {
				body["run_untagged"] = create.untagged
			}
			var out map[string]any
			if err := c.do(cmd.Context(), "POST", "/api/v1/runners", body, &out); err != nil {
				return err
			}
			if create.asJSON {
				return printJSON(cmd.OutOrStdout(), out)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Runner %v created. Start it with:\n  gantry runner --server %s --token %v\n", out["name"], c.base, out["token"])
			return nil
		},
	}
	createCmd.Flags().StringSliceVar(&create.tags, "tags", nil, "tags the runner serves")
	createCmd.Flags().BoolVar(&create.untagged, "run-untagged", true, "also take jobs without tags")
	createCmd.Flags().IntVar(&create.conc, "concurrency", 1, "jobs run at once (informative)")
	createCmd.Flags().BoolVar(&create.asJSON, "json", false, "print JSON")
	listCmd := &cobra.Command{
		Use:   "list",
		Short: "List runners (admin)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := sf.client()
			if err != nil {
				return err
			}
			var out []map[string]any
			if err := c.do(cmd.Context(), "GET", "/api/v1/runners", nil, &out); err != nil {
				return err
			}
			for _, r := range out {
				state := "offline"
				if r["online"] == true {
					state = "online"
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%v\t%v\t%s\t%v\n", r["id"], r["name"], state, joinAny(r["tags"]))
			}
			return nil
		},
	}
	cmd.AddCommand(createCmd, listCmd)
	return cmd
}

func joinAny(v any) string {
	list, _ := v.([]any)
	parts := make([]string, 0, len(list))
	for _, x := range list {
		parts = append(parts, fmt.Sprint(x))
	}
	return strings.Join(parts, ",")
}
