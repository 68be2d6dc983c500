package storetest

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/internal/store"
)

// fullJob is a job with every field set, times with nanoseconds.
func fullJob() *store.Job {
	cov := 87.5
	return &store.Job{Name: "test 1/3", Stage: "test", Attempt: 2, Status: store.StatusFailed, When: "manual",
		AllowFailure: true, Tags: []string{"linux", "docker"}, Retried: true, Played: true, PlayedBy: "ada",
		CancelRequested: true, RunnerID: 7, LeaseUntil: at(time.Minute), RunnerLosses: 1,
		Payload: json.RawMessage(`{"script": ["make test"], "n": 1.50}`), Result: json.RawMessage(`{"exit":2}`),
		ExitCode: 2, FailureReason: "script_failure", Reason: "because", Coverage: &cov, LogSize: 1234,
		ArtifactsSize: 99, ArtifactsExpireAt: at(48 * time.Hour), CreatedAt: at(0), QueuedAt: at(time.Second),
		StartedAt: at(2 * time.Second), FinishedAt: at(3 * time.Second)}
}

// storedJob is j as a store returns it.
func storedJob(j *store.Job) *store.Job {
	c := *j
	c.Tags = slices.Clone(j.Tags)
	c.LeaseUntil, c.ArtifactsExpireAt = stored(j.LeaseUntil), stored(j.ArtifactsExpireAt)
	c.CreatedAt, c.QueuedAt, c.StartedAt, c.FinishedAt = stored(j.CreatedAt), stored(j.QueuedAt),
		stored(j.StartedAt), stored(j.FinishedAt)
	return &c
}

func testPipelineRoundTrip(t *testing.T, h *harness) {
	ctx, s := h.ctx, h.s
	proj := h.project("web")
	p := &store.Pipeline{ProjectID: proj.ID, Ref: "v1.2", Tag: true, SHA: "abc", BeforeSHA: "def",
		Source: "merge_request_event", Status: store.StatusRunning, Message: "fix: ünïcode\n\nbody", Author: "Ada",
		DeliveryID: "d-1", Variables: json.RawMessage(` [{"key":"A","value":"1"}] `),
		Trigger: json.RawMessage(`{"user":"ada"}`), Error: "line 3: bad", CreatedAt: at(0),
		StartedAt: at(time.Second), FinishedAt: at(time.Hour)}
	j1, j2 := fullJob(), fullJob()
	j2.Name, j2.Coverage, j2.Tags = "lint", nil, nil
	ok(t, "create", s.CreatePipeline(ctx, p, []*store.Job{j1, j2}))
	if p.ID == 0 || j1.ID == 0 || j2.ID <= j1.ID || j1.PipelineID != p.ID || j2.ProjectID != proj.ID {
		t.Fatalf("create did not number the pipeline and its jobs: %d %+v %+v", p.ID, j1, j2)
	}

	got, err := s.Pipeline(ctx, p.ID)
	ok(t, "read", err)
	want := *p
	want.CreatedAt, want.StartedAt, want.FinishedAt = stored(p.CreatedAt), stored(p.StartedAt), stored(p.FinishedAt)
	if !reflect.DeepEqual(got, &want) {
		t.Fatalf("pipeline round trip:\n got %+v\nwant %+v", got, &want)
	}
	if string(got.Variables) != ` [{"key":"A","value":"1"}] ` {
		t.Fatalf("JSON not kept byte for byte: %q", got.Variables)
	}
	if got.CreatedAt.Location() != time.UTC || got.CreatedAt.Nanosecond() != 123456000 {
		t.Fatalf("time came back as %v, want UTC with microseconds", got.CreatedAt)
	}

	jobs, err := s.Jobs(ctx, p.ID)
	ok(t, "jobs", err)
	if len(jobs) != 2 || !reflect.DeepEqual(jobs[0], storedJob(j1)) || !reflect.DeepEqual(jobs[1], storedJob(j2)) {
		t.Fatalf("jobs round trip:\n got %+v\n     %+v\nwant %+v\n     %+v", jobs[0], jobs[1], storedJob(j1), storedJob(j2))
	}
	one, err := s.Job(ctx, j1.ID)
	ok(t, "job", err)
	if !reflect.DeepEqual(one, storedJob(j1)) {
		t.Fatalf("job = %+v, want %+v", one, storedJob(j1))
	}
	_, err = s.Job(ctx, j2.ID+100)
	wantErr(t, "missing job", err, store.ErrNotFound)
	_, err = s.Pipeline(ctx, p.ID+100)
	wantErr(t, "missing pipeline", err, store.ErrNotFound)
}

