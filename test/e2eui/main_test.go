// Package e2eui drives the web UI of a real `gantry server` (the binary,
// with its built-in runner, on a real git repository) with Debian's
// Chromium through the DevTools protocol. Tests skip when
// /usr/bin/chromium is missing (apt-get install chromium).
//
// With GANTRY_SCREENSHOTS=1 they also save screenshots of the main pages
// to docs/screenshots/.
package e2eui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/test/gantrytest"
)

// gantryBin is the binary built once by TestMain.
var gantryBin string

func TestMain(m *testing.M) {
	bin, cleanup, err := gantrytest.Build()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2eui:", err)
		os.Exit(1)
	}
	gantryBin = bin
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// server is a `gantry server` process.
type server struct{ *gantrytest.Server }

// startServer runs a server on a free port with its own data folder.
func startServer(t *testing.T, extra ...string) *server {
	t.Helper()
	return &server{gantrytest.StartServer(t, gantryBin, extra...)}
}

// api calls the JSON API with the admin token; it returns the status.
func (s *server) api(method, path string, body, out any) int {
	s.T.Helper()
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, s.URL+path, rd)
	req.Header.Set("Authorization", "Bearer "+s.Token)
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

type pipelineJSON struct {
	ID     int64     `json:"id"`
	Status string    `json:"status"`
	Jobs   []jobJSON `json:"jobs"`
}

type jobJSON struct {
	ID      int64  `json:"id"`
	Name    string `json:"name"`
	Status  string `json:"status"`
	Retried bool   `json:"retried"`
}

// job returns the current attempt of the named job.
func (p *pipelineJSON) job(name string) *jobJSON {
	for i := len(p.Jobs) - 1; i >= 0; i-- {
		if p.Jobs[i].Name == name && !p.Jobs[i].Retried {
			return &p.Jobs[i]
		}
	}
	return nil
}

// waitFor polls the pipeline until cond holds.
func (s *server) waitFor(id int64, timeout time.Duration, what string, cond func(p *pipelineJSON) bool) pipelineJSON {
	s.T.Helper()
	deadline := time.Now().Add(timeout)
	var p pipelineJSON
	for time.Now().Before(deadline) {
		p = pipelineJSON{}
		s.api("GET", fmt.Sprintf("/api/v1/pipelines/%d", id), nil, &p)
		if cond(&p) {
			return p
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.T.Fatalf("pipeline %d: waited for %s; now %s with jobs %+v\nserver log:\n%s", id, what, p.Status, p.Jobs, s.Out.String())
	return p
}

// newRepo makes a git repository with one commit of files.
func newRepo(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "project")
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{
		{"init", "-q", "-b", "main"}, {"config", "user.email", "dev@example.com"}, {"config", "user.name", "Dev"},
		{"config", "commit.gpgsign", "false"}, {"add", "-A"}, {"commit", "-q", "-m", "Add the web shop pipeline"},
	} {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	return dir
}
