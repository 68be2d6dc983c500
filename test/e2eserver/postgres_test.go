package e2eserver

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/internal/store/pgtest"
	"github.com/gantry-ci/gantry/test/gantrytest"
)

// Two servers on one PostgreSQL database and one shared data folder run
// every job exactly once, whichever server a pipeline was created on.
func TestTwoServersOnPostgreSQLRunEachJobOnce(t *testing.T) {
	dsn := pgtest.Start(t)
	a := startServer(t, "--db", dsn, "--runners", "1")
	b := &server{&gantrytest.Server{T: t, Bin: gantryBin, Data: a.Data, Args: a.Args}}
	b.Start()
	t.Cleanup(func() { b.Stop(syscall.SIGTERM) })

	r := newRepo(t, map[string]string{".gitlab-ci.yml": twoStages})
	a.addProject("app", r.dir)
	var ids []int64
	for i := range 6 {
		s := a
		if i%2 == 1 {
			s = b
		}
		var p pipelineJSON
		if code := s.api("POST", "/api/v1/projects/app/pipelines", map[string]any{"ref": "main"}, &p); code != 201 {
			t.Fatalf("run pipeline on server %d: %d", i%2, code)
		}
		ids = append(ids, p.ID)
	}
	runners := map[int64]bool{}
	for _, id := range ids {
		p := b.waitPipeline(id, 120*time.Second, "success", "failed")
		if p.Status != "success" || len(p.Jobs) != 2 {
			t.Fatalf("pipeline %d: %s %+v", id, p.Status, p.Jobs)
		}
		for _, j := range p.Jobs {
			if j.Attempt != 1 || j.Retried {
				t.Errorf("pipeline %d job %s ran more than once: %+v", id, j.Name, j)
			}
			runners[j.RunnerID] = true
		}
	}
	t.Logf("jobs ran on runners %v", fmt.Sprint(runners))
	if got := a.listPipelines("app"); len(got) != 6 {
		t.Fatalf("server a lists %d pipelines", len(got))
	}
}
