package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/internal/store"
)

// claim claims a job for r and fails on error.
func (h *harness) claim(r *store.Runner, lease time.Time) *store.Job {
	h.t.Helper()
	j, err := h.s.ClaimJob(h.ctx, r, lease)
	if err != nil {
		h.t.Fatalf("claim for runner %d: %v", r.ID, err)
	}
	return j
}

func testClaimOrder(t *testing.T, h *harness) {
	ctx, s := h.ctx, h.s
	proj := h.project("web")
	r := &store.Runner{ID: 1, RunUntagged: true}
	if j := h.claim(r, time.Now()); j != nil {
		t.Fatalf("empty queue gave %+v", j)
	}
	// IDs ascend in creation order; QueuedAt decides first, ID breaks ties.
	late := pending("late", at(time.Hour))
	tieB := pending("tie-b", at(time.Minute))
	tieA := pending("tie-a", at(time.Minute))
	early := pending("early", at(0))
	manual := &store.Job{Name: "manual", Status: store.StatusManual, QueuedAt: at(-time.Hour)}
	h.pipeline(proj.ID, "main", late, tieB, tieA, early, manual)

	lease := at(10 * time.Minute)
	before := time.Now().Add(-time.Second)
	var order []string
	for {
		j := h.claim(r, lease)
		if j == nil {
			break
		}
		if j.Status != store.StatusRunning || j.RunnerID != 1 || !j.LeaseUntil.Equal(stored(lease)) ||
			j.StartedAt.Before(before) || j.StartedAt.After(time.Now().Add(time.Second)) {
			t.Fatalf("claimed job not marked running for the runner: %+v", j)
		}
		kept, err := s.Job(ctx, j.ID)
		ok(t, "read claimed", err)
		if kept.Status != store.StatusRunning || kept.RunnerID != 1 || !kept.StartedAt.Equal(j.StartedAt) {
			t.Fatalf("claim not stored: %+v", kept)
		}
		order = append(order, j.Name)
	}
	want := []string{"early", "tie-b", "tie-a", "late"}
	if len(order) != len(want) {
		t.Fatalf("claimed %v, want %v (the manual job is not pending)", order, want)
	}
	for i := range want {
		if order[i] != want[i] {
			t.Fatalf("claimed %v, want %v", order, want)
		}
	}
}

func testTagMatching(t *testing.T, h *harness) {
	proj := h.project("web")
	cases := []struct {
		name    string
		jobTags []string
		runner  store.Runner
		claimed bool
	}{
		{"untagged to untagged runner", nil, store.Runner{RunUntagged: true}, true},
		{"untagged to tagged runner that runs untagged", nil, store.Runner{Tags: []string{"a"}, RunUntagged: true}, true},
		{"untagged to tagged-only runner", nil, store.Runner{Tags: []string{"a"}}, false},
		{"subset", []string{"docker"}, store.Runner{Tags: []string{"linux", "docker"}}, true},
		{"equal set, other order", []string{"docker", "linux"}, store.Runner{Tags: []string{"linux", "docker"}}, true},
		{"one tag missing", []string{"docker", "gpu"}, store.Runner{Tags: []string{"linux", "docker"}}, false},
		{"tagged job, untagged runner", []string{"docker"}, store.Runner{RunUntagged: true}, false},
		{"case matters", []string{"Docker"}, store.Runner{Tags: []string{"docker"}}, false},
		{"tag with quotes and spaces", []string{`we"ird tag`}, store.Runner{Tags: []string{`we"ird tag`}}, true},
		{"repeated job tag", []string{"a", "a"}, store.Runner{Tags: []string{"a"}}, true},
	}
	for i, c := range cases {
		j := pending(c.name, at(time.Duration(i)), c.jobTags...)
		h.pipeline(proj.ID, "main", j)
		r := c.runner
		r.ID = int64(100 + i)
		got := h.claim(&r, at(time.Hour))
		if (got != nil) != c.claimed {
			t.Errorf("%s: claimed %v, want %v", c.name, got != nil, c.claimed)
		}
		if got != nil && got.ID != j.ID {
			t.Errorf("%s: claimed job %d, want %d", c.name, got.ID, j.ID)
		}
		if got == nil { // take it out of the way of the next case
			j.Status = store.StatusCanceled
			ok(t, "cancel", h.s.UpdateJob(h.ctx, j))
		}
	}
}

