package runner

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/gantry-ci/gantry/internal/runnerapi"
	"github.com/gantry-ci/gantry/internal/workspace"
)

// gitUser is the user name that goes with a job token, as in GitLab.
const gitUser = "gantry-ci-token"

// sources keeps the runner's copies of the projects' code: one mirror per
// project (Dir/repos/<project>), fetched from the server, and one snapshot
// per pipeline (Dir/pipelines/<pipeline>), shared by the pipeline's jobs
// that run here. It assumes it is alone in using Dir.
type sources struct {
	dir string

	mu        sync.Mutex
	projects  map[int64]*sync.Mutex // serialises a mirror's fetches
	pipelines map[int64]*pipelineDir
}

// pipelineDir is one pipeline's folder: checkout/ (a worktree of the
// mirror with no files, only HEAD), src/ (the snapshot), jobs/ (the
// workspaces), artifacts/<job id>/ (artifact folders made or downloaded
// here).
type pipelineDir struct {
	id      int64
	project int64
	dir     string

	mu   sync.Mutex // held while the snapshot is made
	sha  string
	snap *workspace.Snapshot

	// Guarded by sources.mu.
	users    int
	lastUsed time.Time

	downloads singleflight.Group // artifact downloads, by job id
}

func newSources(dir string) *sources {
	return &sources{dir: dir, projects: map[int64]*sync.Mutex{}, pipelines: map[int64]*pipelineDir{}}
}

func (p *pipelineDir) artifactDir(jobID int64) string {
	return filepath.Join(p.dir, "artifacts", strconv.FormatInt(jobID, 10))
}

// acquire returns the pipeline's folder with its snapshot of spec.SHA,
// fetching and snapshotting on first use. The caller must release it; the
// folder is not removed while in use.
func (s *sources) acquire(ctx context.Context, spec *runnerapi.JobSpec, log io.Writer) (*pipelineDir, error) {
	s.mu.Lock()
	p := s.pipelines[spec.PipelineID]
	if p == nil {
		p = &pipelineDir{id: spec.PipelineID, project: spec.ProjectID, dir: filepath.Join(s.dir, "pipelines", strconv.FormatInt(spec.PipelineID, 10))}
		s.pipelines[spec.PipelineID] = p
	}
	p.users++
	projectMu := s.projects[spec.ProjectID]
	if projectMu == nil {
		projectMu = &sync.Mutex{}
		s.projects[spec.ProjectID] = projectMu
	}
	s.mu.Unlock()
	if err := s.prepare(ctx, p, projectMu, spec, log); err != nil {
		s.release(p)
		return nil, err
	}
	return p, nil
}

// release marks the end of one job's use of p.
func (s *sources) release(p *pipelineDir) {
	s.mu.Lock()
	p.users--
	p.lastUsed = time.Now()
	s.mu.Unlock()
}

func (s *sources) prepare(ctx context.Context, p *pipelineDir, projectMu *sync.Mutex, spec *runnerapi.JobSpec, log io.Writer) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	short := spec.SHA[:min(8, len(spec.SHA))]
	if p.snap != nil {
		if p.sha != spec.SHA {
			return fmt.Errorf("pipeline %d was checked out at %s, this job wants %s", p.id, p.sha, spec.SHA)
		}
		fmt.Fprintf(log, "Reusing the checkout of %s made for an earlier job of pipeline %d\n", short, p.id)
		return nil
	}
	// Anything left from an earlier runner process is stale.
	if err := removeTree(p.dir); err != nil {
		return err
	}
	if err := os.MkdirAll(p.dir, 0o755); err != nil {
		return fmt.Errorf("create pipeline folder: %w", err)
	}
	checkout := filepath.Join(p.dir, "checkout")
	projectMu.Lock()
	err := s.fetch(ctx, p, spec, checkout, log)
	projectMu.Unlock()
	if err != nil {
		return err
	}
	fmt.Fprintf(log, "Checking out %s as detached HEAD (ref is %s)...\n", short, spec.Ref)
	snap, err := workspace.TakeSnapshot(ctx, checkout, p.dir, true)
	if err != nil {
		return fmt.Errorf("check out %s: %w", short, err)
	}
	p.snap, p.sha = snap, spec.SHA
	return nil
}

// mirrorDir is the project's mirror.
func (s *sources) mirrorDir(project int64) string {
	return filepath.Join(s.dir, "repos", strconv.FormatInt(project, 10))
}

// pipelineRef keeps the pipeline's commit in the mirror while the
// pipeline's folder exists, so no gc takes it from under the snapshot.
func pipelineRef(id int64) string { return "refs/gantry/pipelines/" + strconv.FormatInt(id, 10) }

