package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/internal/store"
)

// workers is how many goroutines race in each concurrency case; they
// alternate between two handles on the same storage, as two server
// processes would.
const workers = 8

// handles returns two open handles on the test's storage.
func (h *harness) handles() [2]store.Store {
	return [2]store.Store{h.s, h.reopen()}
}

// race runs fn(i) on workers goroutines at once and waits for them.
func race(fn func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			fn(i)
		}()
	}
	close(start)
	wg.Wait()
}

func testConcurrentClaimJob(t *testing.T, h *harness) {
	proj := h.project("web")
	const n = 200
	var jobs []*store.Job
	for i := range n {
		jobs = append(jobs, pending(fmt.Sprintf("j%d", i), at(time.Duration(i)*time.Millisecond)))
	}
	h.pipeline(proj.ID, "main", jobs...)
	ss := h.handles()
	var mu sync.Mutex
	owner := map[int64]int{}
	var errs []error
	race(func(i int) {
		r := &store.Runner{ID: int64(i + 1), RunUntagged: true}
		for {
			j, err := ss[i%2].ClaimJob(h.ctx, r, time.Now().Add(time.Hour))
			if err != nil || j == nil {
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
				return
			}
			mu.Lock()
			if prev, dup := owner[j.ID]; dup {
				errs = append(errs, fmt.Errorf("job %d claimed by runners %d and %d", j.ID, prev, i+1))
			}
			owner[j.ID] = i + 1
			mu.Unlock()
		}
	})
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if len(owner) != n {
		t.Fatalf("%d jobs claimed, want all %d", len(owner), n)
	}
	// Every claim is stored for the runner that got it.
	kept, err := h.s.Jobs(h.ctx, jobs[0].PipelineID)
	ok(t, "jobs", err)
	for _, j := range kept {
		if j.Status != store.StatusRunning || owner[j.ID] != int(j.RunnerID) {
			t.Fatalf("job %d stored as %s for runner %d, claimed by %d", j.ID, j.Status, j.RunnerID, owner[j.ID])
		}
	}
}

func testConcurrentDedupe(t *testing.T, h *harness) {
	proj := h.project("web")
	ss := h.handles()
	ids := make([]int64, workers)
	errs := make([]error, workers)
	race(func(i int) {
		p := &store.Pipeline{ProjectID: proj.ID, Status: store.StatusPending, DeliveryID: "same"}
		errs[i] = ss[i%2].CreatePipeline(h.ctx, p, []*store.Job{pending("a", time.Time{})})
		ids[i] = p.ID
	})
	created := 0
	for i, err := range errs {
		switch {
		case err == nil:
			created++
		case !errors.Is(err, store.ErrConflict):
			t.Fatalf("worker %d: %v", i, err)
		}
		if ids[i] == 0 || ids[i] != ids[0] {
			t.Fatalf("workers got pipeline IDs %v, want one ID for all", ids)
		}
	}
	n, err := h.s.CountPipelines(h.ctx, store.PipelineFilter{})
	ok(t, "count", err)
	pend, _, err := h.s.QueueStats(h.ctx, time.Now())
	ok(t, "queue", err)
	if created != 1 || n != 1 || pend != 1 {
		t.Fatalf("%d creates succeeded, %d pipelines and %d jobs stored; want 1 each", created, n, pend)
	}
}

func testConcurrentSchedules(t *testing.T, h *harness) {
	proj := h.project("web")
	const occurrences = 60
	sc := &store.Schedule{ProjectID: proj.ID, Cron: "* * * * *", Ref: "main", Active: true, NextRun: at(0)}
	ok(t, "create", h.s.CreateSchedule(h.ctx, sc))
	now := at(occurrences*time.Minute - time.Second)
	next := func(s *store.Schedule) time.Time { return s.NextRun.Add(time.Minute) }
	ss := h.handles()
	var mu sync.Mutex
	seen := map[time.Time]int{}
	var errs []error
	race(func(i int) {
		for {
			got, err := ss[i%2].ClaimDueSchedule(h.ctx, now, next)
			mu.Lock()
			if err != nil {
				errs = append(errs, err)
			} else if got != nil {
				seen[got.NextRun]++
			}
			mu.Unlock()
			if err != nil || got == nil {
				return
			}
		}
	})
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if len(seen) != occurrences {
		t.Fatalf("%d occurrences claimed, want %d", len(seen), occurrences)
	}
	for next, n := range seen {
		if n != 1 {
			t.Fatalf("occurrence before %v claimed %d times", next, n)
		}
	}
}

func testConcurrentClaimPipelines(t *testing.T, h *harness) {
	proj := h.project("web")
	const n = 40
	for range n {
		h.pipeline(proj.ID, "main")
	}
	ss := h.handles()
	got := make([][]int64, workers)
	errs := make([]error, workers)
	race(func(i int) {
		got[i], errs[i] = ss[i%2].ClaimPipelines(h.ctx, fmt.Sprintf("server-%d", i), time.Now().Add(time.Hour), 7)
	})
	holder := map[int64]int{}
	for i := range workers {
		ok(t, fmt.Sprintf("server %d", i), errs[i])
		if len(got[i]) > 7 {
			t.Fatalf("server %d got %d pipelines, limit 7", i, len(got[i]))
		}
		for _, id := range got[i] {
			if prev, dup := holder[id]; dup {
				t.Fatalf("pipeline %d given to servers %d and %d", id, prev, i)
			}
			holder[id] = i
		}
	}
	if len(holder) != n {
		t.Fatalf("%d pipelines handed out, want all %d (8 servers × 7 ≥ 40)", len(holder), n)
	}
}

// testConcurrentEvents follows the log while writers append to it, as a
// live view does: it must see every event, none skipped.
func testConcurrentEvents(t *testing.T, h *harness) {
	const perWorker = 40
	ss := h.handles()
	done, stop := make(chan struct{}), make(chan struct{})
	var seen []int64
	var followErr error
	go func() {
		defer close(done)
		after := int64(0)
		for len(seen) < workers*perWorker {
			page, err := h.s.EventsAfter(h.ctx, after, store.EventFilter{}, 50)
			if err != nil {
				followErr = err
				return
			}
			for _, e := range page {
				seen = append(seen, e.ID)
				after = e.ID
			}
			if len(page) == 0 {
				select {
				case <-stop:
					return
				case <-time.After(time.Millisecond):
				}
			}
		}
	}()
	var mu sync.Mutex
	var errs []error
	race(func(i int) {
		for k := range perWorker {
			err := ss[i%2].AppendEvent(h.ctx, &store.Event{ProjectID: 1, JobID: int64(k), Type: "log"})
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
				return
			}
		}
	})
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		// The follower passed an event that committed late and waits for
		// one more that never comes.
		close(stop)
		<-done
		all, err := h.s.EventsAfter(h.ctx, 0, store.EventFilter{}, workers*perWorker+1)
		ok(t, "all events", err)
		t.Fatalf("follower saw %d of %d events after the writers finished", len(seen), len(all))
	}
	if followErr != nil {
		t.Fatal(followErr)
	}
	for i := 1; i < len(seen); i++ {
		if seen[i] <= seen[i-1] {
			t.Fatalf("follower saw ID %d after %d", seen[i], seen[i-1])
		}
	}
}