// testEmptyValues checks the documented mapping of empty values: nil and
// empty JSON come back nil, empty tags nil, zero times zero, a pending
// job without QueuedAt is queued at creation.
func testEmptyValues(t *testing.T, h *harness) {
	ctx, s := h.ctx, h.s
	proj := h.project("web")
	p := &store.Pipeline{ProjectID: proj.ID, Status: store.StatusCreated, Variables: json.RawMessage{}}
	j := &store.Job{Name: "a", Status: store.StatusPending, Tags: []string{}, Payload: json.RawMessage{}}
	before := time.Now().Add(-time.Second)
	ok(t, "create", s.CreatePipeline(ctx, p, []*store.Job{j}))
	got, err := s.Pipeline(ctx, p.ID)
	ok(t, "read", err)
	if got.Variables != nil || got.Trigger != nil || !got.StartedAt.IsZero() || !got.FinishedAt.IsZero() {
		t.Fatalf("empty values came back as %+v", got)
	}
	if got.CreatedAt.Before(before) || got.CreatedAt.After(time.Now().Add(time.Second)) {
		t.Fatalf("CreatedAt %v is not the creation time", got.CreatedAt)
	}
	gj, err := s.Job(ctx, j.ID)
	ok(t, "job", err)
	if gj.Tags != nil || gj.Payload != nil || gj.Result != nil || gj.Coverage != nil || !gj.StartedAt.IsZero() ||
		!gj.LeaseUntil.IsZero() || !gj.ArtifactsExpireAt.IsZero() {
		t.Fatalf("empty job values came back as %+v", gj)
	}
	if gj.QueuedAt.IsZero() || !gj.QueuedAt.Equal(j.QueuedAt) || !gj.CreatedAt.Equal(j.CreatedAt) {
		t.Fatalf("pending job QueuedAt %v / CreatedAt %v; create set %v / %v", gj.QueuedAt, gj.CreatedAt, j.QueuedAt, j.CreatedAt)
	}
}

func testDedupe(t *testing.T, h *harness) {
	ctx, s := h.ctx, h.s
	web, api := h.project("web"), h.project("api")
	first := &store.Pipeline{ProjectID: web.ID, Ref: "main", Status: store.StatusPending, DeliveryID: "gh-42"}
	ok(t, "first", s.CreatePipeline(ctx, first, []*store.Job{pending("a", time.Time{})}))

	again := &store.Pipeline{ProjectID: web.ID, Ref: "main", Status: store.StatusPending, DeliveryID: "gh-42"}
	j := pending("b", time.Time{})
	err := s.CreatePipeline(ctx, again, []*store.Job{j})
	wantErr(t, "redelivery", err, store.ErrConflict)
	if again.ID != first.ID {
		t.Fatalf("redelivery gave ID %d, want the existing %d", again.ID, first.ID)
	}
	if j.ID != 0 {
		t.Fatalf("redelivery numbered its job %d", j.ID)
	}
	ok(t, "same delivery, other project", s.CreatePipeline(ctx,
		&store.Pipeline{ProjectID: api.ID, Status: store.StatusPending, DeliveryID: "gh-42"}, nil))
	ok(t, "no delivery", s.CreatePipeline(ctx, &store.Pipeline{ProjectID: web.ID, Status: store.StatusPending}, nil))
	ok(t, "no delivery again", s.CreatePipeline(ctx, &store.Pipeline{ProjectID: web.ID, Status: store.StatusPending}, nil))

	n, err := s.CountPipelines(ctx, store.PipelineFilter{ProjectID: web.ID})
	ok(t, "count", err)
	jobs, err := s.Jobs(ctx, first.ID)
	ok(t, "jobs", err)
	if n != 3 || len(jobs) != 1 {
		t.Fatalf("web has %d pipelines (want 3) and the first %d jobs (want 1)", n, len(jobs))
	}
	st, _, err := s.QueueStats(ctx, time.Now())
	ok(t, "queue", err)
	if st != 1 {
		t.Fatalf("%d pending jobs, want 1: the redelivery queued its job", st)
	}
}

