package analysis

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func jobMetric(t *testing.T, job map[string]any) *Metric {
	t.Helper()
	raw := map[string]any{"templates": map[string]any{"t": map[string]any{"metrics": []any{
		map[string]any{"name": "check", "provider": map[string]any{"job": job}},
	}}}}
	ts, err := ParseTemplates(raw)
	if err != nil {
		t.Fatal(err)
	}
	return ts["t"].Metrics[0]
}

func TestJobProvider(t *testing.T) {
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("the job tests run /bin/sh, which is missing")
	}
	ctx := context.Background()
	args := Args{App: "shop", Canary: "r2", CanaryURL: "127.0.0.1:1234"}

	t.Run("exit 0 is 1 and succeeds by default", func(t *testing.T) {
		m := jobMetric(t, map[string]any{"command": []any{"sh", "-c", `echo "checking $GANTRY_CANARY at $TARGET"`}, "env": map[string]any{"TARGET": "{{canaryUrl}}"}})
		ms, err := Job{}.Measure(ctx, m, args)
		if err != nil || ms.Value != 1 {
			t.Fatalf("got %+v, %v", ms, err)
		}
		if ms.Raw != "checking r2 at 127.0.0.1:1234" {
			t.Errorf("output %q", ms.Raw)
		}
		if rec := m.Evaluate(time.Now(), ms, nil); rec.Phase != PhaseSuccessful {
			t.Errorf("judged %s (%s)", rec.Phase, rec.Message)
		}
	})
	t.Run("non-zero exit is 0 and fails by default", func(t *testing.T) {
		m := jobMetric(t, map[string]any{"command": []any{"sh", "-c", "echo broken {{app}} >&2; exit 3"}})
		ms, err := Job{}.Measure(ctx, m, args)
		if err != nil || ms.Value != 0 {
			t.Fatalf("got %+v, %v", ms, err)
		}
		if !strings.Contains(ms.Raw, "exit status 3") || !strings.Contains(ms.Raw, "broken shop") {
			t.Errorf("output %q should keep the status and stderr", ms.Raw)
		}
		if rec := m.Evaluate(time.Now(), ms, nil); rec.Phase != PhaseFailed {
			t.Errorf("judged %s (%s)", rec.Phase, rec.Message)
		}
	})
	t.Run("output is truncated to its end", func(t *testing.T) {
		m := jobMetric(t, map[string]any{"command": []any{"sh", "-c", "i=0; while [ $i -lt 2000 ]; do echo line $i; i=$((i+1)); done"}})
		ms, err := Job{}.Measure(ctx, m, args)
		if err != nil {
			t.Fatal(err)
		}
		if len(ms.Raw) > maxJobOutput+8 || !strings.HasSuffix(ms.Raw, "line 1999") || !strings.HasPrefix(ms.Raw, "…") {
			t.Errorf("raw is %d bytes, ends %q", len(ms.Raw), ms.Raw[max(0, len(ms.Raw)-20):])
		}
	})
	t.Run("timeout kills the process group and is an error", func(t *testing.T) {
		pidFile := filepath.Join(t.TempDir(), "child.pid")
		// The child sleeps in the background and would outlive a kill of sh alone.
		m := jobMetric(t, map[string]any{"command": []any{"sh", "-c", "sleep 30 & echo $! > " + pidFile + "; wait"}, "timeout": "300ms"})
		start := time.Now()
		ms, err := Job{}.Measure(ctx, m, args)
		if err == nil || !strings.Contains(err.Error(), "timed out after 300ms") {
			t.Fatalf("got %+v, %v; want a timeout error", ms, err)
		}
		if took := time.Since(start); took > 20*time.Second {
			t.Errorf("the job took %s to give up", took)
		}
		data, rerr := os.ReadFile(pidFile)
		if rerr != nil {
			t.Fatal(rerr)
		}
		pid, perr := strconv.Atoi(strings.TrimSpace(string(data)))
		if perr != nil {
			t.Fatal(perr)
		}
		deadline := time.Now().Add(10 * time.Second)
		for alive(pid) {
			if time.Now().After(deadline) {
				t.Fatalf("the job's child %d is still alive", pid)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if rec := m.Evaluate(time.Now(), ms, err); rec.Phase != PhaseError {
			t.Errorf("a timed out job is an error, judged %s", rec.Phase)
		}
	})
	t.Run("a missing program is an error", func(t *testing.T) {
		m := jobMetric(t, map[string]any{"command": []any{"/nonexistent/check"}})
		if _, err := (Job{}).Measure(ctx, m, args); err == nil || !strings.Contains(err.Error(), "run job") {
			t.Errorf("want a start error, got %v", err)
		}
	})
}

// alive reports whether pid runs; a zombie left for an init that does not
// reap counts as dead, since it was killed.
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return true
	}
	if i := strings.LastIndexByte(string(stat), ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2] != 'Z'
	}
	return true
}
