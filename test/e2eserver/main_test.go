package e2eserver

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/internal/store/pgtest"
	"github.com/gantry-ci/gantry/test/gantrytest"
)

// gantryBin is the binary built once by TestMain.
var gantryBin string

func TestMain(m *testing.M) {
	bin, cleanup, err := gantrytest.Build()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2eserver:", err)
		os.Exit(1)
	}
	gantryBin = bin
	code := m.Run()
	pgtest.Stop()
	cleanup()
	os.Exit(code)
}

// server is a `gantry server` process with this package's API helpers.
type server struct{ *gantrytest.Server }

// startServer runs a server on a free port with its own data folder;
// extra are more flags (--runners 0, --db …).
func startServer(t *testing.T, extra ...string) *server {
	t.Helper()
	return &server{gantrytest.StartServer(t, gantryBin, extra...)}
}

// api calls the server with the admin token and decodes JSON into out;
// it returns the status code.
func (s *server) api(method, path string, body, out any) int {
	s.T.Helper()
	return s.apiAs(s.Token, method, path, body, out)
}

func (s *server) apiAs(token, method, path string, body, out any) int {
	s.T.Helper()
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, s.URL+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.T.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			s.T.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, data, err)
		}
	}
	return resp.StatusCode
}

// gantry runs the CLI against the server.
func (s *server) gantry(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, gantryBin, args...)
	cmd.Env = append(os.Environ(), "GANTRY_SERVER="+s.URL, "GANTRY_TOKEN="+s.Token)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

type pipelineJSON struct {
	ID      int64     `json:"id"`
	Ref     string    `json:"ref"`
	Tag     bool      `json:"tag"`
	SHA     string    `json:"sha"`
	Source  string    `json:"source"`
	Status  string    `json:"status"`
	Error   string    `json:"error"`
	Jobs    []jobJSON `json:"jobs"`
	Project string    `json:"project"`
}

type jobJSON struct {
	ID            int64  `json:"id"`
	Name          string `json:"name"`
	Stage         string `json:"stage"`
	Status        string `json:"status"`
	Attempt       int    `json:"attempt"`
	Retried       bool   `json:"retried"`
	RunnerID      int64  `json:"runner_id"`
	FailureReason string `json:"failure_reason"`
	Reason        string `json:"reason"`
	LogSize       int64  `json:"log_size"`
}

// job returns the current (not retried) attempt of the named job.
func (p *pipelineJSON) job(name string) *jobJSON {
	for i := len(p.Jobs) - 1; i >= 0; i-- {
		if p.Jobs[i].Name == name && !p.Jobs[i].Retried {
			return &p.Jobs[i]
		}
	}
	return nil
}

func (s *server) pipeline(id int64) pipelineJSON {
	s.T.Helper()
	var p pipelineJSON
	if code := s.api("GET", fmt.Sprintf("/api/v1/pipelines/%d", id), nil, &p); code != 200 {
		s.T.Fatalf("get pipeline %d: %d", id, code)
	}
	return p
}

// waitPipeline polls until the pipeline has one of the statuses.
func (s *server) waitPipeline(id int64, timeout time.Duration, statuses ...string) pipelineJSON {
	s.T.Helper()
	deadline := time.Now().Add(timeout)
	var p pipelineJSON
	for time.Now().Before(deadline) {
		p = s.pipeline(id)
		for _, st := range statuses {
			if p.Status == st {
				return p
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.T.Fatalf("pipeline %d is %s, want %v; jobs %+v\nserver log:\n%s", id, p.Status, statuses, p.Jobs, s.Out.String())
	return p
}

// waitJob polls until cond holds for the pipeline.
func (s *server) waitFor(id int64, timeout time.Duration, what string, cond func(p *pipelineJSON) bool) pipelineJSON {
	s.T.Helper()
	deadline := time.Now().Add(timeout)
	var p pipelineJSON
	for time.Now().Before(deadline) {
		p = s.pipeline(id)
		if cond(&p) {
			return p
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.T.Fatalf("pipeline %d: waited for %s; now %s with jobs %+v\nserver log:\n%s", id, what, p.Status, p.Jobs, s.Out.String())
	return p
}

func (s *server) log(jobID int64) string {
	s.T.Helper()
	req, _ := http.NewRequest("GET", fmt.Sprintf("%s/api/v1/jobs/%d/log", s.URL, jobID), nil)
	req.Header.Set("Authorization", "Bearer "+s.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.T.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return string(data)
}

// listPipelines returns the project's pipelines, newest first.
func (s *server) listPipelines(project string) []pipelineJSON {
	s.T.Helper()
	var list []pipelineJSON
	if code := s.api("GET", "/api/v1/projects/"+project+"/pipelines?limit=1000", nil, &list); code != 200 {
		s.T.Fatalf("list pipelines: %d", code)
	}
	return list
}

type projectJSON struct {
	Name          string `json:"name"`
	WebhookSecret string `json:"webhook_secret"`
}

// addProject registers repo as project name through the CLI.
func (s *server) addProject(name, repo string) projectJSON {
	s.T.Helper()
	if out, err := s.gantry("project", "add", name, "--repo", repo); err != nil {
		s.T.Fatalf("project add: %v\n%s", err, out)
	}
	out, err := s.gantry("project", "show", name, "--json")
	if err != nil {
		s.T.Fatalf("project show: %v\n%s", err, out)
	}
	var p projectJSON
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		s.T.Fatalf("project show --json: %v\n%s", err, out)
	}
	return p
}

// repo is a git repository made for one test.
type repo struct {
	t   *testing.T
	dir string
}

func newRepo(t *testing.T, files map[string]string) *repo {
	t.Helper()
	r := &repo{t: t, dir: filepath.Join(t.TempDir(), "project")}
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	r.git("init", "-q", "-b", "main")
	r.git("config", "user.email", "e2e@example.com")
	r.git("config", "user.name", "e2e")
	r.git("config", "commit.gpgsign", "false")
	r.commit("initial", files)
	return r
}

// commit writes files and commits them; it returns the new SHA.
func (r *repo) commit(msg string, files map[string]string) string {
	r.t.Helper()
	for name, content := range files {
		p := filepath.Join(r.dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			r.t.Fatal(err)
		}
	}
	r.git("add", "-A")
	r.git("commit", "-q", "--allow-empty", "-m", msg)
	return r.head()
}

func (r *repo) head() string { return strings.TrimSpace(r.git("rev-parse", "HEAD")) }

func (r *repo) git(args ...string) string {
	r.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = r.dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return string(out)
}
