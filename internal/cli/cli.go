// Package cli defines Gantry's command line: one cobra command per verb,
// each a thin layer that reads flags, calls the packages that do the work and
// prints their result. Exit codes follow the house rule: 0 success, 1 the
// thing checked failed, 2 usage errors, 130 interrupted.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// Exit codes shared by the commands.
const (
	ExitOK          = 0
	ExitFailed      = 1
	ExitUsage       = 2
	ExitInterrupted = 130
)

// exitError carries a command's exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// silentExit ends a command with a code after it printed its own output.
func silentExit(code int) error { return &exitError{code: code} }

// Main runs the command line and returns the process exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRoot()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(stderr, "gantry:", ee.err)
		}
		return ee.code
	}
	// Anything cobra itself rejects (unknown flag, wrong argument count) is a usage error.
	fmt.Fprintln(stderr, "gantry:", err)
	return ExitUsage
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "gantry",
		Short:         "Gantry runs GitLab-CI-compatible pipelines and rolls out what they build",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newLintCmd(), newPlanCmd(), newRunCmd(),
		newServerCmd(), newRunnerCmd(), newProjectCmd(), newPipelineCmd(), newJobCmd(), newTokenCmd(),
		newDeployCmd(), newRolloutCmd())
	return root
}
