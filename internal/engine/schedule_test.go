package engine

import (
	"context"
	"strings"
	"testing"

	"github.com/gantry-ci/gantry/internal/pipeline"
	"github.com/gantry-ci/gantry/internal/plan"
)

// A job with needs starts when its needs are done, not when its stage
// comes: here a deploy-stage job finishes while a build job still runs,
// and a job without needs still waits for every earlier stage.
func TestNeedsDoNotWaitForStages(t *testing.T) {
	p := newPlan([]string{"build", "test", "deploy"},
		needs(job("slow", "build", "sleep 2")),
		needs(job("fast", "build", "true")),
		needs(job("after-fast", "deploy", "true"), "fast"),
		job("stage-job", "test", "true"),
	)
	sum, rec := run(t, p, Options{})
	wantStatuses(t, sum, map[string]Status{"slow": StatusSuccess, "fast": StatusSuccess, "after-fast": StatusSuccess, "stage-job": StatusSuccess})
	if a, s := rec.index(TypeJobFinished, "after-fast"), rec.index(TypeJobFinished, "slow"); a > s {
		t.Errorf("after-fast finished after the unrelated slow job (events %d > %d)", a, s)
	}
	if st, s := rec.index(TypeJobStarted, "stage-job"), rec.index(TypeJobFinished, "slow"); st < s {
		t.Errorf("stage-job started before the earlier stage finished")
	}
}

func TestStageOrder(t *testing.T) {
	p := newPlan([]string{"build", "test", "deploy"},
		job("b1", "build", "sleep 0.3"),
		job("b2", "build", "true"),
		job("t1", "test", "true"),
		job("d1", "deploy", "true"),
	)
	sum, rec := run(t, p, Options{})
	if sum.Status != StatusSuccess || sum.ExitCode() != 0 {
		t.Fatalf("pipeline %s", sum.Status)
	}
	if rec.index(TypeJobStarted, "b2") > rec.index(TypeJobFinished, "b1") {
		t.Errorf("jobs of one stage did not run side by side")
	}
	for _, before := range []string{"b1", "b2"} {
		if rec.index(TypeJobStarted, "t1") < rec.index(TypeJobFinished, before) {
			t.Errorf("t1 started before %s finished", before)
		}
	}
	if rec.index(TypeJobStarted, "d1") < rec.index(TypeJobFinished, "t1") {
		t.Errorf("d1 started before t1 finished")
	}
}

func TestWhen(t *testing.T) {
	when := func(w pipeline.When) func(*plan.Job) { return func(j *plan.Job) { j.When = w } }
	p := newPlan([]string{"build", "test", "cleanup"},
		job("fail", "build", "exit 1"),
		job("ok", "build", "true"),
		job("next", "test", "true"),
		with(job("on-failure", "test", "true"), when(pipeline.WhenOnFailure)),
		with(job("always", "test", "true"), when(pipeline.WhenAlways)),
		job("later", "cleanup", "true"),
		with(job("later-on-failure", "cleanup", "true"), when(pipeline.WhenOnFailure)),
		needs(job("dag-ok", "cleanup", "true"), "ok"),
		needs(job("dag-after-fail", "cleanup", "true"), "fail"),
		with(needs(job("dag-on-failure", "cleanup", "true"), "fail"), when(pipeline.WhenOnFailure)),
		needs(job("dag-after-skipped", "cleanup", "true"), "next"),
		with(needs(job("dag-always-after-skipped", "cleanup", "true"), "next"), when(pipeline.WhenAlways)),
		with(needs(job("dag-on-failure-ok", "cleanup", "true"), "ok"), when(pipeline.WhenOnFailure)),
	)
	sum, rec := run(t, p, Options{})
	wantStatuses(t, sum, map[string]Status{
		"fail":                     StatusFailed,
		"ok":                       StatusSuccess,
		"next":                     StatusSkipped,
		"on-failure":               StatusSuccess,
		"always":                   StatusSuccess,
		"later":                    StatusSkipped,
		"later-on-failure":         StatusSuccess,
		"dag-ok":                   StatusSuccess,
		"dag-after-fail":           StatusSkipped,
		"dag-on-failure":           StatusSuccess,
		"dag-after-skipped":        StatusSkipped,
		"dag-always-after-skipped": StatusSuccess,
		"dag-on-failure-ok":        StatusSkipped,
	})
	if sum.Status != StatusFailed || sum.ExitCode() != 1 {
		t.Errorf("pipeline %s exit %d, want failed 1", sum.Status, sum.ExitCode())
	}
	if r := sum.Job("next").Reason; r != "a job of an earlier stage failed" {
		t.Errorf("next skipped because %q", r)
	}
	if r := rec.final("dag-after-skipped").Reason; r != "a needed job did not run" {
		t.Errorf("dag-after-skipped skipped because %q", r)
	}
	if f := sum.Job("fail"); f.Failure != FailureScript || f.ExitCode != 1 || f.AllowedFailure {
		t.Errorf("fail: %+v", f)
	}
}

