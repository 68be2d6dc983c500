package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

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
	return filepath.Join(a.dir, jobFileName(job)+".tar.zst")
}

// maxJobFileName keeps a job's file names, with their extension, under
// the 255 bytes most filesystems allow.
const maxJobFileName = 200

// jobFileName is the name, without extension, of a job's files in the run
// folder (its log, its artifacts): the job's name itself, with only the
// bytes a file name cannot hold percent-encoded. The mapping is one to one
// so that jobs such as "pkg/a", "pkg a" and "pkg_a" never share a file;
// over-long names are cut and made unique with a digest of the whole name.
func jobFileName(job string) string {
	var b strings.Builder
	for i := 0; i < len(job); i++ {
		c := job[i]
		if c == '/' || c == '%' || c < 0x20 || c == 0x7f {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	name := b.String()
	if len(name) > maxJobFileName {
		sum := sha256.Sum256([]byte(job))
		cut := maxJobFileName - 17
		for cut > 0 && !utf8.RuneStart(name[cut]) {
			cut--
		}
		name = name[:cut] + "-" + hex.EncodeToString(sum[:8])
	}
	return name
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
