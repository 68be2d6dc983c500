package ui_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/internal/server"
)

// liveServer is a real server in this process, on loopback.
type liveServer struct {
	url   string
	token string
	data  string
	stop  func()
}

// startServer runs a server on data (made on first start); runners < 0
// runs no built-in runner.
func startServer(tb testing.TB, data string, runners int) *liveServer {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s, err := server.New(ctx, server.Config{
		Data: data, Listen: "127.0.0.1:0", Runners: runners,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		cancel()
		tb.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		cancel()
		tb.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	tok, err := os.ReadFile(filepath.Join(data, "admin-token"))
	if err != nil {
		cancel()
		tb.Fatal(err)
	}
	ls := &liveServer{url: s.URL(), token: strings.TrimSpace(string(tok)), data: data}
	stopped := false
	ls.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("server stopped with %v", err)
		}
	}
	tb.Cleanup(ls.stop)
	return ls
}

// api calls the JSON API with the admin token.
func (s *liveServer) api(tb testing.TB, method, path string, body any, out any) int {
	tb.Helper()
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = strings.NewReader(string(raw))
	}
	req, _ := http.NewRequest(method, s.url+path, rd)
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			tb.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, data)
		}
	}
	return resp.StatusCode
}

// browserClient keeps cookies and does not follow redirects, so tests
// see where they lead.
func browserClient(tb testing.TB) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		tb.Fatal(err)
	}
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// signIn posts the login form; it returns the answer.
func signIn(tb testing.TB, c *http.Client, base, token string) *http.Response {
	tb.Helper()
	resp, err := c.PostForm(base+"/login", url.Values{"token": {token}})
	if err != nil {
		tb.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// get fetches a page; it returns the status and the body.
func get(tb testing.TB, c *http.Client, u string) (int, string) {
	tb.Helper()
	resp, err := c.Get(u)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrfOf reads a page's form token.
func csrfOf(tb testing.TB, page string) string {
	tb.Helper()
	m := csrfRE.FindStringSubmatch(page)
	if m == nil {
		tb.Fatalf("no CSRF token in the page:\n%s", page)
	}
	return m[1]
}

// gitRepo makes a repository with one commit of files; it returns its
// folder and the commit.
func gitRepo(tb testing.TB, files map[string]string) (string, string) {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "repo")
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	run := func(args ...string) string {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			tb.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	run("init", "-q", "-b", "main")
	run("config", "user.email", "dev@example.com")
	run("config", "user.name", "Dev")
	run("config", "commit.gpgsign", "false")
	run("add", "-A")
	run("commit", "-q", "-m", "Add the pipeline")
	return dir, run("rev-parse", "HEAD")
}

// waitPipeline polls the API until the pipeline's status is one of want.
func (s *liveServer) waitPipeline(tb testing.TB, id string, want ...string) {
	tb.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var p struct {
		Status string `json:"status"`
	}
	for time.Now().Before(deadline) {
		s.api(tb, "GET", "/api/v1/pipelines/"+id, nil, &p)
		for _, w := range want {
			if p.Status == w {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	tb.Fatalf("pipeline %s is %s, want %v", id, p.Status, want)
}
