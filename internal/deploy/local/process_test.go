package local

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func processSpec(bin string, env ...string) ReplicaSpec {
	return ReplicaSpec{
		App: "api", Env: "test", Revision: 3, Version: "v3",
		Kind: KindProcess, Command: []string{bin}, Environ: env,
		Health: HealthCheck{Path: "/healthz", Interval: 100 * time.Millisecond, Timeout: 5 * time.Second, FailureThreshold: 2},
	}
}

func TestProcessReplicasScaleUpAndDownWithDrain(t *testing.T) {
	bin := testServer(t)
	logDir := t.TempDir()
	var mu sync.Mutex
	drained := map[string]string{} // endpoint -> what it answered while draining
	s := newSet(t, processSpec(bin), Options{
		LogDir: logDir,
		Drain: func(ctx context.Context, endpoint string) error {
			_, body, _ := fetch(t, "GET", "http://"+endpoint+"/", nil, nil)
			mu.Lock()
			drained[endpoint] = body
			mu.Unlock()
			return nil
		},
	})

	scaleReady(t, s, 3)
	eps := s.Endpoints()
	if len(eps) != 3 || len(slices.Compact(slices.Sorted(slices.Values(eps)))) != 3 {
		t.Fatalf("Endpoints = %v, want 3 distinct", eps)
	}
	for _, ep := range eps {
		if code, body, _ := fetch(t, "GET", "http://"+ep+"/", nil, nil); code != 200 || !strings.Contains(body, "version=v3") {
			t.Errorf("GET %s = %d %q, want GANTRY_VERSION v3", ep, code, body)
		}
	}
	select {
	case <-s.Changes():
	default:
		t.Error("Changes was not signalled after replicas became ready")
	}
	before := pids(s)

	if err := s.Scale(context.Background(), 1); err != nil {
		t.Fatalf("Scale(1): %v", err)
	}
	left := s.Endpoints()
	if len(left) != 1 || len(s.Status()) != 1 {
		t.Fatalf("after Scale(1): endpoints %v, status %+v", left, s.Status())
	}
	if len(drained) != 2 {
		t.Fatalf("drained %v, want the 2 stopped replicas", drained)
	}
	for ep, body := range drained {
		if ep == left[0] || !strings.Contains(body, "version=v3") {
			t.Errorf("drain of %s: replica answered %q (want it still serving) or is the one kept", ep, body)
		}
	}
	kept := pids(s)[0]
	for _, pid := range before {
		if pid != kept && !processGone(pid) {
			t.Errorf("stopped replica pid %d still runs", pid)
		}
	}

	if err := s.Scale(context.Background(), 0); err != nil {
		t.Fatalf("Scale(0): %v", err)
	}
	if len(s.Endpoints()) != 0 || len(s.Status()) != 0 || len(drained) != 3 || !processGone(kept) {
		t.Errorf("after Scale(0): endpoints %v, status %v, drained %d, last pid gone %v", s.Endpoints(), s.Status(), len(drained), processGone(kept))
	}

	logs, _ := filepath.Glob(filepath.Join(logDir, "api-test-r3-*.log"))
	if len(logs) != 3 {
		t.Fatalf("log files %v, want one per replica", logs)
	}
	b, _ := os.ReadFile(logs[0])
	for _, want := range []string{`gantry: replica \d+: started on 127\.0\.0\.1:\d+ \(pid \d+\)`, `(?m)^listening on 127\.0\.0\.1:\d+$`, `(?m)^terminating$`} {
		if !regexp.MustCompile(want).Match(b) {
			t.Errorf("replica log lacks %s:\n%s", want, b)
		}
	}
}