func testMissingReferences(t *testing.T, h *harness) {
	ctx, s := h.ctx, h.s
	p := &store.Pipeline{ProjectID: 999, Status: store.StatusPending}
	wantErr(t, "pipeline of a missing project", s.CreatePipeline(ctx, p, []*store.Job{pending("a", time.Time{})}),
		store.ErrNotFound)
	wantErr(t, "job of a missing pipeline", s.AddJob(ctx, &store.Job{PipelineID: 999, Name: "x"}), store.ErrNotFound)
	wantErr(t, "schedule of a missing project", s.CreateSchedule(ctx, &store.Schedule{ProjectID: 999}), store.ErrNotFound)
	wantErr(t, "update missing pipeline", s.UpdatePipeline(ctx, &store.Pipeline{ID: 999}), store.ErrNotFound)
	wantErr(t, "update missing job", s.UpdateJob(ctx, &store.Job{ID: 999}), store.ErrNotFound)
	n, err := s.CountPipelines(ctx, store.PipelineFilter{})
	ok(t, "count", err)
	if n != 0 {
		t.Fatalf("%d pipelines after failed creates", n)
	}
}

func testListPipelines(t *testing.T, h *harness) {
	ctx, s := h.ctx, h.s
	web, api := h.project("web"), h.project("api")
	var webIDs []int64 // newest first
	for i := range 60 {
		ref := "main"
		if i%3 == 0 {
			ref = "dev"
		}
		p := h.pipeline(web.ID, ref)
		webIDs = append([]int64{p.ID}, webIDs...)
		if i%10 == 0 {
			p.Status = store.StatusFailed
			ok(t, "fail", s.UpdatePipeline(ctx, p))
		}
		h.pipeline(api.ID, "main")
	}
	ids := func(ps []*store.Pipeline) []int64 {
		var out []int64
		for _, p := range ps {
			out = append(out, p.ID)
		}
		return out
	}
	ps, err := s.ListPipelines(ctx, store.PipelineFilter{ProjectID: web.ID})
	ok(t, "list", err)
	if !reflect.DeepEqual(ids(ps), webIDs[:50]) {
		t.Fatalf("default list = %v, want the newest 50 %v", ids(ps), webIDs[:50])
	}
	var paged []int64
	f := store.PipelineFilter{ProjectID: web.ID, Limit: 7}
	for {
		ps, err := s.ListPipelines(ctx, f)
		ok(t, "page", err)
		if len(ps) == 0 {
			break
		}
		paged = append(paged, ids(ps)...)
		f.BeforeID = ps[len(ps)-1].ID
	}
	if !reflect.DeepEqual(paged, webIDs) {
		t.Fatalf("paging gave %v, want %v", paged, webIDs)
	}
	for _, c := range []struct {
		f    store.PipelineFilter
		want int
	}{
		{store.PipelineFilter{}, 120},
		{store.PipelineFilter{ProjectID: web.ID}, 60},
		{store.PipelineFilter{ProjectID: web.ID, Ref: "dev"}, 20},
		{store.PipelineFilter{Status: store.StatusFailed}, 6},
		{store.PipelineFilter{ProjectID: web.ID, Ref: "dev", Status: store.StatusFailed}, 2},
		{store.PipelineFilter{ProjectID: web.ID, Limit: 5, BeforeID: webIDs[0]}, 60},
	} {
		n, err := s.CountPipelines(ctx, c.f)
		ok(t, "count", err)
		if n != c.want {
			t.Errorf("count %+v = %d, want %d", c.f, n, c.want)
		}
		ps, err := s.ListPipelines(ctx, store.PipelineFilter{ProjectID: c.f.ProjectID, Ref: c.f.Ref, Status: c.f.Status, Limit: 500})
		ok(t, "list", err)
		if len(ps) != c.want {
			t.Errorf("list %+v has %d, want %d", c.f, len(ps), c.want)
		}
		for _, p := range ps {
			if (c.f.Ref != "" && p.Ref != c.f.Ref) || (c.f.Status != "" && p.Status != c.f.Status) {
				t.Errorf("list %+v returned %+v", c.f, p)
			}
		}
	}
}

