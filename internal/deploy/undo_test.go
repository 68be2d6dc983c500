package deploy_test

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/gantry-ci/gantry/internal/deploy"
)

// Undo without a warm revision rolls the previous one forward as a new
// revision; --to-revision picks any kept one.
func TestUndoRollsOldRevisionForward(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	k := h.key("api", "staging")
	spec := processSpec(t, "api", 1, fmt.Sprintf("  staging: {listen: %q}\n", freeAddr(t)))
	for i, v := range []string{"v1", "v2", "v3"} {
		h.deploy(spec, "staging", v, nil)
		h.waitHealthy(k, int64(i+1))
	}
	st, err := h.c.Undo(context.Background(), k, 0, "tester")
	if err != nil {
		t.Fatal(err)
	}
	st = h.waitHealthy(k, 4)
	if st.Stable.Version != "v2" {
		t.Errorf("undo rolled out %q, want v2 (the previous stable)", st.Stable.Version)
	}
	if got := sample(t, st.URL, 10, 1); got["v2"] != 10 {
		t.Errorf("after undo answers were %v, want v2", got)
	}
	if _, err := h.c.Undo(context.Background(), k, 1, "tester"); err != nil {
		t.Fatal(err)
	}
	if st = h.waitHealthy(k, 5); st.Stable.Version != "v1" {
		t.Errorf("undo --to-revision 1 rolled out %q, want v1", st.Stable.Version)
	}
	hist, err := h.c.History(context.Background(), k)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, r := range hist {
		lines = append(lines, fmt.Sprintf("%d %s %s %d", r.Revision, r.Version, r.Phase, r.RollbackOf))
	}
	want := []string{"1 v1 Superseded 0", "2 v2 Superseded 0", "3 v3 Superseded 0", "4 v2 Superseded 2", "5 v1 Healthy 1"}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("history:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	if _, err := h.c.Undo(context.Background(), k, 42, "tester"); !errors.Is(err, deploy.ErrNotFound) {
		t.Errorf("undo to an unknown revision: err = %v, want ErrNotFound", err)
	}
	if _, err := h.c.Undo(context.Background(), k, 5, "tester"); !errors.Is(err, deploy.ErrConflict) {
		t.Errorf("undo to the stable revision: err = %v, want ErrConflict", err)
	}
}

// After a canary completes, the replaced revision stays warm: undo puts
// all traffic back on it at once, without a new revision.
func TestUndoAfterCanaryIsInstant(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	k := h.key("api", "production")
	spec := processSpec(t, "api", 2, fmt.Sprintf(`  production:
    listen: %s
    strategy: {canary: {steps: [{setWeight: 50}]}}
`, freeAddr(t)))
	h.deploy(spec, "production", "v1", nil)
	st := h.waitHealthy(k, 1)
	l := startLoad(t, st.URL, 2)
	h.deploy(spec, "production", "v2", nil)
	st = h.waitHealthy(k, 2)
	eventTime(t, st, deploy.ReasonKeptWarm) // says the old revision stays warm
	st, err := h.c.Undo(context.Background(), k, 0, "tester")
	if err != nil {
		t.Fatal(err)
	}
	if st.Stable.Revision != 1 {
		t.Fatalf("undo: %s", describe(st))
	}
	if got := sample(t, st.URL, 40, 2); got["v1"] != 40 {
		t.Errorf("right after undo answers were %v, want only v1", got)
	}
	l.check(t)
	if hist, _ := h.c.History(context.Background(), k); len(hist) != 2 || hist[1].Phase != "Superseded" {
		t.Errorf("history after instant undo: %+v", hist)
	}
	if n := h.metric("rollbacks_total", "production", "api"); n != 1 {
		t.Errorf("rollbacks_total = %v, want 1", n)
	}
}

// A replica killed mid-rollout is restarted and counted; the rollout
// goes on.
func TestKilledReplicaIsRestarted(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	k := h.key("api", "production")
	spec := canarySpec(t, "api", freeAddr(t))
	h.deploy(spec, "production", "v1", nil)
	h.waitHealthy(k, 1)
	h.deploy(spec, "production", "v2", nil)
	st := h.waitStatus(k, "paused at 20%", func(s *deploy.Status) bool { return s.Phase == "Paused" && s.Weight == 20 })
	var pid int
	for _, r := range st.Revisions {
		if r.Revision == 2 && len(r.Replicas) > 0 {
			pid = r.Replicas[0].PID
		}
	}
	if pid == 0 {
		t.Fatalf("no canary replica pid in %s", describe(st))
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	h.waitStatus(k, "canary replica restarted and ready", func(s *deploy.Status) bool {
		for _, r := range s.Revisions {
			if r.Revision == 2 && r.Ready == 1 && len(r.Replicas) == 1 && r.Replicas[0].Restarts >= 1 && r.Replicas[0].PID != pid {
				return true
			}
		}
		return false
	})
	if n := h.metric("replica_restarts_total", "production", "api"); n < 1 {
		t.Errorf("replica_restarts_total = %v, want at least 1", n)
	}
	if _, err := h.c.Promote(context.Background(), k, true, "tester"); err != nil {
		t.Fatal(err)
	}
	h.waitHealthy(k, 2)
}

// revisionHistoryLimit keeps that many old revisions, and artifacts no
// kept revision uses are deleted.
func TestRevisionHistoryLimitPrunesArtifacts(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	k := h.key("api", "staging")
	spec := fmt.Sprintf(`app: api
runtime: {kind: process, command: [./server]}
revisionHistoryLimit: 2
healthCheck: {path: /healthz, interval: 200ms}
environments:
  staging: {listen: %q}
`, freeAddr(t))
	bin, err := os.ReadFile(testServer(t))
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 5; i++ {
		v := fmt.Sprintf("v%d", i)
		_, err := h.c.Deploy(context.Background(), deploy.DeployRequest{
			Project: h.project, SpecYAML: []byte(spec), Env: "staging", Version: v,
			Artifact: tarball(t, map[string][]byte{"server": bin, "RELEASE": []byte(v)}),
		})
		if err != nil {
			t.Fatal(err)
		}
		h.waitHealthy(k, int64(i))
	}
	hist, _ := h.c.History(context.Background(), k)
	if len(hist) != 3 || hist[0].Revision != 3 || hist[2].Revision != 5 {
		t.Errorf("history keeps %+v, want revisions 3, 4, 5", hist)
	}
	dirs, _ := filepath.Glob(filepath.Join(h.dir, "data", "artifacts", "[0-9a-f]*"))
	if len(dirs) != 3 {
		t.Errorf("%d artifact directories kept, want 3 (one per kept revision)", len(dirs))
	}
	if _, err := h.c.Undo(context.Background(), k, 1, "tester"); !errors.Is(err, deploy.ErrNotFound) {
		t.Errorf("undo to a pruned revision: err = %v, want ErrNotFound", err)
	}
}

// tarball returns an uncompressed tar of files, executable.
func tarball(t *testing.T, files map[string][]byte) *os.File {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "artifact-*.tar")
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(f)
	for name, data := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Seek(0, 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}
