package deploy_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gantry-ci/gantry/internal/deploy"
	"github.com/gantry-ci/gantry/internal/store/sqlite"
)

// Built once per test binary: compiling Go programs takes seconds.
var (
	testDir string

	serverOnce sync.Once
	serverBin  string
	serverErr  error

	wasmOnce sync.Once
	wasmFile string
	wasmErr  error
	// wasmCache is shared by every controller of the run, so that a test
	// that built the example finds it compiled.
	wasmCache string
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(childMain())
	}
	dir, err := os.MkdirTemp("", "gantry-deploy-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testDir = dir
	wasmCache = filepath.Join(dir, "wasm-cache")
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

func goBuild(out, pkg string, env ...string) error {
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Env = append(os.Environ(), env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
	}
	return nil
}

// testServer is the process replica's binary.
func testServer(t testing.TB) string {
	t.Helper()
	serverOnce.Do(func() {
		serverBin = filepath.Join(testDir, "server")
		serverErr = goBuild(serverBin, "./testdata/server", "CGO_ENABLED=0")
	})
	if serverErr != nil {
		t.Fatal(serverErr)
	}
	return serverBin
}

// exampleWasm builds examples/wasm-service for WASI and compiles it into
// a wazero cache (without -race, see testdata/precompile).
func exampleWasm(t testing.TB) (module, cacheDir string) {
	t.Helper()
	wasmOnce.Do(func() {
		wasmFile = filepath.Join(testDir, "service.wasm")
		if wasmErr = goBuild(wasmFile, "../../examples/wasm-service", "GOOS=wasip1", "GOARCH=wasm"); wasmErr != nil {
			return
		}
		// A test binary has no module versions in its build info, so
		// wazero calls itself "dev" there, and the version is part of the
		// cache; precompile must call itself the same.
		cmd := exec.Command("go", "run", "-ldflags=-X=github.com/tetratelabs/wazero/internal/version.version=dev",
			"./testdata/precompile", wasmCache, wasmFile)
		if b, err := cmd.CombinedOutput(); err != nil {
			wasmErr = fmt.Errorf("precompile: %v\n%s", err, b)
		}
	})
	if wasmErr != nil {
		t.Fatal(wasmErr)
	}
	return wasmFile, wasmCache
}

// harness is a controller over a real SQLite store and data folder.
type harness struct {
	t       testing.TB
	dir     string
	db      *sqlite.DB
	reg     *prometheus.Registry
	c       *deploy.Controller
	project string

	mu     sync.Mutex
	events []map[string]any
	// notes are the notifications, as "kind revision: reason".
	notes []string
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{t: t, dir: t.TempDir(), project: "demo"}
	h.start()
	return h
}

// start opens the store and starts a controller on the harness's state.
func (h *harness) start() {
	t := h.t
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(h.dir, "gantry.db"))
	if err != nil {
		t.Fatal(err)
	}
	h.db = db
	h.reg = prometheus.NewRegistry()
	c, err := deploy.New(deploy.Config{
		Records: db, DataDir: filepath.Join(h.dir, "data"), Registerer: h.reg, WasmCacheDir: wasmCache,
		Emit: func(_ context.Context, _ int64, typ string, data any) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.events = append(h.events, map[string]any{"type": typ, "data": data})
		},
		Notify: func(_ context.Context, _ int64, kind string, e deploy.NotifyInfo) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.notes = append(h.notes, fmt.Sprintf("%s %d: %s", kind, e.Revision, e.Reason))
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	h.c = c
	t.Cleanup(h.stop)
}

func (h *harness) stop() {
	if h.c == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := h.c.Close(ctx); err != nil {
		h.t.Errorf("close controller: %v", err)
	}
	_ = h.db.Close()
	h.c = nil
}

func (h *harness) key(app, env string) deploy.Key {
	return deploy.Key{Project: h.project, App: app, Env: env}
}

// deploy deploys and fails the test on error.
func (h *harness) deploy(specYAML, env, version string, set map[string]string) *deploy.Revision {
	h.t.Helper()
	rev, err := h.c.Deploy(context.Background(), deploy.DeployRequest{
		Project: h.project, SpecYAML: []byte(specYAML), SpecFile: "gantry.deploy.yaml",
		Env: env, Version: version, Set: set, Who: "tester",
	})
	if err != nil {
		h.t.Fatalf("deploy %s: %v", version, err)
	}
	return rev
}

// waitStatus polls the rollout until ok accepts its status.
func (h *harness) waitStatus(k deploy.Key, what string, ok func(*deploy.Status) bool) *deploy.Status {
	h.t.Helper()
	var st *deploy.Status
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		var err error
		st, err = h.c.Status(context.Background(), k)
		if err == nil && ok(st) {
			return st
		}
		time.Sleep(20 * time.Millisecond)
	}
	h.t.Fatalf("timed out waiting for %s; last status: %s", what, describe(st))
	return nil
}

