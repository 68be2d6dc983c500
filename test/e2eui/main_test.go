// Package e2eui drives the web UI of a real `gantry server` (the binary,
// with its built-in runner, on a real git repository) with Debian's
// Chromium through the DevTools protocol. Tests skip when
// /usr/bin/chromium is missing (apt-get install chromium).
//
// With GANTRY_SCREENSHOTS=1 they also save screenshots of the main pages
// to docs/screenshots/.
package e2eui

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// gantryBin is the binary built once by TestMain.
var gantryBin string

func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	dir, err := os.MkdirTemp("", "gantry-e2eui-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2eui: create temp dir:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	gantryBin = filepath.Join(dir, "gantry")
	build := exec.Command("go", "build", "-o", gantryBin, "./cmd/gantry")
	build.Dir = filepath.Join("..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2eui: build gantry: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// server is a `gantry server` process.
type server struct {
	t     *testing.T
	data  string
	args  []string
	cmd   *exec.Cmd
	url   string
	token string
	out   *syncBuffer
	done  chan struct{}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startServer runs a server on a free port with its own data folder.
func startServer(t *testing.T, extra ...string) *server {
	t.Helper()
	s := &server{t: t, data: filepath.Join(t.TempDir(), "data"), args: extra}
	s.start()
	t.Cleanup(func() { s.stop() })
	return s
}

func (s *server) start() {
	t := s.t
	t.Helper()
	listen := "127.0.0.1:0"
	if s.url != "" {
		listen = strings.TrimPrefix(s.url, "http://") // a restart keeps its address
	}
	args := append([]string{"server", "--data", s.data, "--listen", listen}, s.args...)
	s.cmd = exec.Command(gantryBin, args...)
	s.out = &syncBuffer{}
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s.cmd.Stderr = s.out
	s.cmd.Env = append(os.Environ(), "GANTRY_TOKEN=", "GANTRY_SERVER=")
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.done = make(chan struct{})
	urlCh := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			s.out.Write([]byte(line + "\n"))
			if u, ok := strings.CutPrefix(line, "Gantry server listening on "); ok {
				urlCh <- u
			}
		}
	}()
	go func() { _ = s.cmd.Wait(); close(s.done) }()
	select {
	case s.url = <-urlCh:
	case <-s.done:
		t.Fatalf("server exited at start:\n%s", s.out.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("server did not start:\n%s", s.out.String())
	}
	tok, err := os.ReadFile(filepath.Join(s.data, "admin-token"))
	if err != nil {
		t.Fatal(err)
	}
	s.token = strings.TrimSpace(string(tok))
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(s.url + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("server never healthy:\n%s", s.out.String())
}

// stop ends the server's process group gracefully and waits for it.
func (s *server) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	select {
	case <-s.done:
		return
	default:
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
	}
}

// api calls the JSON API with the admin token; it returns the status.
func (s *server) api(method, path string, body, out any) int {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, s.url+path, rd)
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			s.t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, data, err)
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
	s.t.Helper()
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
	s.t.Fatalf("pipeline %d: waited for %s; now %s with jobs %+v\nserver log:\n%s", id, what, p.Status, p.Jobs, s.out.String())
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