// fetch brings spec.SHA and the tags into the mirror (unless it has the
// commit already) and adds the pipeline's worktree at it. The caller holds
// the project's lock.
func (s *sources) fetch(ctx context.Context, p *pipelineDir, spec *runnerapi.JobSpec, checkout string, log io.Writer) error {
	mirror := s.mirrorDir(spec.ProjectID)
	if _, err := os.Stat(filepath.Join(mirror, "HEAD")); err != nil {
		if err := os.MkdirAll(mirror, 0o755); err != nil {
			return fmt.Errorf("create mirror: %w", err)
		}
		if _, err := git(ctx, mirror, nil, "init", "--quiet", "--bare"); err != nil {
			return fmt.Errorf("create mirror: %w", err)
		}
	}
	if _, err := git(ctx, mirror, nil, "cat-file", "-e", spec.SHA+"^{commit}"); err == nil {
		fmt.Fprintf(log, "Commit %s is already here, not fetching\n", spec.SHA)
	} else {
		fmt.Fprintf(log, "Fetching %s from %s\n", spec.SHA, redactURL(spec.RepoURL))
		env := credentialEnv(spec.RepoURL, spec.Token)
		if _, err := git(ctx, mirror, env, "fetch", "--quiet", "--no-write-fetch-head", "--", spec.RepoURL,
			"+"+spec.SHA+":"+pipelineRef(p.id), "+refs/tags/*:refs/tags/*"); err != nil {
			return fmt.Errorf("fetch %s: %w", spec.SHA, err)
		}
	}
	if _, err := git(ctx, mirror, nil, "update-ref", pipelineRef(p.id), spec.SHA); err != nil {
		return fmt.Errorf("keep %s: %w", spec.SHA, err)
	}
	// An earlier process may have left the worktree registered.
	_, _ = git(ctx, mirror, nil, "worktree", "prune")
	if _, err := git(ctx, mirror, nil, "worktree", "add", "--quiet", "--no-checkout", "--detach", checkout, spec.SHA); err != nil {
		return fmt.Errorf("add worktree at %s: %w", spec.SHA, err)
	}
	return nil
}

// credentialEnv hands the job token to git as an Authorization header in
// environment-borne configuration (GIT_CONFIG_COUNT...), scoped to the
// repository's URL: nothing is written to disk, nothing shows in argv,
// and no credential helper sees it. A local path needs no credentials.
func credentialEnv(repoURL, token string) []string {
	u, err := url.Parse(repoURL)
	if err != nil || u.Scheme != "http" && u.Scheme != "https" || token == "" {
		return nil
	}
	basic := base64.StdEncoding.EncodeToString([]byte(gitUser + ":" + token))
	pairs := [][2]string{
		{"credential.helper", ""},
		{"http." + repoURL + ".extraHeader", "Authorization: Basic " + basic},
	}
	env := []string{"GIT_CONFIG_COUNT=" + strconv.Itoa(len(pairs))}
	for i, kv := range pairs {
		env = append(env, fmt.Sprintf("GIT_CONFIG_KEY_%d=%s", i, kv[0]), fmt.Sprintf("GIT_CONFIG_VALUE_%d=%s", i, kv[1]))
	}
	return env
}

// redactURL hides a password given in the URL itself.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return raw
	}
	return u.Redacted()
}

// git runs git in dir with the runner's environment, less anything that
// would point it at another repository or make it prompt, plus extra.
func git(ctx context.Context, dir string, extra []string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	drop := []string{"GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
		"GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_COMMON_DIR", "GIT_PREFIX", "GIT_NAMESPACE", "GIT_CONFIG_COUNT"}
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if slices.Contains(drop, name) || strings.HasPrefix(name, "GIT_CONFIG_KEY_") || strings.HasPrefix(name, "GIT_CONFIG_VALUE_") {
			continue
		}
		cmd.Env = append(cmd.Env, kv)
	}
	cmd.Env = append(cmd.Env, "GIT_TERMINAL_PROMPT=0", "GIT_ASKPASS=", "SSH_ASKPASS=")
	cmd.Env = append(cmd.Env, extra...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg != "" {
			return out, fmt.Errorf("git %s: %w: %s", args[0], err, msg)
		}
		return out, fmt.Errorf("git %s: %w", args[0], err)
	}
	return out, nil
}

// sweep removes the folders of pipelines no job has used for keep, and
// their commits' refs in the mirrors. A folder is renamed away under the
// lock (so a job of that pipeline arriving now starts afresh) and deleted
// after.
func (s *sources) sweep(ctx context.Context, now time.Time, keep time.Duration) {
	trash := filepath.Join(s.dir, "trash")
	type gone struct {
		p   *pipelineDir
		dir string
	}
	var removed []gone
	s.mu.Lock()
	for id, p := range s.pipelines {
		if p.users > 0 || now.Sub(p.lastUsed) < keep {
			continue
		}
		delete(s.pipelines, id)
		if err := os.MkdirAll(trash, 0o755); err != nil {
			continue
		}
		dst, err := os.MkdirTemp(trash, "pipeline-")
		if err != nil {
			continue
		}
		dst = filepath.Join(dst, "p")
		if err := os.Rename(p.dir, dst); err != nil && !os.IsNotExist(err) {
			continue
		}
		removed = append(removed, gone{p, dst})
	}
	s.mu.Unlock()
	for _, g := range removed {
		_ = removeTree(filepath.Dir(g.dir))
		s.mu.Lock()
		projectMu := s.projects[g.p.project]
		s.mu.Unlock()
		if projectMu == nil {
			continue
		}
		projectMu.Lock()
		mirror := s.mirrorDir(g.p.project)
		_, _ = git(ctx, mirror, nil, "worktree", "prune")
		_, _ = git(ctx, mirror, nil, "update-ref", "-d", pipelineRef(g.p.id))
		projectMu.Unlock()
	}
}

// clearStale removes what an earlier runner process left of its
// pipelines and logs: snapshots are only caches, and their jobs are gone.
func (s *sources) clearStale() error {
	for _, d := range []string{"pipelines", "trash", "logs"} {
		if err := removeTree(filepath.Join(s.dir, d)); err != nil {
			return err
		}
	}
	return nil
}

// removeTree deletes dir even when jobs left read-only folders in it (Go's
// module cache does); only folders are made writable, never files.
func removeTree(dir string) error {
	if err := os.RemoveAll(dir); err == nil {
		return nil
	}
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o700)
		}
		return nil
	})
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove %s: %w", dir, err)
	}
	return nil
}
