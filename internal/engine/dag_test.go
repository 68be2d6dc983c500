package engine

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/gantry-ci/gantry/internal/pipeline/gitlab"
	"github.com/gantry-ci/gantry/internal/plan"
)

// loadPlan compiles a .gitlab-ci.yml from testdata into a plan the simple
// way (every job on_success, as written): enough for files without rules.
func loadPlan(tb testing.TB, file string) *plan.Plan {
	tb.Helper()
	data, err := os.ReadFile("testdata/" + file)
	if err != nil {
		tb.Fatal(err)
	}
	pl, err := gitlab.Load(context.Background(), file, data, gitlab.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	used := map[string]bool{}
	p := &plan.Plan{Created: true}
	for _, d := range pl.Jobs {
		j := job(d.Name, d.Stage)
		j.Def = d
		if d.Needs != nil {
			j.Needs = []plan.Need{}
			for _, n := range d.Needs {
				j.Needs = append(j.Needs, plan.Need{Job: n.Job, Artifacts: n.Artifacts, Optional: n.Optional})
			}
		}
		used[d.Stage] = true
		p.Jobs = append(p.Jobs, j)
	}
	for _, s := range pl.Stages {
		if used[s] {
			p.Stages = append(p.Stages, s)
		}
	}
	return p
}

// The 50-job diamond DAG of the benchmarks runs with real processes, every
// job after all of its needs and none of them later than it must.
func TestBenchmarkDAG(t *testing.T) {
	p := loadPlan(t, "dag.gitlab-ci.yml")
	if len(p.Jobs) != 50 {
		t.Fatalf("%d jobs", len(p.Jobs))
	}
	sum, rec := run(t, p, Options{Concurrency: 4})
	if sum.Status != StatusSuccess {
		t.Fatalf("pipeline %s", sum.Status)
	}
	for _, j := range p.Jobs {
		start := rec.index(TypeJobStarted, j.Name)
		for _, n := range j.Needs {
			if done := rec.index(TypeJobFinished, n.Job); done > start {
				t.Errorf("%s started before its need %s finished", j.Name, n.Job)
			}
		}
		if got := strings.TrimSpace(rec.log(j.Name)); got != j.Name {
			t.Errorf("%s printed %q", j.Name, got)
		}
	}
	// The first fan-out jobs may start as soon as root is done, long
	// before the last join: no batching into levels.
	if rec.index(TypeJobStarted, "d1-f0") > rec.index(TypeJobFinished, "d1-join") {
		t.Errorf("scheduling waited for a whole level")
	}
}

// A job must be released by its own needs, not by a wave of the graph:
// with one slow branch, the fast branch's second job runs before the slow
// job ends.
func TestNoLevels(t *testing.T) {
	p := newPlan([]string{"dag"},
		needs(job("slow", "dag", "sleep 1.5")),
		needs(job("fast-1", "dag", "true")),
		needs(job("fast-2", "dag", "true"), "fast-1"),
		needs(job("fast-3", "dag", "true"), "fast-2"),
		needs(job("join", "dag", "true"), "slow", "fast-3"),
	)
	_, rec := run(t, p, Options{})
	if rec.index(TypeJobFinished, "fast-3") > rec.index(TypeJobFinished, "slow") {
		t.Errorf("the fast chain waited for the slow job")
	}
	if rec.index(TypeJobStarted, "join") < rec.index(TypeJobFinished, "slow") {
		t.Errorf("join started before slow finished")
	}
}

// This DAG has 12^40 paths from the last join back to root; a scheduler
// that walked paths would never finish.
func TestDAGSchedulesWithoutPathWalking(t *testing.T) {
	p := wideDAG(40, 12)
	sum, err := Run(context.Background(), p, noopWorker{}, Options{Concurrency: 8})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Status != StatusSuccess || len(sum.Jobs) != len(p.Jobs) {
		t.Fatalf("pipeline %s with %d jobs", sum.Status, len(sum.Jobs))
	}
}

// wideDAG builds diamonds fan-out jobs wide, each fan-out job needing the
// previous join and every fan-out job of the previous diamond: paths grow
// as wide^diamonds.
func wideDAG(diamonds, wide int) *plan.Plan {
	p := newPlan([]string{"dag"}, needs(job("root", "dag")))
	prevJoin, prevFan := "root", []string(nil)
	for d := 1; d <= diamonds; d++ {
		var fan []string
		for f := range wide {
			name := fmt.Sprintf("d%d-f%d", d, f)
			p.Jobs = append(p.Jobs, needs(job(name, "dag"), append([]string{prevJoin}, prevFan...)...))
			fan = append(fan, name)
		}
		join := fmt.Sprintf("d%d-join", d)
		p.Jobs = append(p.Jobs, needs(job(join, "dag"), fan...))
		prevJoin, prevFan = join, fan
	}
	return p
}

// wideStages is a stage-ordered plan: stages x perStage jobs.
func wideStages(stages, perStage int) *plan.Plan {
	p := &plan.Plan{Created: true}
	for s := range stages {
		stage := fmt.Sprintf("s%d", s)
		p.Stages = append(p.Stages, stage)
		for j := range perStage {
			p.Jobs = append(p.Jobs, job(fmt.Sprintf("%s-j%d", stage, j), stage))
		}
	}
	return p
}

// BenchmarkSchedule measures the engine's own cost per job (ns/job): a
// worker that returns at once, events going to a no-op sink.
func BenchmarkSchedule(b *testing.B) {
	plans := []struct {
		name string
		p    *plan.Plan
	}{
		{"dag50", loadPlan(b, "dag.gitlab-ci.yml")},
		{"dense-dag-481", wideDAG(40, 12)},
		{"stages-1000", wideStages(10, 100)},
	}
	for _, pc := range plans {
		b.Run(pc.name, func(b *testing.B) {
			sink := SinkFunc(func(Event) {})
			for b.Loop() {
				sum, err := Run(context.Background(), pc.p, noopWorker{}, Options{Sink: sink})
				if err != nil || sum.Status != StatusSuccess {
					b.Fatal(err, sum.Status)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(pc.p.Jobs)), "ns/job")
		})
	}
}
