package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/gantry-ci/gantry/internal/cache"
	"github.com/gantry-ci/gantry/internal/pipeline"
)

// runArtifacts keeps a local run's artifacts as one zstd tar per job under
// <run>/artifacts, the same archive form as caches.
type runArtifacts struct {
	dir string
}

func openArtifacts(_ context.Context, _ string, runDir string) (*runArtifacts, error) {
	dir := filepath.Join(runDir, "artifacts")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create artifacts folder: %w", err)
	}
	return &runArtifacts{dir: dir}, nil
}

func (a *runArtifacts) path(job string) string {
	return filepath.Join(a.dir, strings.NewReplacer("/", "_", " ", "_", ":", "_").Replace(job)+".tar.zst")
}

func (a *runArtifacts) Save(ctx context.Context, job string, fsys fs.FS, files []string, _ *pipeline.Artifacts, _ func(string) (string, bool)) error {
	tmp, err := os.CreateTemp(a.dir, ".partial-*")
	if err != nil {
		return fmt.Errorf("save artifacts of %s: %w", job, err)
	}
	defer os.Remove(tmp.Name())
	if err := cache.WriteArchive(ctx, tmp, fsys, files); err != nil {
		tmp.Close()
		return fmt.Errorf("save artifacts of %s: %w", job, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save artifacts of %s: %w", job, err)
	}
	return os.Rename(tmp.Name(), a.path(job))
}

func (a *runArtifacts) Restore(ctx context.Context, job, destDir string) (bool, error) {
	f, err := os.Open(a.path(job))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("open artifacts of %s: %w", job, err)
	}
	defer f.Close()
	return true, cache.ExtractArchive(ctx, f, destDir)
}
