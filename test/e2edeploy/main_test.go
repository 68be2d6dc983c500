// Package e2edeploy tests delivery end to end with the real binary: a
// `gantry server`, `gantry deploy` of examples/wasm-service to staging and
// production, and the `gantry rollout` commands, as a user runs them.
package e2edeploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/test/gantrytest"
)

// Built once by TestMain.
var (
	gantryBin string
	wasmFile  string
)

func TestMain(m *testing.M) {
	bin, cleanup, err := gantrytest.Build()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2edeploy:", err)
		os.Exit(1)
	}
	gantryBin = bin
	wasmFile = filepath.Join(filepath.Dir(bin), "service.wasm")
	cmd := exec.Command("go", "build", "-o", wasmFile, "./examples/wasm-service")
	cmd.Dir = filepath.Join("..", "..")
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	code := 1
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2edeploy: build the example: %v\n%s", err, out)
	} else {
		code = m.Run()
	}
	cleanup()
	os.Exit(code)
}

// server is a `gantry server` process without a runner: deploys come
// from the CLI here.
type server struct{ *gantrytest.Server }

func startServer(t *testing.T) *server {
	t.Helper()
	return &server{gantrytest.StartServer(t, gantryBin, "--runners", "-1")}
}

// gantry runs the CLI against the server in dir and returns its output
// and exit code.
func (s *server) gantry(dir string, args ...string) (string, int) {
	s.T.Helper()
	cmd := exec.Command(gantryBin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GANTRY_SERVER="+s.URL, "GANTRY_TOKEN="+s.Token,
		"CI_JOB_TOKEN=", "CI_ENVIRONMENT_NAME=", "CI_PROJECT_NAME=", "CI_COMMIT_SHA=")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		s.T.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(3 * time.Minute):
		_ = cmd.Process.Kill()
		<-done
		s.T.Fatalf("gantry %s did not finish:\n%s\nserver log:\n%s", strings.Join(args, " "), out.String(), s.Out.String())
	}
	return out.String(), cmd.ProcessState.ExitCode()
}

// mustGantry runs the CLI and fails the test unless it exits 0.
func (s *server) mustGantry(dir string, args ...string) string {
	s.T.Helper()
	out, code := s.gantry(dir, args...)
	if code != 0 {
		s.T.Fatalf("gantry %s: exit %d\n%s\nserver log:\n%s", strings.Join(args, " "), code, out, s.Out.String())
	}
	return out
}

// rolloutStatus is `gantry rollout status --json` decoded as the contract
// says, nothing more.
type rolloutStatus struct {
	Phase  string `json:"phase"`
	Stable *struct {
		Revision int64  `json:"revision"`
		Version  string `json:"version"`
	} `json:"stable"`
	Canary *struct {
		Revision int64  `json:"revision"`
		Version  string `json:"version"`
	} `json:"canary"`
	Weight int    `json:"weight"`
	Step   int    `json:"step"`
	URL    string `json:"url"`
}

func (s *server) status(dir, env string) (rolloutStatus, string) {
	s.T.Helper()
	out := s.mustGantry(dir, "rollout", "status", "wasm-service", "--env", env, "--project", "wasm-service", "--json")
	var st rolloutStatus
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		s.T.Fatalf("rollout status --json: %v\n%s", err, out)
	}
	return st, out
}

// waitStatus polls `gantry rollout status` until ok.
func (s *server) waitStatus(dir, env, what string, ok func(rolloutStatus) bool) rolloutStatus {
	s.T.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	var raw string
	for time.Now().Before(deadline) {
		var st rolloutStatus
		st, raw = s.status(dir, env)
		if ok(st) {
			return st
		}
		time.Sleep(200 * time.Millisecond)
	}
	s.T.Fatalf("timed out waiting for %s in %s; last status:\n%s\nserver log:\n%s", what, env, raw, s.Out.String())
	return rolloutStatus{}
}

// exampleDir is a copy of examples/wasm-service's deploy spec with free
// listen addresses, and the module where the spec expects it.
func exampleDir(t *testing.T) (dir string, listens map[string]string) {
	t.Helper()
	spec, err := os.ReadFile(filepath.Join("..", "..", "examples", "wasm-service", "gantry.deploy.yaml"))
	if err != nil {
		t.Fatalf("the example's deploy spec: %v", err)
	}
	listens = map[string]string{}
	env := ""
	envLine := regexp.MustCompile(`^  ([A-Za-z0-9_-]+):\s*$`)
	listenLine := regexp.MustCompile(`^(\s+listen:\s*)\S+(.*)$`)
	var out []string
	for _, line := range strings.Split(string(spec), "\n") {
		if m := envLine.FindStringSubmatch(line); m != nil {
			env = m[1]
		}
		if m := listenLine.FindStringSubmatch(line); m != nil {
			addr := freeAddr(t)
			listens[env] = addr
			line = m[1] + addr + m[2]
		}
		out = append(out, line)
	}
	if listens["staging"] == "" || listens["production"] == "" {
		t.Fatalf("the example's spec does not listen in staging and production:\n%s", spec)
	}
	dir = t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "gantry.deploy.yaml"), []byte(strings.Join(out, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, listens
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// get fetches url with optional header pairs.
func get(url string, header ...string) (int, string, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	c := &http.Client{Timeout: 30 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// versions counts the GANTRY_VERSION of n answers; non-200 answers count
// under their status.
func versions(t *testing.T, url string, n int) map[string]int {
	t.Helper()
	out := map[string]int{}
	for range n {
		code, body, err := get(url)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		if code != http.StatusOK {
			out[fmt.Sprint(code)]++
			continue
		}
		var v struct {
			Version string `json:"GANTRY_VERSION"`
		}
		_ = json.Unmarshal([]byte(body), &v)
		out[v.Version]++
	}
	return out
}

// addProject registers a project (over a fresh git repository) for the
// deploys to belong to.
func (s *server) addProject(name string) {
	s.T.Helper()
	repo := s.T.TempDir()
	for _, args := range [][]string{
		{"init", "-q", "-b", "main"},
		{"-c", "user.email=e2e@example.com", "-c", "user.name=e2e", "commit", "-q", "--allow-empty", "-m", "init"},
	} {
		if out, err := exec.Command("git", append([]string{"-C", repo}, args...)...).CombinedOutput(); err != nil {
			s.T.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	s.mustGantry(repo, "project", "add", name, "--repo", repo)
}
