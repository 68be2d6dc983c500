package runner

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/internal/pipeline"
	"github.com/gantry-ci/gantry/internal/plan"
	"github.com/gantry-ci/gantry/internal/runnerapi"
	"github.com/gantry-ci/gantry/internal/workspace"
)

func TestMain(m *testing.M) {
	workspace.MaybeRunSandbox()
	os.Exit(m.Run())
}

// runGit runs git in dir with a fixed identity and returns trimmed stdout.
func runGit(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.name=Test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// project is a repository with two commits, served by the test server as
// proj.git; first is not the branch's tip.
type project struct {
	bare          string
	first, second string
}

func newProject(t *testing.T, s *testServer) project {
	t.Helper()
	work := filepath.Join(t.TempDir(), "work")
	if err := os.MkdirAll(work, 0o755); err != nil {
		t.Fatal(err)
	}
	runGit(t, work, "init", "-q", "-b", "main")
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(work, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("version.txt", "one\n")
	runGit(t, work, "add", "-A")
	runGit(t, work, "commit", "-q", "-m", "first")
	runGit(t, work, "tag", "v1")
	first := runGit(t, work, "rev-parse", "HEAD")
	write("version.txt", "two\n")
	runGit(t, work, "commit", "-q", "-am", "second")
	second := runGit(t, work, "rev-parse", "HEAD")
	bare := filepath.Join(s.gitRoot, "proj.git")
	runGit(t, work, "clone", "-q", "--bare", work, bare)
	return project{bare: bare, first: first, second: second}
}

func randomToken(t *testing.T) string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "glcbt-" + hex.EncodeToString(b)
}

// jobSpec is a job of pipeline 1 of project 1 at sha running script.
func jobSpec(t *testing.T, s *testServer, sha, name string, script ...string) *runnerapi.JobSpec {
	token := randomToken(t)
	return &runnerapi.JobSpec{
		PipelineID: 1, ProjectID: 1, Project: "group/proj", Attempt: 1,
		SHA: sha, Ref: "main", RepoURL: s.URL + "/git/proj.git", Token: token,
		Job: &plan.Job{Name: name, Base: name, Stage: "test", Def: &pipeline.Job{Name: name, Stage: "test", Script: script}},
		Env: []pipeline.Variable{
			{Name: "CI_JOB_NAME", Value: name},
			{Name: "CI_COMMIT_SHA", Value: sha},
			{Name: "CI_JOB_TOKEN", Value: token},
		},
		Timeout: 2 * time.Minute,
	}
}

// startRunner runs Run against s until the test ends (or stop is called)
// and returns stop, which cancels it and waits for it to return.
func startRunner(t *testing.T, s *testServer, dir string, concurrency int) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Config{
			Server: s.URL, Token: s.token, Dir: dir, Concurrency: concurrency, Name: "test-runner",
			Logger:     slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
			PollWait:   2 * time.Second,
			LeaseEvery: 200 * time.Millisecond,
		})
	}()
	stopped := false
	var err error
	stop = func() error {
		if stopped {
			return err
		}
		stopped = true
		cancel()
		select {
		case err = <-done:
		case <-time.After(2 * time.Minute):
			t.Fatal("Run did not return after its context ended")
		}
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}
