package e2e

import (
	"slices"
	"testing"
)

// TestNeedsStartsBeforeStageEnds checks that a job with needs starts as
// soon as what it needs is done, while a stage-ordered job of the same
// stage waits for the whole earlier stage. The slow job waits until the
// needs job has run (through a folder outside the workspaces), so the order
// is forced by the scheduler and not by timing: a scheduler that waited for
// the stage would make slow give up after its bound and finish first.
func TestNeedsStartsBeforeStageEnds(t *testing.T) {
	t.Parallel()
	signal := t.TempDir()
	r := newRepo(t, map[string]string{".gitlab-ci.yml": `
stages: [build, test]
fast:
  stage: build
  script: [echo fast]
slow:
  stage: build
  script:
    - for i in $(seq 400); do [ -f "$SIGNAL/dag-done" ] && break; sleep 0.05; done
    - echo slow done
dag:
  stage: test
  needs: [fast]
  script: [touch "$SIGNAL/dag-done"]
staged:
  stage: test
  script: [echo staged]
`})
	res := r.mustRun(0, "run", "--json", "--concurrency", "4", "--var", "SIGNAL="+signal)
	evs := events(t, res.stdout)
	var finished []string
	for _, e := range evs {
		if e.Type == "job_finished" {
			finished = append(finished, e.Job)
		}
	}
	idx := func(list []string, job string) int {
		i := slices.Index(list, job)
		if i < 0 {
			t.Fatalf("no event for %s in %v", job, list)
		}
		return i
	}
	if idx(finished, "fast") > idx(finished, "dag") {
		t.Errorf("finish order = %v, want fast before dag", finished)
	}
	// dag must start while slow still runs (slow waits for dag's file); its
	// finished event may come after slow's, which only waits for the file.
	var seen []string
	for _, e := range evs {
		if (e.Type == "job_started" && e.Job == "dag") || (e.Type == "job_finished" && e.Job == "slow") {
			seen = append(seen, e.Type+":"+e.Job)
		}
	}
	if len(seen) != 2 || seen[0] != "job_started:dag" {
		t.Errorf("events %v: dag should start before slow finishes", seen)
	}
	if idx(finished, "slow") > idx(finished, "staged") {
		t.Errorf("finish order = %v, want staged after slow", finished)
	}
	// staged may only start once slow has finished.
	var order []string
	for _, e := range evs {
		if (e.Type == "job_started" && e.Job == "staged") || (e.Type == "job_finished" && e.Job == "slow") {
			order = append(order, e.Type+":"+e.Job)
		}
	}
	if !slices.Equal(order, []string{"job_finished:slow", "job_started:staged"}) {
		t.Errorf("events = %v, want slow finished before staged started", order)
	}
}

// TestConcurrency checks --concurrency: with 1, jobs of one stage run one
// after the other; with 2, two jobs that each wait for the other (through
// a folder outside their workspaces) both finish, so they did run at once.
func TestConcurrency(t *testing.T) {
	t.Parallel()
	t.Run("one at a time", func(t *testing.T) {
		t.Parallel()
		r := newRepo(t, map[string]string{".gitlab-ci.yml": `
a: {script: [sleep 0.1]}
b: {script: [sleep 0.1]}
c: {script: [sleep 0.1]}
`})
		res := r.mustRun(0, "run", "--json", "--concurrency", "1")
		running, most := 0, 0
		for _, e := range events(t, res.stdout) {
			switch e.Type {
			case "job_started":
				running++
				most = max(most, running)
			case "job_finished":
				running--
			}
		}
		if most != 1 {
			t.Errorf("%d jobs ran at once with --concurrency 1", most)
		}
	})
	t.Run("two at once", func(t *testing.T) {
		t.Parallel()
		sig := t.TempDir()
		r := newRepo(t, map[string]string{".gitlab-ci.yml": `
ping:
  script:
    - touch "$SIG/ping"
    - for i in $(seq 400); do [ -f "$SIG/pong" ] && exit 0; sleep 0.05; done; exit 1
pong:
  script:
    - touch "$SIG/pong"
    - for i in $(seq 400); do [ -f "$SIG/ping" ] && exit 0; sleep 0.05; done; exit 1
`})
		r.mustRun(0, "run", "--concurrency", "2", "--var", "SIG="+sig)
	})
}
