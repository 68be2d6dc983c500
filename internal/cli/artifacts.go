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
	"time"
	"unicode/utf8"

	"github.com/gantry-ci/gantry/internal/artifact"
	"github.com/gantry-ci/gantry/internal/pipeline"
	"github.com/gantry-ci/gantry/internal/variables"
)

// runArtifacts hands a local run's artifacts from job to job through the
// artifact package: .gantry/runs/<id>/artifacts/<job>/.
type runArtifacts struct {
	runsRoot, runID string
}

func openArtifacts(runDir string) *runArtifacts {
	return &runArtifacts{runsRoot: filepath.Dir(runDir), runID: filepath.Base(runDir)}
}

func (a *runArtifacts) Save(ctx context.Context, job string, fsys fs.FS, files []string, def *pipeline.Artifacts, lookup func(string) (string, bool)) error {
	meta := artifact.Meta{Job: job, Created: time.Now(), Name: variables.Expand(def.Name, lookup)}
	if def.ExpireIn != "" {
		d, err := artifact.ParseDuration(def.ExpireIn)
		if err != nil {
			return fmt.Errorf("artifacts of %s: expire_in: %w", job, err)
		}
		meta.ExpireIn = d
	}
	return artifact.Collect(ctx, fsys, files, artifact.DirFor(a.runsRoot, a.runID, job), meta)
}

func (a *runArtifacts) Tree(ctx context.Context, job string) (string, error) {
	dir := artifact.DirFor(a.runsRoot, a.runID, job)
	if _, err := os.Stat(string(dir)); errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	return artifact.Unpack(ctx, dir)
}

func (a *runArtifacts) Restore(ctx context.Context, job, destDir string) (bool, error) {
	dir := artifact.DirFor(a.runsRoot, a.runID, job)
	if _, err := os.Stat(string(dir)); errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	return true, artifact.Extract(ctx, dir, destDir)
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
