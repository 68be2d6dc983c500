// Command gantry runs GitLab-CI-compatible pipelines locally and as a
// server, and rolls out what they build. It only wires the command line; the
// work lives in internal/.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/gantry-ci/gantry/internal/cli"
	"github.com/gantry-ci/gantry/internal/workspace"
)

func main() {
	// A job's sandbox is this same binary re-executed; it must take over
	// before anything else runs.
	workspace.MaybeRunSandbox()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