// testTagsPastBatch: many older jobs no runner can take must not hide a
// matching one behind them.
func testTagsPastBatch(t *testing.T, h *harness) {
	proj := h.project("web")
	var jobs []*store.Job
	for i := range 250 {
		jobs = append(jobs, pending("gpu", at(time.Duration(i)*time.Millisecond), "gpu"))
	}
	h.pipeline(proj.ID, "main", jobs...)
	want := pending("linux", at(time.Hour), "linux")
	h.pipeline(proj.ID, "main", want)
	got := h.claim(&store.Runner{ID: 1, Tags: []string{"linux"}, RunUntagged: true}, at(2*time.Hour))
	if got == nil || got.ID != want.ID {
		t.Fatalf("claimed %+v, want the linux job behind 250 gpu jobs", got)
	}
	gpu := h.claim(&store.Runner{ID: 2, Tags: []string{"gpu"}}, at(2*time.Hour))
	if gpu == nil || gpu.ID != jobs[0].ID {
		t.Fatalf("gpu runner claimed %+v, want the oldest gpu job", gpu)
	}
}

func testLease(t *testing.T, h *harness) {
	ctx, s := h.ctx, h.s
	proj := h.project("web")
	j := pending("build", time.Time{})
	h.pipeline(proj.ID, "main", j)
	r := &store.Runner{ID: 5, RunUntagged: true}
	claimed := h.claim(r, time.Now().Add(time.Minute))
	if claimed == nil {
		t.Fatal("nothing to claim")
	}
	newLease := at(time.Hour)
	cancel, err := s.RenewLease(ctx, j.ID, r.ID, newLease)
	ok(t, "renew", err)
	if cancel {
		t.Fatal("renew asked to cancel a job nobody canceled")
	}
	got, err := s.Job(ctx, j.ID)
	ok(t, "read", err)
	if !got.LeaseUntil.Equal(stored(newLease)) {
		t.Fatalf("lease %v after renewing to %v", got.LeaseUntil, newLease)
	}
	_, err = s.RenewLease(ctx, j.ID, 6, newLease)
	wantErr(t, "renew by another runner", err, store.ErrLeaseLost)
	_, err = s.RenewLease(ctx, j.ID+100, r.ID, newLease)
	wantErr(t, "renew a missing job", err, store.ErrLeaseLost)
	wantErr(t, "renew a missing job", err, store.ErrNotFound)

	got.CancelRequested = true
	ok(t, "request cancel", s.UpdateJob(ctx, got))
	cancel, err = s.RenewLease(ctx, j.ID, r.ID, newLease)
	ok(t, "renew", err)
	if !cancel {
		t.Fatal("renew did not pass on the cancel request")
	}

	cov := 12.25
	res := store.Result{Status: store.StatusFailed, ExitCode: 3, FailureReason: "script_failure", Coverage: &cov,
		Detail: json.RawMessage(`{"exit_code": 3}`), ArtifactsSize: 4096, ArtifactsExpireAt: at(72 * time.Hour),
		FinishedAt: at(2 * time.Hour)}
	wantErr(t, "finish by another runner", s.FinishJob(ctx, j.ID, 6, res), store.ErrLeaseLost)
	if err := s.FinishJob(ctx, j.ID, r.ID, store.Result{Status: store.StatusRunning}); err == nil {
		t.Fatal("finishing with a non-final status succeeded")
	}
	ok(t, "finish", s.FinishJob(ctx, j.ID, r.ID, res))
	got, err = s.Job(ctx, j.ID)
	ok(t, "read", err)
	if got.Status != store.StatusFailed || got.ExitCode != 3 || got.FailureReason != "script_failure" ||
		got.Coverage == nil || *got.Coverage != cov || string(got.Result) != `{"exit_code": 3}` ||
		got.ArtifactsSize != 4096 || !got.ArtifactsExpireAt.Equal(stored(at(72*time.Hour))) ||
		!got.FinishedAt.Equal(stored(at(2*time.Hour))) || !got.LeaseUntil.IsZero() || got.RunnerID != r.ID {
		t.Fatalf("after finish: %+v", got)
	}
	wantErr(t, "finish twice", s.FinishJob(ctx, j.ID, r.ID, res), store.ErrLeaseLost)
	_, err = s.RenewLease(ctx, j.ID, r.ID, newLease)
	wantErr(t, "renew a finished job", err, store.ErrLeaseLost)

	// A zero FinishedAt means now.
	j2 := pending("deploy", time.Time{})
	h.pipeline(proj.ID, "main", j2)
	h.claim(r, at(time.Hour))
	before := time.Now().Add(-time.Second)
	ok(t, "finish", s.FinishJob(ctx, j2.ID, r.ID, store.Result{Status: store.StatusSuccess}))
	got, err = s.Job(ctx, j2.ID)
	ok(t, "read", err)
	if got.FinishedAt.Before(before) || got.Result != nil || got.Coverage != nil {
		t.Fatalf("finish without times: %+v", got)
	}
}