func TestManual(t *testing.T) {
	manual := func(allow bool) func(*plan.Job) {
		return func(j *plan.Job) { j.When = pipeline.WhenManual; j.AllowFailure.Allowed = allow }
	}
	build := func(allow bool) *plan.Plan {
		return newPlan([]string{"build", "deploy", "verify"},
			with(job("deploy", "build", "true"), manual(allow)),
			job("lint", "build", "true"),
			job("after", "deploy", "true"),
			needs(job("dag-lint", "deploy", "true"), "lint"),
			needs(job("needs-deploy", "verify", "true"), "deploy"),
			job("final", "verify", "true"),
		)
	}
	tests := []struct {
		name      string
		allow     bool
		opts      Options
		pipeline  Status
		want      map[string]Status
		blockedBy string
	}{
		{
			name: "blocking manual job holds later stages", allow: false, pipeline: StatusBlocked,
			want: map[string]Status{
				"deploy": StatusManual, "lint": StatusSuccess, "after": StatusSkipped,
				"dag-lint": StatusSuccess, "needs-deploy": StatusSkipped, "final": StatusSkipped,
			},
			blockedBy: "blocked by manual job deploy",
		},
		{
			name: "optional manual job is passed over", allow: true, pipeline: StatusSuccess,
			want: map[string]Status{
				"deploy": StatusManual, "lint": StatusSuccess, "after": StatusSuccess,
				"dag-lint": StatusSuccess, "needs-deploy": StatusSkipped, "final": StatusSuccess,
			},
		},
		{
			name: "played by name", allow: false, opts: Options{Manual: []string{"deploy"}}, pipeline: StatusSuccess,
			want: map[string]Status{"deploy": StatusSuccess, "after": StatusSuccess, "needs-deploy": StatusSuccess, "final": StatusSuccess},
		},
		{
			name: "all played", allow: true, opts: Options{AllManual: true}, pipeline: StatusSuccess,
			want: map[string]Status{"deploy": StatusSuccess, "needs-deploy": StatusSuccess},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sum, _ := run(t, build(tt.allow), tt.opts)
			wantStatuses(t, sum, tt.want)
			if sum.Status != tt.pipeline || sum.ExitCode() != 0 {
				t.Errorf("pipeline %s exit %d, want %s 0", sum.Status, sum.ExitCode(), tt.pipeline)
			}
			if tt.blockedBy != "" {
				for _, name := range []string{"after", "needs-deploy", "final"} {
					if r := sum.Job(name).Reason; r != tt.blockedBy {
						t.Errorf("%s: reason %q, want %q", name, r, tt.blockedBy)
					}
				}
			}
		})
	}
}

// A failure outweighs a blocking manual job: a user running the pipeline
// must see that something failed.
func TestFailureOutweighsBlocked(t *testing.T) {
	p := newPlan([]string{"build"},
		with(job("deploy", "build", "true"), func(j *plan.Job) { j.When = pipeline.WhenManual }),
		job("broken", "build", "exit 2"),
	)
	sum, _ := run(t, p, Options{})
	if sum.Status != StatusFailed {
		t.Errorf("pipeline %s, want failed", sum.Status)
	}
}

func TestDelayed(t *testing.T) {
	p := newPlan([]string{"build", "deploy"},
		job("build", "build", "true"),
		with(job("rollout", "deploy", "true"), func(j *plan.Job) {
			j.When = pipeline.WhenDelayed
			j.StartIn = time2h
		}),
	)
	sum, rec := run(t, p, Options{Clock: scaledClock{factor: 1_000_000}})
	wantStatuses(t, sum, map[string]Status{"rollout": StatusSuccess})
	i := rec.index(TypeJobScheduled, "rollout")
	if i < 0 {
		t.Fatal("no job_scheduled event")
	}
	if ev := rec.events[i].(JobScheduled); ev.StartIn != time2h || ev.Status != StatusScheduled {
		t.Errorf("scheduled event %+v", ev)
	}
	if i < rec.index(TypeJobFinished, "build") || i > rec.index(TypeJobStarted, "rollout") {
		t.Errorf("rollout was scheduled out of order")
	}
}

func TestConcurrencyLimit(t *testing.T) {
	var jobs []*plan.Job
	for _, n := range []string{"a", "b", "c", "d"} {
		jobs = append(jobs, job(n, "build", "sleep 0.05"))
	}
	for _, conc := range []int{1, 2} {
		_, rec := run(t, newPlan([]string{"build"}, jobs...), Options{Concurrency: conc})
		running, peak := 0, 0
		for _, e := range rec.events {
			switch e.(type) {
			case JobStarted:
				running++
				peak = max(peak, running)
			case JobFinished:
				running--
			}
		}
		if peak != conc {
			t.Errorf("concurrency %d: %d jobs ran at once", conc, peak)
		}
	}
}

func TestInvalidPlans(t *testing.T) {
	tests := []struct {
		name string
		p    *plan.Plan
		opts Options
		want string // in the error; "" for no error
	}{
		{"not created", &plan.Plan{Reason: "workflow:rules matched when: never"}, Options{}, "not created: workflow:rules"},
		{"needs cycle", newPlan([]string{"a"}, needs(job("x", "a"), "y"), needs(job("y", "a"), "x")), Options{}, "form a cycle"},
		{
			"cycle through stage order",
			newPlan([]string{"a", "b"}, needs(job("early", "a"), "late"), job("late", "b")),
			Options{}, "can never start: early, late",
		},
		{"unknown need", newPlan([]string{"a"}, needs(job("x", "a"), "ghost")), Options{}, `needs "ghost"`},
		{
			"optional unknown need is dropped",
			newPlan([]string{"a"}, with(job("x", "a", "true"), func(j *plan.Job) { j.Needs = []plan.Need{{Job: "ghost", Optional: true}} })),
			Options{}, "",
		},
		{"duplicate job", newPlan([]string{"a"}, job("x", "a"), job("x", "a")), Options{}, "appears twice"},
		{"unknown stage", newPlan([]string{"a"}, job("x", "b")), Options{}, `stage "b"`},
		{"unknown manual job", newPlan([]string{"a"}, job("x", "a", "true")), Options{Manual: []string{"deploy"}}, `"deploy"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sum, err := Run(context.Background(), tt.p, bashWorker{dir: t.TempDir()}, tt.opts)
			if tt.want == "" {
				if err != nil || sum.Status != StatusSuccess {
					t.Fatalf("err %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want one containing %q", err, tt.want)
			}
		})
	}
}
