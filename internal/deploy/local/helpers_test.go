package local

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Built once per test binary: compiling a Go program (and a Go wasm
// module with wazero) takes seconds.
var (
	testDir string

	serverOnce sync.Once
	serverBin  string
	serverErr  error

	wasmOnce sync.Once
	wasmFile string
	wasmRT   *Runtime
	wasmErr  error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gantry-local-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testDir = dir
	code := m.Run()
	if wasmRT != nil {
		_ = wasmRT.Close(context.Background())
	}
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// goBuild runs go build with extra environment.
func goBuild(out, pkg string, env ...string) error {
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Env = append(os.Environ(), env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
	}
	return nil
}

// goRun runs a helper program, built with flag and without the race
// detector.
func goRun(pkg, flag string, args ...string) error {
	cmd := exec.Command("go", append([]string{"run", flag, pkg}, args...)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go run %s: %v\n%s", pkg, err, b)
	}
	return nil
}

// wazeroCacheVersion is the version wazero finds for itself in this
// binary, which names and stamps its cache entries. A test binary has no
// module versions in its build information, so it is usually "dev"; the
// precompile helper is built to say the same, or its entries would not be
// used. The lookup mirrors wazero's internal/version.
func wazeroCacheVersion() string {
	v := ""
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if strings.Contains(dep.Path, "github.com/tetratelabs/wazero") {
				v = dep.Version
			}
		}
		if v == "" || v == "(devel)" {
			v = info.Main.Version
		}
	}
	if v == "" || v == "(devel)" {
		return "dev"
	}
	return v
}

// testServer returns the path of the process replica used by the tests.
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

// exampleWasm builds examples/wasm-service for wasip1 and returns it with
// a runtime that holds it compiled, so tests do not compile it again.
func exampleWasm(t testing.TB) (string, *Runtime) {
	t.Helper()
	wasmOnce.Do(func() {
		wasmFile = filepath.Join(testDir, "service.wasm")
		if wasmErr = goBuild(wasmFile, "../../../examples/wasm-service", "GOOS=wasip1", "GOARCH=wasm"); wasmErr != nil {
			return
		}
		cacheDir := filepath.Join(testDir, "wasm-cache")
		stamp := "-ldflags=-X github.com/tetratelabs/wazero/internal/version.version=" + wazeroCacheVersion()
		if wasmErr = goRun("./testdata/precompile", stamp, cacheDir, wasmFile); wasmErr != nil {
			return
		}
		ctx := context.Background()
		if wasmRT, wasmErr = NewRuntime(ctx, RuntimeOptions{CacheDir: cacheDir}); wasmErr != nil {
			return
		}
		_, wasmErr = wasmRT.acquire(ctx, wasmFile) // pinned for the whole run
	})
	if wasmErr != nil {
		t.Fatal(wasmErr)
	}
	return wasmFile, wasmRT
}

// trapModule writes a wasm module whose _start executes `unreachable`.
func trapModule(t testing.TB) string {
	t.Helper()
	code := []byte{
		0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version 1
		0x01, 0x04, 0x01, 0x60, 0x00, 0x00, // type section: func () -> ()
		0x03, 0x02, 0x01, 0x00, // function section: one func of type 0
		0x07, 0x0a, 0x01, 0x06, '_', 's', 't', 'a', 'r', 't', 0x00, 0x00, // export "_start"
		0x0a, 0x05, 0x01, 0x03, 0x00, 0x00, 0x0b, // code: unreachable; end
	}
	path := filepath.Join(t.TempDir(), "trap.wasm")
	if err := os.WriteFile(path, code, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// newSet creates a Set closed at the end of the test.
func newSet(t testing.TB, spec ReplicaSpec, opts Options) *Set {
	t.Helper()
	s, err := NewSet(spec, opts)
	if err != nil {
		t.Fatalf("NewSet: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// scaleReady scales s to n and waits until n replicas are ready.
func scaleReady(t testing.TB, s *Set, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := s.Scale(ctx, n); err != nil {
		t.Fatalf("Scale(%d): %v", n, err)
	}
	if err := s.WaitReady(ctx, n); err != nil {
		t.Fatalf("%v; status %+v", err, s.Status())
	}
}

// waitFor polls cond until it holds or a generous deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// fetch does one request and returns status, body and header.
func fetch(t testing.TB, method, url string, body io.Reader, header http.Header) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s %s: %v", method, url, err)
	}
	return resp.StatusCode, string(b), resp.Header
}

// processGone reports whether pid has exited (a zombie counts: it holds
// nothing but its pid until its parent reaps it).
func processGone(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] == 'Z' || s[i+2] == 'X'
}

// pids returns the PIDs of the replicas in s.
func pids(s *Set) []int {
	var out []int
	for _, st := range s.Status() {
		out = append(out, st.PID)
	}
	return out
}
