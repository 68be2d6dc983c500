package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/spf13/cobra"
	"os"
	"path/filepath"
	"strings"

	"github.com/gantry-ci/gantry/internal/gitrepo"
	"github.com/gantry-ci/gantry/internal/pipeline"
	"github.com/gantry-ci/gantry/internal/pipeline/gitlab"
	"github.com/gantry-ci/gantry/internal/pipeline/remote"
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
// loadOptions are the flags every command that reads a pipeline shares.
type loadOptions struct {
	inputs  []string
	offline bool
}

func (o *loadOptions) register(cmd *cobra.Command) {
	cmd.Flags().StringArrayVar(&o.inputs, "input", nil, "a value for the file's spec:inputs, NAME=VALUE (repeatable)")
	cmd.Flags().BoolVar(&o.offline, "offline", false, "do not fetch include:remote files; list them as not included")
}

func loadPipeline(ctx context.Context, file string, in *plan.Input, o loadOptions) (*pipeline.Pipeline, error) {
	inputs, err := parseInputs(o.inputs)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read pipeline file: %w", err)
	}
	root := repoRoot(ctx, file)
	opts := gitlab.Options{FS: os.DirFS(root), Fetch: remote.Fetch, Inputs: inputs}
	if o.offline {
		opts.Fetch = nil
	}
	if in != nil {
		opts.Variables = variables.Lookup(plan.Predefined(*in))
	}
	return gitlab.Load(ctx, file, data, opts)
}

// parseInputs reads --input NAME=VALUE flags. A value that reads as JSON
// (a number, true/false, an array) keeps that type, as spec:inputs of type
// number, boolean and array expect; anything else is a string.
func parseInputs(flags []string) (map[string]any, error) {
	if len(flags) == 0 {
		return nil, nil
	}
	out := map[string]any{}
	for _, kv := range flags {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--input %q: want NAME=VALUE", kv)
		}
		var typed any
		if err := json.Unmarshal([]byte(v), &typed); err == nil {
			switch t := typed.(type) {
			case float64:
				if t == float64(int64(t)) {
					typed = int64(t)
				}
				out[k] = typed
				continue
			case bool, []any:
				out[k] = typed
				continue
			}
		}
		out[k] = v
	}
	return out, nil
}
