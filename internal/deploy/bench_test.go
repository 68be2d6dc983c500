package deploy_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/internal/deploy"
)

// BenchmarkUndoWarm is undo while the replaced revision is still warm:
// from the call to the proxy sending every request to the old revision
// (Undo returns once the routes are swapped), decision persisted first.
// Each iteration undoes the previous undo, so the two revisions swap.
func BenchmarkUndoWarm(b *testing.B) {
	h := &harness{t: b, dir: b.TempDir(), project: "demo"}
	h.start()
	k := h.key("api", "production")
	spec := processSpec(b, "api", 1, fmt.Sprintf("  production:\n    listen: %s\n    strategy: {canary: {steps: [{setWeight: 50}]}}\n", freeAddr(b)))
	ctx := context.Background()
	for _, v := range []string{"v1", "v2"} {
		if _, err := h.c.Deploy(ctx, deploy.DeployRequest{Project: h.project, SpecYAML: []byte(spec), Env: "production", Version: v}); err != nil {
			b.Fatal(err)
		}
		waitBench(b, h, k, func(s *deploy.Status) bool { return s.Phase == "Healthy" && s.Stable.Version == v })
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := h.c.Undo(ctx, k, 0, "bench"); err != nil {
			b.Fatal(err)
		}
	}
}

func waitBench(b *testing.B, h *harness, k deploy.Key, ok func(*deploy.Status) bool) {
	b.Helper()
	for range 3000 {
		if st, err := h.c.Status(context.Background(), k); err == nil && ok(st) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	st, _ := h.c.Status(context.Background(), k)
	b.Fatalf("rollout never got there: %s", describe(st))
}
