package local

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func wasmSpec(module, mode string, env ...string) ReplicaSpec {
	return ReplicaSpec{
		App: "wasm-service", Env: "staging", Revision: 1, Version: "v1.2.0",
		Kind: KindWasm, Module: module, WasmMode: mode, Environ: env,
		Health: HealthCheck{Path: "/healthz", Interval: 200 * time.Millisecond, Timeout: 10 * time.Second},
	}
}

// checkExample exercises the example service behind endpoint the way a
// client would.
func checkExample(t *testing.T, endpoint string) {
	t.Helper()
	base := "http://" + endpoint
	code, body, hdr := fetch(t, "GET", base+"/", nil, nil)
	var root map[string]string
	if err := json.Unmarshal([]byte(body), &root); err != nil || code != 200 {
		t.Fatalf("GET / = %d %q (%v)", code, body, err)
	}
	if root["GANTRY_VERSION"] != "v1.2.0" || hdr.Get("Content-Type") != "application/json" {
		t.Errorf("GET / = %q with Content-Type %q, want GANTRY_VERSION v1.2.0 as JSON", body, hdr.Get("Content-Type"))
	}

	code, body, _ = fetch(t, "GET", base+"/api/users", nil, nil)
	var users []map[string]any
	if err := json.Unmarshal([]byte(body), &users); err != nil || code != 200 || len(users) != 3 {
		t.Errorf("GET /api/users = %d %q", code, body)
	}

	payload := strings.Repeat("wasm ♥ CGI\n", 20000) // ~260 KB
	code, body, hdr = fetch(t, "POST", base+"/echo?a=1&b=two", strings.NewReader(payload),
		http.Header{"Content-Type": {"text/plain; charset=utf-8"}, "X-Request-Id": {"req-42"}})
	if code != 200 || body != payload {
		t.Errorf("POST /echo = %d, %d bytes back of %d", code, len(body), len(payload))
	}
	for k, want := range map[string]string{
		"Content-Type": "text/plain; charset=utf-8", "X-Request-Id": "req-42",
		"X-Echo-Query": "a=1&b=two", "X-Gantry-Version": "v1.2.0",
	} {
		if got := hdr.Get(k); got != want {
			t.Errorf("POST /echo header %s = %q, want %q", k, got, want)
		}
	}

	// A body of unknown length (chunked) reaches the module whole too.
	pr, pw := io.Pipe()
	go func() {
		for range 3 {
			_, _ = pw.Write([]byte("chunk;"))
		}
		_ = pw.Close()
	}()
	if code, body, _ = fetch(t, "POST", base+"/echo", pr, nil); code != 200 || body != "chunk;chunk;chunk;" {
		t.Errorf("chunked POST /echo = %d %q", code, body)
	}

	if code, _, _ = fetch(t, "GET", base+"/no/such/page", nil, nil); code != 404 {
		t.Errorf("GET /no/such/page = %d, want 404", code)
	}
}

func TestWAGIServesExample(t *testing.T) {
	module, rt := exampleWasm(t)
	logDir := t.TempDir()
	s := newSet(t, wasmSpec(module, WasmModeWAGI), Options{Runtime: rt, LogDir: logDir})
	scaleReady(t, s, 2)
	for _, ep := range s.Endpoints() {
		checkExample(t, ep)
	}
	if st := s.Status(); st[0].PID != 0 || st[0].Restarts != 0 {
		t.Errorf("status %+v", st)
	}
}

func TestWAGIFailAndDelayFromEnvironment(t *testing.T) {
	module, rt := exampleWasm(t)
	failing := newSet(t, wasmSpec(module, WasmModeWAGI, "FAIL=1"), Options{Runtime: rt})
	scaleReady(t, failing, 1) // /healthz still passes
	ep := failing.Endpoints()[0]
	if code, body, _ := fetch(t, "GET", "http://"+ep+"/", nil, nil); code != 500 || !strings.Contains(body, "v1.2.0") {
		t.Errorf("FAIL=1: GET / = %d %q, want 500", code, body)
	}

	slow := newSet(t, wasmSpec(module, WasmModeWAGI, "DELAY_MS=5000"), Options{Runtime: rt, RequestTimeout: 300 * time.Millisecond})
	scaleReady(t, slow, 1)
	if code, body, _ := fetch(t, "GET", "http://"+slow.Endpoints()[0]+"/", nil, nil); code != http.StatusGatewayTimeout {
		t.Errorf("DELAY_MS past the request timeout: GET / = %d %q, want 504", code, body)
	}
}

func TestWAGITrappingModuleAnswers500(t *testing.T) {
	spec := wasmSpec(trapModule(t), WasmModeWAGI)
	spec.Health.Path = "" // a TCP connect: the module cannot answer anything
	logDir := t.TempDir()
	s := newSet(t, spec, Options{LogDir: logDir})
	scaleReady(t, s, 1)
	if code, _, _ := fetch(t, "GET", "http://"+s.Endpoints()[0]+"/", nil, nil); code != 500 {
		t.Errorf("trapping module: GET / = %d, want 500", code)
	}
	logs, _ := filepath.Glob(filepath.Join(logDir, "*.log"))
	if len(logs) != 1 {
		t.Fatalf("logs %v", logs)
	}
	if b, _ := os.ReadFile(logs[0]); !strings.Contains(string(b), "unreachable") {
		t.Errorf("replica log does not name the trap:\n%s", b)
	}
}

func TestListenerServesExampleAndFreesPort(t *testing.T) {
	module, rt := exampleWasm(t)
	s := newSet(t, wasmSpec(module, WasmModeListener), Options{Runtime: rt})
	scaleReady(t, s, 1)
	ep := s.Endpoints()[0]
	checkExample(t, ep)
	if err := s.Scale(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", ep)
	if err != nil {
		t.Fatalf("port of the stopped listener replica is still bound: %v", err)
	}
	ln.Close()
}

func TestListenerModuleThatExitsIsRestarted(t *testing.T) {
	spec := wasmSpec(trapModule(t), WasmModeListener)
	s := newSet(t, spec, Options{BackoffBase: 20 * time.Millisecond, BackoffMax: 100 * time.Millisecond})
	if err := s.Scale(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "two restarts", func() bool { return s.Status()[0].Restarts >= 2 })
	if st := s.Status()[0]; st.Ready || !strings.Contains(st.LastError, "unreachable") {
		t.Errorf("status %+v, want never ready and the trap as last error", st)
	}
}

func TestRuntimeCompilesEachModuleOnce(t *testing.T) {
	module, rt := exampleWasm(t)
	copyPath := filepath.Join(t.TempDir(), "copy.wasm")
	b, err := os.ReadFile(module)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(copyPath, b, 0o644); err != nil {
		t.Fatal(err)
	}
	before := rt.Compiled()
	a := newSet(t, wasmSpec(module, WasmModeWAGI), Options{Runtime: rt})
	c := newSet(t, wasmSpec(copyPath, WasmModeWAGI), Options{Runtime: rt})
	trap := newSet(t, wasmSpec(trapModule(t), WasmModeWAGI), Options{Runtime: rt})
	for _, s := range []*Set{a, c, trap} {
		if err := s.Scale(context.Background(), 1); err != nil {
			t.Fatal(err)
		}
	}
	if got := rt.Compiled(); got != before+1 {
		t.Errorf("Compiled = %d, want %d: the same bytes under two paths share one compiled module", got, before+1)
	}
	if err := trap.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := rt.Compiled(); got != before {
		t.Errorf("Compiled = %d after the only user of a module closed, want %d", got, before)
	}
}
