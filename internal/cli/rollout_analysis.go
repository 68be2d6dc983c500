package cli

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/gantry-ci/gantry/internal/deploy"
)

// rolloutRunner resolves a rollout command's APP and environment.
type rolloutRunner func(fn func(cmd *cobra.Command, c *apiClient, project, app, env string) error) func(*cobra.Command, []string) error

// newRolloutAnalysisCmd is `gantry rollout analysis`: every measurement
// with the condition that judged it, so that a verdict can be checked
// rather than trusted.
func newRolloutAnalysisCmd(d *deployTarget, run rolloutRunner) *cobra.Command {
	return &cobra.Command{
		Use:   "analysis APP --env ENV",
		Short: "List the analysis measurements (metric, value, condition, phase, samples, query) and the verdict",
		Args:  cobra.ExactArgs(1),
		RunE: run(func(cmd *cobra.Command, c *apiClient, project, app, env string) error {
			var a deploy.AnalysisStatus
			if err := c.do(cmd.Context(), http.MethodGet, rolloutPath(project, app, env)+"/analysis", nil, &a); err != nil {
				return err
			}
			if d.asJSON {
				return printJSON(cmd.OutOrStdout(), a)
			}
			printAnalysis(cmd.OutOrStdout(), &a)
			return nil
		}),
	}
}

func printAnalysis(w io.Writer, a *deploy.AnalysisStatus) {
	if v := a.Verdict; v != nil {
		fmt.Fprintf(w, "Verdict: %s %s of revision %d at %s\n", v.Run, v.Phase, v.Revision, v.Time.Local().Format(time.DateTime))
		if v.Reason != "" {
			fmt.Fprintf(w, "  %s\n", v.Reason)
		}
	} else {
		fmt.Fprintln(w, "Verdict: none yet")
	}
	for _, r := range a.Runs {
		line := fmt.Sprintf("Run %s (revision %d, %s): %s", r.Name, r.Revision, strings.Join(r.Templates, ", "), r.Phase)
		if r.Message != "" {
			line += " — " + r.Message
		}
		fmt.Fprintln(w, line)
	}
	if len(a.Measurements) == 0 {
		return
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tRUN\tREV\tMETRIC\tVALUE\tCONDITION\tPHASE\tSAMPLES\tQUERY")
	for _, m := range a.Measurements {
		value := m.Value.String()
		if m.NoData {
			value = "no data"
		}
		cond := m.Condition
		if cond == "" {
			cond = m.Message
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%d\t%s\n", m.Time.Local().Format("15:04:05.000"), m.Run, m.Revision,
			m.Metric, value, oneLine(cond), m.Phase, m.Samples, oneLine(m.Query))
	}
	tw.Flush()
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
