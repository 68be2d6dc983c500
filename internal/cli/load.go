package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gantry-ci/gantry/internal/gitrepo"
	"github.com/gantry-ci/gantry/internal/pipeline"
	"github.com/gantry-ci/gantry/internal/pipeline/gitlab"
	"github.com/gantry-ci/gantry/internal/plan"
	"github.com/gantry-ci/gantry/internal/variables"
)

const defaultPipelineFile = ".gitlab-ci.yml"

func defaultFile(args []string) string {
	if len(args) > 0 {
		return args[0]
	}
	return defaultPipelineFile
}

// repoRoot is the git work tree holding file, or the file's folder when it
// is in none: local includes are relative to it.
func repoRoot(ctx context.Context, file string) string {
	dir := filepath.Dir(file)
	if info, err := gitrepo.Inspect(ctx, dir); err == nil {
		return info.Root
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return dir
	}
	return abs
}

// loadPipeline reads and compiles a pipeline file; problems in the file come
// back as pipeline.Errors, anything else (a missing file) as another error.
// With in non-nil, include:rules are decided for that pipeline; lint
// (which has no pipeline) includes every file.
func loadPipeline(ctx context.Context, file string, in *plan.Input) (*pipeline.Pipeline, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read pipeline file: %w", err)
	}
	root := repoRoot(ctx, file)
	opts := gitlab.Options{FS: os.DirFS(root)}
	if in != nil {
		opts.Variables = variables.Lookup(plan.Predefined(*in))
	}
	return gitlab.Load(ctx, file, data, opts)
}
