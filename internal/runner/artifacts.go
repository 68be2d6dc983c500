package runner

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/gantry-ci/gantry/internal/artifact"
	"github.com/gantry-ci/gantry/internal/pipeline"
	"github.com/gantry-ci/gantry/internal/runnerapi"
	"github.com/gantry-ci/gantry/internal/variables"
	"github.com/gantry-ci/gantry/internal/worker"
)

// The files of an artifact folder (see internal/artifact), in the order
// they are uploaded: the metadata last, so a server that sees it can take
// the set as complete.
const (
	archiveFile = "artifacts.tar.zst"
	indexFile   = "index.json"
	metaFile    = "meta.json"
)

var artifactFiles = []string{archiveFile, indexFile, metaFile}

// remoteArtifacts is worker.Artifacts for one job on a remote runner: its
// own artifacts are collected into the pipeline folder and uploaded; its
// dependencies' are downloaded there once (or found there, when they ran
// on this runner) and unpacked or extracted as for a local run.
type remoteArtifacts struct {
	c    *Client
	spec *runnerapi.JobSpec
	p    *pipelineDir
	log  io.Writer

	mu       sync.Mutex
	size     int64
	expireAt time.Time
}

var _ worker.Artifacts = (*remoteArtifacts)(nil)

// Save collects the job's artifacts and uploads them.
func (a *remoteArtifacts) Save(ctx context.Context, job string, fsys fs.FS, files []string, def *pipeline.Artifacts, lookup func(string) (string, bool)) error {
	sectionStart(a.log, "upload_artifacts", "Uploading artifacts...")
	defer sectionEnd(a.log, "upload_artifacts")
	meta := artifact.Meta{Job: job, Created: time.Now(), Name: variables.Expand(def.Name, lookup)}
	if def.ExpireIn != "" {
		d, err := artifact.ParseDuration(def.ExpireIn)
		if err != nil {
			return fmt.Errorf("artifacts of %s: expire_in: %w", job, err)
		}
		meta.ExpireIn = d
	}
	dir := a.p.artifactDir(a.spec.ID)
	if err := artifact.Collect(ctx, fsys, files, artifact.ArtifactDir(dir), meta); err != nil {
		return err
	}
	for _, f := range artifactFiles {
		if err := a.c.UploadArtifact(ctx, a.spec.ID, f, filepath.Join(dir, f)); err != nil {
			return err
		}
	}
	info, err := os.Stat(filepath.Join(dir, archiveFile))
	if err != nil {
		return fmt.Errorf("artifacts of %s: %w", job, err)
	}
	a.mu.Lock()
	a.size = info.Size()
	a.expireAt, _ = meta.ExpiresAt()
	a.mu.Unlock()
	fmt.Fprintf(a.log, "Uploaded artifacts (%d bytes compressed)\n", info.Size())
	return nil
}

// uploaded says what Save sent, for the job's Result.
func (a *remoteArtifacts) uploaded() (int64, time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.size, a.expireAt
}

// Tree unpacks a dependency's artifacts once for every job here.
func (a *remoteArtifacts) Tree(ctx context.Context, job string) (string, error) {
	dir, ok, err := a.fetch(ctx, job)
	if err != nil || !ok {
		return "", err
	}
	return artifact.Unpack(ctx, artifact.ArtifactDir(dir))
}

// Restore extracts a dependency's artifacts into destDir.
func (a *remoteArtifacts) Restore(ctx context.Context, job, destDir string) (bool, error) {
	dir, ok, err := a.fetch(ctx, job)
	if err != nil || !ok {
		return false, err
	}
	return true, artifact.Extract(ctx, artifact.ArtifactDir(dir), destDir)
}

// fetch returns the local artifact folder of the dependency named job,
// downloading it first if needed; false when it has no artifacts (or is
// not among the job's dependencies: the server decides what it receives).
func (a *remoteArtifacts) fetch(ctx context.Context, job string) (string, bool, error) {
	depID := int64(-1)
	for _, d := range a.spec.Dependencies {
		if d.Name == job {
			depID = d.JobID
		}
	}
	if depID < 0 {
		return "", false, nil
	}
	dir := a.p.artifactDir(depID)
	if present(dir) {
		return dir, true, nil
	}
	found, err, _ := a.p.downloads.Do(strconv.FormatInt(depID, 10), func() (any, error) {
		if present(dir) {
			return true, nil
		}
		return a.download(ctx, depID, dir)
	})
	if err != nil {
		return "", false, fmt.Errorf("download artifacts of %s: %w", job, err)
	}
	return dir, found.(bool), nil
}

// present says whether an artifact folder is complete; folders appear
// whole, by rename.
func present(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, archiveFile))
	return err == nil
}

// download fetches a job's artifact folder into a temporary folder and
// renames it into place.
func (a *remoteArtifacts) download(ctx context.Context, depID int64, dir string) (bool, error) {
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return false, err
	}
	tmp, err := os.MkdirTemp(parent, ".download-")
	if err != nil {
		return false, err
	}
	defer os.RemoveAll(tmp)
	for _, f := range artifactFiles {
		got, err := a.c.DownloadArtifact(ctx, a.spec.ID, depID, f, filepath.Join(tmp, f))
		if err != nil {
			return false, err
		}
		if !got && f == archiveFile {
			return false, nil
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		if present(dir) {
			return true, nil
		}
		return false, err
	}
	return true, nil
}
