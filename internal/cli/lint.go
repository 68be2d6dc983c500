package cli

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gantry-ci/gantry/internal/pipeline"
)

func newLintCmd() *cobra.Command {
	var (
		asJSON bool
		load   loadOptions
	)
	cmd := &cobra.Command{
		Use:   "lint [FILE]",
		Short: "Check a .gitlab-ci.yml file the way GitLab's lint does",
		Long: `Check a pipeline file and print every problem as FILE:LINE:COL: KEY message.
Local includes are read from the file's repository. Exit status: 0 valid, 1 invalid, 2 usage error.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			file := defaultFile(args)
			_, err := loadPipeline(cmd.Context(), file, nil, load)
			var errs pipeline.Errors
			if err != nil && !errors.As(err, &errs) {
				return &exitError{code: ExitUsage, err: err}
			}
			out := cmd.OutOrStdout()
			if asJSON {
				if errs == nil {
					errs = pipeline.Errors{}
				}
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(map[string]any{"valid": len(errs) == 0, "errors": errs}); err != nil {
					return err
				}
			} else if len(errs) == 0 {
				fmt.Fprintf(out, "%s is valid\n", file)
			} else {
				for _, e := range errs {
					fmt.Fprintln(out, e.Error())
				}
				fmt.Fprintf(out, "%d error(s)\n", len(errs))
			}
			if len(errs) > 0 {
				return silentExit(ExitFailed)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	load.register(cmd)
	return cmd
}