func testJobs(t *testing.T, h *harness) {
	ctx, s := h.ctx, h.s
	proj := h.project("web")
	first := pending("test", at(0))
	p := h.pipeline(proj.ID, "main", first, pending("lint", at(0)))

	p.Status, p.StartedAt, p.FinishedAt, p.Error = store.StatusFailed, at(time.Second), at(time.Minute), "boom"
	p.Ref = "ignored" // UpdatePipeline writes only status, times and error
	ok(t, "update pipeline", s.UpdatePipeline(ctx, p))
	got, err := s.Pipeline(ctx, p.ID)
	ok(t, "read", err)
	if got.Status != store.StatusFailed || !got.StartedAt.Equal(stored(at(time.Second))) || !got.FinishedAt.Equal(stored(at(time.Minute))) ||
		got.Error != "boom" || got.Ref != "main" {
		t.Fatalf("after update: %+v", got)
	}

	retry := &store.Job{PipelineID: p.ID, Name: "test", Stage: "test", Attempt: 2, Status: store.StatusCreated}
	ok(t, "add job", s.AddJob(ctx, retry))
	if retry.ID == 0 || retry.ProjectID != proj.ID {
		t.Fatalf("AddJob set ID %d project %d, want an ID and project %d", retry.ID, retry.ProjectID, proj.ID)
	}
	want := fullJob()
	want.ID, want.PipelineID, want.ProjectID, want.CreatedAt = first.ID, p.ID, proj.ID, first.CreatedAt
	ok(t, "update job", s.UpdateJob(ctx, want))
	gj, err := s.Job(ctx, first.ID)
	ok(t, "job", err)
	if !reflect.DeepEqual(gj, storedJob(want)) {
		t.Fatalf("after UpdateJob:\n got %+v\nwant %+v", gj, storedJob(want))
	}
	jobs, err := s.Jobs(ctx, p.ID)
	ok(t, "jobs", err)
	var names []string
	for _, j := range jobs {
		names = append(names, fmt.Sprintf("%s#%d", j.Name, j.Attempt))
	}
	if !reflect.DeepEqual(names, []string{"test 1/3#2", "lint#0", "test#2"}) {
		t.Fatalf("jobs in ID order = %v", names)
	}
}

func testClaimPipelines(t *testing.T, h *harness) {
	ctx, s := h.ctx, h.s
	proj := h.project("web")
	var open []int64
	for i := range 5 {
		p := h.pipeline(proj.ID, "main")
		if i == 2 {
			p.Status = store.StatusSuccess
			ok(t, "finish", s.UpdatePipeline(ctx, p))
			continue
		}
		open = append(open, p.ID)
	}
	hour := time.Now().Add(time.Hour)
	a, err := s.ClaimPipelines(ctx, "a", hour, 3)
	ok(t, "a claims", err)
	if !reflect.DeepEqual(a, open[:3]) {
		t.Fatalf("a got %v, want the oldest three unfinished %v", a, open[:3])
	}
	b, err := s.ClaimPipelines(ctx, "b", hour, 10)
	ok(t, "b claims", err)
	if !reflect.DeepEqual(b, open[3:]) {
		t.Fatalf("b got %v, want only the one a does not hold %v", b, open[3:])
	}
	a, err = s.ClaimPipelines(ctx, "a", hour, 10)
	ok(t, "a renews", err)
	if !reflect.DeepEqual(a, open[:3]) {
		t.Fatalf("a renewing got %v, want %v", a, open[:3])
	}

	// a's lease runs out: b takes its pipelines.
	_, err = s.ClaimPipelines(ctx, "a", time.Now().Add(-time.Second), 0)
	ok(t, "a lets its lease lapse", err)
	b, err = s.ClaimPipelines(ctx, "b", hour, 10)
	ok(t, "b takes over", err)
	if !reflect.DeepEqual(b, open) {
		t.Fatalf("b got %v, want all of %v", b, open)
	}
	a, err = s.ClaimPipelines(ctx, "a", hour, 10)
	ok(t, "a again", err)
	if len(a) != 0 {
		t.Fatalf("a still holds %v after b took over", a)
	}

	ok(t, "release by a non-holder", s.ReleasePipeline(ctx, "a", open[0]))
	ok(t, "release", s.ReleasePipeline(ctx, "b", open[0]))
	wantErr(t, "release missing", s.ReleasePipeline(ctx, "b", open[len(open)-1]+100), store.ErrNotFound)
	a, err = s.ClaimPipelines(ctx, "a", hour, 10)
	ok(t, "a claims the released one", err)
	if !reflect.DeepEqual(a, open[:1]) {
		t.Fatalf("a got %v, want the released %d", a, open[0])
	}
	p, err := s.Pipeline(ctx, open[1])
	ok(t, "read", err)
	p.Status = store.StatusCanceled
	ok(t, "cancel", s.UpdatePipeline(ctx, p))
	b, err = s.ClaimPipelines(ctx, "b", hour, 10)
	ok(t, "b after cancel", err)
	if slices.Contains(b, open[1]) {
		t.Fatalf("b still coordinates the finished pipeline %d: %v", open[1], b)
	}
}
