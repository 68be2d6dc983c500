// Package gantrytest runs the real gantry binary for end-to-end tests:
// it builds it once per test binary and starts `gantry server` processes
// on free ports with their own data folders.
package gantrytest

import (
	"bufio"
	"bytes"
	"fmt"
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

// Build builds ./cmd/gantry of the module two folders above the test's
// package (test/<pkg>) into a temporary folder, and returns the binary's
// path and the function that removes it. Call it from TestMain.
func Build() (bin string, cleanup func(), err error) {
	dir, err := os.MkdirTemp("", "gantry-e2e-")
	if err != nil {
		return "", nil, fmt.Errorf("create temp dir: %w", err)
	}
	cleanup = func() { os.RemoveAll(dir) }
	bin = filepath.Join(dir, "gantry") // named gantry: jobs find it on PATH (see cli.ensureOnPath)
	build := exec.Command("go", "build", "-o", bin, "./cmd/gantry")
	build.Dir = filepath.Join("..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("build gantry: %w\n%s", err, out)
	}
	return bin, cleanup, nil
}

// SyncBuffer collects a process's output from several goroutines.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Server is a `gantry server` process.
type Server struct {
	T    testing.TB
	Bin  string
	Data string   // its data folder
	Args []string // more flags (--runners 0, --db …)
	// URL and Token are set by Start: where it listens (a restart keeps
	// the address) and its admin token.
	URL   string
	Token string
	Out   *SyncBuffer // its stdout and stderr

	cmd  *exec.Cmd
	done chan struct{}
}

// StartServer runs a server with a data folder of its own, stopped with
// SIGTERM when the test ends.
func StartServer(t testing.TB, bin string, args ...string) *Server {
	t.Helper()
	s := &Server{T: t, Bin: bin, Data: filepath.Join(t.TempDir(), "data"), Args: args}
	s.Start()
	t.Cleanup(func() { s.Stop(syscall.SIGTERM) })
	return s
}

// Start starts the process and waits until /healthz answers.
func (s *Server) Start() {
	t := s.T
	t.Helper()
	listen := "127.0.0.1:0"
	if s.URL != "" {
		listen = strings.TrimPrefix(s.URL, "http://")
	}
	s.cmd = exec.Command(s.Bin, append([]string{"server", "--data", s.Data, "--listen", listen}, s.Args...)...)
	s.Out = &SyncBuffer{}
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s.cmd.Stderr = s.Out
	s.cmd.Env = append(os.Environ(), "GANTRY_TOKEN=", "GANTRY_SERVER=")
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.done = make(chan struct{})
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			s.Out.Write([]byte(line + "\n"))
			if u, ok := strings.CutPrefix(line, "Gantry server listening on "); ok {
				urls <- u
			}
		}
	}()
	go func() { _ = s.cmd.Wait(); close(s.done) }()
	select {
	case s.URL = <-urls:
	case <-s.done:
		t.Fatalf("server exited at start:\n%s", s.Out.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("server did not start:\n%s", s.Out.String())
	}
	tok, err := os.ReadFile(filepath.Join(s.Data, "admin-token"))
	if err != nil {
		t.Fatal(err)
	}
	s.Token = strings.TrimSpace(string(tok))
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(s.URL + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("server never healthy:\n%s", s.Out.String())
}

// Stop signals the server's process group and waits for it to end,
// killing it after 30 s.
func (s *Server) Stop(sig syscall.Signal) {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	select {
	case <-s.done:
		return
	default:
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, sig)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
	}
}
