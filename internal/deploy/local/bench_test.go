package local

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// benchGet measures GET / against the single ready replica of s over one
// keep-alive connection.
func benchGet(b *testing.B, s *Set) {
	b.Helper()
	url := "http://" + s.Endpoints()[0] + "/"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	defer client.CloseIdleConnections()
	b.ResetTimer()
	for b.Loop() {
		resp, err := client.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("GET / = %d", resp.StatusCode)
		}
	}
}

// BenchmarkWagiRequest is one warm WAGI request: a fresh instance of the
// compiled example module per request.
func BenchmarkWagiRequest(b *testing.B) {
	module, rt := exampleWasm(b)
	s := newSet(b, wasmSpec(module, WasmModeWAGI), Options{Runtime: rt})
	scaleReady(b, s, 1)
	benchGet(b, s)
}

// BenchmarkListenerRequest is one request to a long-running instance.
func BenchmarkListenerRequest(b *testing.B) {
	module, rt := exampleWasm(b)
	s := newSet(b, wasmSpec(module, WasmModeListener), Options{Runtime: rt})
	scaleReady(b, s, 1)
	benchGet(b, s)
}

// BenchmarkProcessRequest is the native baseline: the same kind of Go
// HTTP server run as a process replica.
func BenchmarkProcessRequest(b *testing.B) {
	s := newSet(b, processSpec(testServer(b)), Options{})
	scaleReady(b, s, 1)
	benchGet(b, s)
}

// coldStart deploys the example on a fresh runtime and serves its first
// request: what a new revision costs before it can take traffic.
func coldStart(b *testing.B, cacheDir string) {
	module, _ := exampleWasm(b)
	spec := wasmSpec(module, WasmModeWAGI)
	spec.Health = HealthCheck{Interval: 10 * time.Millisecond, Timeout: 5 * time.Second}
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		rt, err := NewRuntime(ctx, RuntimeOptions{CacheDir: cacheDir})
		if err != nil {
			b.Fatal(err)
		}
		s, err := NewSet(spec, Options{Runtime: rt})
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Scale(ctx, 1); err != nil {
			b.Fatal(err)
		}
		if err := s.WaitReady(ctx, 1); err != nil {
			b.Fatal(err)
		}
		resp, err := http.Get("http://" + s.Endpoints()[0] + "/")
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		_ = s.Close(ctx)
		_ = rt.Close(ctx)
	}
}

// BenchmarkWasmColdStart compiles the module and serves the first request.
func BenchmarkWasmColdStart(b *testing.B) { coldStart(b, "") }

// BenchmarkWasmColdStartDiskCache is the same after a Gantry restart
// with RuntimeOptions.CacheDir: machine code is loaded, not compiled.
func BenchmarkWasmColdStartDiskCache(b *testing.B) {
	coldStart(b, filepath.Join(testDir, "wasm-cache"))
}

// BenchmarkListenerIdleCPU reports the CPU an idle listener instance
// burns (cpu-ms per second of wall time); each op is one idle second.
// With wazero's own poll_oneoff this is a whole core.
func BenchmarkListenerIdleCPU(b *testing.B) {
	module, rt := exampleWasm(b)
	spec := wasmSpec(module, WasmModeListener)
	spec.Health.Interval = time.Hour // no probes during the measurement
	s := newSet(b, spec, Options{Runtime: rt})
	scaleReady(b, s, 1)
	time.Sleep(100 * time.Millisecond)
	b.ResetTimer()
	start, used := time.Now(), cpuTime()
	for b.Loop() {
		time.Sleep(time.Second)
	}
	wall := time.Since(start)
	b.ReportMetric(float64((cpuTime()-used).Milliseconds())/wall.Seconds(), "cpu-ms/s")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