func TestProcessReplicaRestartsAfterKill9(t *testing.T) {
	bin := testServer(t)
	var restarts atomic.Int64
	spec := processSpec(bin)
	spec.Revision = 7
	s := newSet(t, spec, Options{
		BackoffBase: 50 * time.Millisecond,
		OnRestart: func(rev int) {
			if rev == 7 {
				restarts.Add(1)
			}
		},
	})
	scaleReady(t, s, 1)
	old := s.Status()[0]
	if err := syscall.Kill(old.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a new ready process", func() bool {
		st := s.Status()[0]
		return st.Ready && st.Restarts == 1 && st.PID != old.PID
	})
	st := s.Status()[0]
	if !strings.Contains(st.LastError, "signal: killed") || restarts.Load() != 1 {
		t.Errorf("status %+v, OnRestart calls %d; want the kill reported once", st, restarts.Load())
	}
	if code, _, _ := fetch(t, "GET", "http://"+s.Endpoints()[0]+"/", nil, nil); code != 200 {
		t.Errorf("restarted replica answers %d", code)
	}
}

func TestProcessReplicaRestartsAfterFailedHealthChecks(t *testing.T) {
	s := newSet(t, processSpec(testServer(t)), Options{BackoffBase: 50 * time.Millisecond})
	scaleReady(t, s, 1)
	old := s.Status()[0]
	fetch(t, "POST", "http://"+old.Endpoint+"/sick", nil, nil)
	waitFor(t, "the sick replica to be replaced", func() bool {
		st := s.Status()[0]
		return st.Ready && st.Restarts == 1
	})
	st := s.Status()[0]
	if st.PID == old.PID || !processGone(old.PID) || !strings.Contains(st.LastError, "2 health checks failed in a row") {
		t.Errorf("status %+v (old pid %d gone %v)", st, old.PID, processGone(old.PID))
	}
}

func TestProcessCrashLoopIsNeverReady(t *testing.T) {
	s := newSet(t, processSpec(testServer(t), "EXIT_CODE=3"), Options{BackoffBase: 20 * time.Millisecond, BackoffMax: 100 * time.Millisecond})
	if err := s.Scale(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "three restarts", func() bool { return s.Status()[0].Restarts >= 3 })
	st := s.Status()[0]
	if st.Ready || len(s.Endpoints()) != 0 || !strings.Contains(st.LastError, "exit status 3") {
		t.Errorf("crash-looping replica: %+v, endpoints %v", st, s.Endpoints())
	}
}

func TestCloseKillsWholeProcessGroupEvenIfSIGTERMIsIgnored(t *testing.T) {
	s, err := NewSet(processSpec(testServer(t), "SPAWN_CHILD=1", "IGNORE_TERM=1"), Options{StopGrace: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	scaleReady(t, s, 2)
	var all []int
	for _, ep := range s.Endpoints() {
		_, body, _ := fetch(t, "GET", "http://"+ep+"/", nil, nil)
		m := regexp.MustCompile(`pid=(\d+) child=(\d+)`).FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("GET / = %q", body)
		}
		for _, p := range m[1:] {
			pid, _ := strconv.Atoi(p)
			all = append(all, pid)
		}
	}
	for _, pid := range all {
		if processGone(pid) {
			t.Fatalf("pid %d gone before Close", pid)
		}
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, pid := range all {
		pid := pid
		waitFor(t, "pid "+strconv.Itoa(pid)+" to die", func() bool { return processGone(pid) })
	}
	for range s.Changes() {
		// a pending signal, then the close ends the loop
	}
	if err := s.Scale(context.Background(), 1); err == nil {
		t.Error("Scale after Close succeeded")
	}
}

func TestDrainErrorIsReportedAndReplicaStillStops(t *testing.T) {
	s := newSet(t, processSpec(testServer(t)), Options{
		Drain: func(ctx context.Context, endpoint string) error { return errors.New("proxy unreachable") },
	})
	scaleReady(t, s, 1)
	pid := s.Status()[0].PID
	err := s.Scale(context.Background(), 0)
	if err == nil || !strings.Contains(err.Error(), "proxy unreachable") {
		t.Errorf("Scale(0) = %v, want the drain error", err)
	}
	if len(s.Status()) != 0 || !processGone(pid) {
		t.Errorf("replica not stopped after a failed drain: %+v", s.Status())
	}
}