func (h *harness) waitHealthy(k deploy.Key, rev int64) *deploy.Status {
	h.t.Helper()
	return h.waitStatus(k, fmt.Sprintf("revision %d Healthy", rev), func(s *deploy.Status) bool {
		return s.Phase == "Healthy" && s.Stable != nil && s.Stable.Revision == rev && s.Canary == nil
	})
}

func describe(st *deploy.Status) string {
	if st == nil {
		return "<none>"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "phase=%s step=%d weight=%d msg=%q stable=%v canary=%v traffic=%v\n", st.Phase, st.Step, st.Weight, st.Message, st.Stable, st.Canary, st.Traffic)
	for _, r := range st.Revisions {
		fmt.Fprintf(&b, "  rev %d: desired=%d running=%d ready=%d err=%q\n", r.Revision, r.Desired, r.Running, r.Ready, r.Error)
	}
	for _, e := range st.Events {
		fmt.Fprintf(&b, "  event %s: %s\n", e.Reason, e.Message)
	}
	return b.String()
}

// freeAddr returns a loopback address nobody listens on.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// processSpec is a spec whose replicas are the test server.
func processSpec(t testing.TB, app string, replicas int, envs string) string {
	return fmt.Sprintf(`app: %s
runtime:
  kind: process
  command: [%q]
replicas: %d
healthCheck: {path: /healthz, interval: 200ms, timeout: 1s}
environments:
%s`, app, testServer(t), replicas, envs)
}

// client is a keep-alive client for load and probes.
func newClient() *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
}

// get returns the status and body of one GET.
func get(c *http.Client, url string, header ...string) (int, string, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// versionOf reads the version a test replica or the example answered
// with.
func versionOf(body string) string {
	if v, ok := strings.CutPrefix(body, "version="); ok {
		v, _, _ = strings.Cut(v, " ")
		return v
	}
	if _, v, ok := strings.Cut(body, `"GANTRY_VERSION":"`); ok {
		v, _, _ = strings.Cut(v, `"`)
		return v
	}
	return ""
}

// load sends a steady stream of requests from a few workers and counts
// the outcomes, the way a user's traffic would see a rollout.
type load struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup

	ok       atomic.Int64
	mu       sync.Mutex
	failures []string
	versions map[string]int
}

func startLoad(t *testing.T, url string, workers int) *load {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	l := &load{cancel: cancel, versions: map[string]int{}}
	c := newClient()
	for range workers {
		l.wg.Go(func() {
			for ctx.Err() == nil {
				code, body, err := get(c, url)
				l.mu.Lock()
				switch {
				case err != nil:
					l.failures = append(l.failures, err.Error())
				case code != http.StatusOK:
					l.failures = append(l.failures, fmt.Sprintf("status %d: %s", code, strings.TrimSpace(body)))
				default:
					l.ok.Add(1)
					l.versions[versionOf(body)]++
				}
				l.mu.Unlock()
				time.Sleep(2 * time.Millisecond) // bounded: a steady trickle, not a flood
			}
		})
	}
	t.Cleanup(l.stop)
	return l
}

func (l *load) stop() {
	l.cancel()
	l.wg.Wait()
}

// check stops the load and fails the test on any failed request.
func (l *load) check(t *testing.T) {
	t.Helper()
	l.stop()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ok.Load() < 10 {
		t.Errorf("only %d requests succeeded: the load did not run", l.ok.Load())
	}
	if n := len(l.failures); n > 0 {
		t.Errorf("%d of %d requests failed during the rollout; first: %s", n, int64(n)+l.ok.Load(), l.failures[0])
	}
}

// sample sends n requests and counts the versions that answered.
func sample(t *testing.T, url string, n, workers int, header ...string) map[string]int {
	t.Helper()
	c := newClient()
	var mu sync.Mutex
	counts := map[string]int{}
	var next atomic.Int64
	var wg sync.WaitGroup
	var firstErr error
	for range workers {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				code, body, err := get(c, url, header...)
				mu.Lock()
				if err == nil && code != http.StatusOK {
					err = fmt.Errorf("status %d: %s", code, body)
				}
				if err != nil && firstErr == nil {
					firstErr = err
				}
				counts[versionOf(body)]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		t.Fatalf("sample %s: %v", url, firstErr)
	}
	return counts
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }

// metric reads a counter with labels env and app from the harness's
// registry, 0 when it has no such series.
func (h *harness) metric(name, env, app string) float64 {
	h.t.Helper()
	fams, err := h.reg.Gather()
	if err != nil {
		h.t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["env"] == env && labels["app"] == app {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}