func testExpiredLeases(t *testing.T, h *harness) {
	ctx, s := h.ctx, h.s
	proj := h.project("web")
	lost, live := pending("lost", at(0)), pending("live", at(time.Second))
	h.pipeline(proj.ID, "main", lost, live)
	old := &store.Runner{ID: 1, RunUntagged: true}
	now := time.Now()
	h.claim(old, now.Add(-time.Minute))
	h.claim(old, now.Add(time.Hour))
	exp, err := s.ExpiredLeases(ctx, now)
	ok(t, "expired", err)
	if len(exp) != 1 || exp[0].ID != lost.ID {
		t.Fatalf("expired = %+v, want only job %d", exp, lost.ID)
	}

	// The coordinator requeues it and another runner takes it: the first
	// runner's late report is refused.
	j := exp[0]
	j.Status, j.RunnerID, j.LeaseUntil, j.RunnerLosses, j.QueuedAt = store.StatusPending, 0, time.Time{}, j.RunnerLosses+1, time.Time{}
	ok(t, "requeue", s.UpdateJob(ctx, j))
	other := &store.Runner{ID: 2, RunUntagged: true}
	again := h.claim(other, now.Add(time.Hour))
	if again == nil || again.ID != lost.ID || again.RunnerLosses != 1 {
		t.Fatalf("requeued job not claimable: %+v", again)
	}
	wantErr(t, "old runner finishes", s.FinishJob(ctx, lost.ID, old.ID, store.Result{Status: store.StatusSuccess}),
		store.ErrLeaseLost)
	_, err = s.RenewLease(ctx, lost.ID, old.ID, now.Add(time.Hour))
	wantErr(t, "old runner renews", err, store.ErrLeaseLost)
	ok(t, "new runner finishes", s.FinishJob(ctx, lost.ID, other.ID, store.Result{Status: store.StatusSuccess}))
	exp, err = s.ExpiredLeases(ctx, now.Add(2*time.Hour))
	ok(t, "expired later", err)
	if len(exp) != 1 || exp[0].ID != live.ID {
		t.Fatalf("expired two hours on = %+v, want only the running job %d", exp, live.ID)
	}
}

func testQueueStats(t *testing.T, h *harness) {
	ctx, s := h.ctx, h.s
	n, oldest, err := s.QueueStats(ctx, time.Now())
	ok(t, "empty stats", err)
	if n != 0 || oldest != 0 {
		t.Fatalf("empty queue: %d jobs, oldest %v", n, oldest)
	}
	proj := h.project("web")
	a := pending("a", at(0))
	h.pipeline(proj.ID, "main", a, pending("b", at(time.Minute)), pending("c", at(2*time.Minute)),
		&store.Job{Name: "d", Status: store.StatusCreated})
	n, oldest, err = s.QueueStats(ctx, stored(at(10*time.Minute)))
	ok(t, "stats", err)
	if n != 3 || oldest != 10*time.Minute {
		t.Fatalf("stats = %d, %v; want 3 pending, oldest 10m", n, oldest)
	}

	total, err := s.AddLogSize(ctx, a.ID, 100)
	ok(t, "log", err)
	if total != 100 {
		t.Fatalf("log size %d, want 100", total)
	}
	total, err = s.AddLogSize(ctx, a.ID, 28)
	ok(t, "log", err)
	got, err := s.Job(ctx, a.ID)
	ok(t, "read", err)
	if total != 128 || got.LogSize != 128 {
		t.Fatalf("log size %d / stored %d, want 128", total, got.LogSize)
	}
	_, err = s.AddLogSize(ctx, a.ID+100, 1)
	wantErr(t, "log of a missing job", err, store.ErrNotFound)
}
