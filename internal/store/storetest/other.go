package storetest

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/internal/store"
)

func testRunners(t *testing.T, h *harness) {
	ctx, s := h.ctx, h.s
	r := &store.Runner{Name: "box", TokenHash: "h1", Tags: []string{"linux", "docker"}, RunUntagged: true,
		Concurrency: 4, LastSeen: at(0)}
	ok(t, "create", s.CreateRunner(ctx, r))
	if r.ID == 0 || r.CreatedAt.IsZero() {
		t.Fatalf("create did not set ID and CreatedAt: %+v", r)
	}
	wantErr(t, "duplicate token", s.CreateRunner(ctx, &store.Runner{Name: "other", TokenHash: "h1"}), store.ErrConflict)
	got, err := s.RunnerByTokenHash(ctx, "h1")
	ok(t, "by hash", err)
	want := *r
	want.LastSeen = stored(r.LastSeen)
	if !reflect.DeepEqual(got, &want) {
		t.Fatalf("by hash = %+v, want %+v", got, &want)
	}
	_, err = s.RunnerByTokenHash(ctx, "nope")
	wantErr(t, "unknown hash", err, store.ErrNotFound)

	ok(t, "touch", s.TouchRunner(ctx, r.ID, at(time.Hour)))
	wantErr(t, "touch missing", s.TouchRunner(ctx, r.ID+100, at(time.Hour)), store.ErrNotFound)
	r2 := &store.Runner{Name: "builtin", TokenHash: "h2"}
	ok(t, "create untagged", s.CreateRunner(ctx, r2))
	rs, err := s.ListRunners(ctx)
	ok(t, "list", err)
	if len(rs) != 2 || rs[0].ID != r.ID || !rs[0].LastSeen.Equal(stored(at(time.Hour))) || rs[1].Tags != nil || !rs[1].LastSeen.IsZero() {
		t.Fatalf("list = %+v %+v", rs[0], rs[1])
	}
	ok(t, "delete", s.DeleteRunner(ctx, r.ID))
	wantErr(t, "delete again", s.DeleteRunner(ctx, r.ID), store.ErrNotFound)
	_, err = s.RunnerByTokenHash(ctx, "h1")
	wantErr(t, "deleted runner", err, store.ErrNotFound)
}

func testTokens(t *testing.T, h *harness) {
	ctx, s := h.ctx, h.s
	admin := &store.Token{Hash: "a", Kind: store.TokenAdmin, Name: "root"}
	job := &store.Token{Hash: "j", Kind: store.TokenJob, Name: "job 1", ProjectID: 3, JobID: 1, ExpiresAt: at(0)}
	later := &store.Token{Hash: "k", Kind: store.TokenJob, Name: "job 2", ProjectID: 3, JobID: 2, ExpiresAt: at(time.Hour)}
	for _, tok := range []*store.Token{admin, job, later} {
		ok(t, "create", s.CreateToken(ctx, tok))
	}
	wantErr(t, "duplicate hash", s.CreateToken(ctx, &store.Token{Hash: "a", Kind: store.TokenUser}), store.ErrConflict)
	got, err := s.TokenByHash(ctx, "j")
	ok(t, "by hash", err)
	want := *job
	want.ExpiresAt = stored(job.ExpiresAt)
	if !reflect.DeepEqual(got, &want) {
		t.Fatalf("by hash = %+v, want %+v", got, &want)
	}
	_, err = s.TokenByHash(ctx, "zzz")
	wantErr(t, "unknown", err, store.ErrNotFound)

	n, err := s.DeleteExpiredTokens(ctx, at(time.Minute))
	ok(t, "delete expired", err)
	if n != 1 {
		t.Fatalf("deleted %d expired tokens, want 1", n)
	}
	ts, err := s.ListTokens(ctx)
	ok(t, "list", err)
	if len(ts) != 2 || ts[0].Hash != "a" || ts[1].Hash != "k" || !ts[0].ExpiresAt.IsZero() {
		t.Fatalf("left %+v, want the admin token (never expires) and the later job token", ts)
	}
	ok(t, "delete", s.DeleteToken(ctx, admin.ID))
	wantErr(t, "delete again", s.DeleteToken(ctx, admin.ID), store.ErrNotFound)
}

func testSchedules(t *testing.T, h *harness) {
	ctx, s := h.ctx, h.s
	web, api := h.project("web"), h.project("api")
	nightly := &store.Schedule{ProjectID: web.ID, Description: "nightly", Cron: "CRON_TZ=Europe/Paris 0 3 * * *",
		Ref: "main", Variables: json.RawMessage(`[{"key":"X","value":"1"}]`), Active: true, NextRun: at(0)}
	off := &store.Schedule{ProjectID: web.ID, Cron: "@hourly", Ref: "dev", Active: false, NextRun: at(0)}
	unset := &store.Schedule{ProjectID: api.ID, Cron: "@hourly", Ref: "main", Active: true}
	for _, sc := range []*store.Schedule{nightly, off, unset} {
		ok(t, "create", s.CreateSchedule(ctx, sc))
	}
	all, err := s.Schedules(ctx, 0)
	ok(t, "all", err)
	mine, err := s.Schedules(ctx, web.ID)
	ok(t, "web's", err)
	want := *nightly
	want.NextRun = stored(nightly.NextRun)
	if len(all) != 3 || len(mine) != 2 || !reflect.DeepEqual(mine[0], &want) {
		t.Fatalf("schedules: all %d (want 3), web %d (want 2), first %+v want %+v", len(all), len(mine), mine[0], &want)
	}

	next := func(sc *store.Schedule) time.Time { return sc.NextRun.Add(24 * time.Hour) }
	none, err := s.ClaimDueSchedule(ctx, at(-time.Minute), next)
	ok(t, "nothing due yet", err)
	if none != nil {
		t.Fatalf("claimed %+v before it was due", none)
	}
	now := at(time.Minute)
	got, err := s.ClaimDueSchedule(ctx, now, next)
	ok(t, "claim", err)
	if got == nil || got.ID != nightly.ID || !got.NextRun.Equal(stored(at(24*time.Hour))) || !got.LastRun.Equal(stored(now)) {
		t.Fatalf("claimed %+v, want nightly moved to the next day", got)
	}
	again, err := s.ClaimDueSchedule(ctx, now, next)
	ok(t, "claim again", err)
	if again != nil {
		t.Fatalf("claimed %+v again: inactive and unset schedules are never due", again)
	}
	reread, err := s.Schedules(ctx, web.ID)
	ok(t, "read", err)
	if !reread[0].NextRun.Equal(stored(at(24 * time.Hour))) {
		t.Fatalf("next run not stored: %+v", reread[0])
	}

	off.Active, off.Description, off.NextRun = true, "hourly dev", at(30*time.Second)
	ok(t, "update", s.UpdateSchedule(ctx, off))
	got, err = s.ClaimDueSchedule(ctx, now, next)
	ok(t, "claim updated", err)
	if got == nil || got.ID != off.ID || got.Description != "hourly dev" {
		t.Fatalf("claimed %+v, want the re-activated schedule", got)
	}
	wantErr(t, "update missing", s.UpdateSchedule(ctx, &store.Schedule{ID: off.ID + 100}), store.ErrNotFound)
	ok(t, "delete", s.DeleteSchedule(ctx, off.ID))
	wantErr(t, "delete again", s.DeleteSchedule(ctx, off.ID), store.ErrNotFound)
}

func testEvents(t *testing.T, h *harness) {
	ctx, s := h.ctx, h.s
	var last int64
	for i := range 30 {
		e := &store.Event{ProjectID: int64(1 + i%2), PipelineID: int64(10 + i%3), JobID: int64(i % 5), Type: "job",
			Data: json.RawMessage(fmt.Sprintf(`{"i": %d}`, i))}
		if i == 0 {
			e.CreatedAt, e.Data = at(0), nil
		}
		ok(t, "append", s.AppendEvent(ctx, e))
		if e.ID <= last {
			t.Fatalf("event ID %d after %d", e.ID, last)
		}
		last = e.ID
	}
	var got []*store.Event
	after := int64(0)
	for {
		page, err := s.EventsAfter(ctx, after, store.EventFilter{}, 7)
		ok(t, "page", err)
		if len(page) == 0 {
			break
		}
		if len(page) > 7 {
			t.Fatalf("page of %d, limit 7", len(page))
		}
		got = append(got, page...)
		after = page[len(page)-1].ID
	}
	if len(got) != 30 {
		t.Fatalf("paged %d events, want 30", len(got))
	}
	for i, e := range got {
		if i > 0 && e.ID <= got[i-1].ID {
			t.Fatalf("events out of order: %d after %d", e.ID, got[i-1].ID)
		}
		if i > 0 && string(e.Data) != fmt.Sprintf(`{"i": %d}`, i) {
			t.Fatalf("event %d data %s", i, e.Data)
		}
	}
	if got[0].Data != nil || !got[0].CreatedAt.Equal(stored(at(0))) || got[0].Type != "job" {
		t.Fatalf("first event = %+v", got[0])
	}
	for _, c := range []struct {
		f    store.EventFilter
		want int
	}{
		{store.EventFilter{ProjectID: 1}, 15},
		{store.EventFilter{PipelineID: 11}, 10},
		{store.EventFilter{ProjectID: 2, PipelineID: 11}, 5},
		{store.EventFilter{JobID: 4}, 6},
		{store.EventFilter{ProjectID: 3}, 0},
	} {
		es, err := s.EventsAfter(ctx, 0, c.f, 100)
		ok(t, "filter", err)
		if len(es) != c.want {
			t.Errorf("filter %+v: %d events, want %d", c.f, len(es), c.want)
		}
		for _, e := range es {
			if (c.f.ProjectID != 0 && e.ProjectID != c.f.ProjectID) || (c.f.PipelineID != 0 && e.PipelineID != c.f.PipelineID) ||
				(c.f.JobID != 0 && e.JobID != c.f.JobID) {
				t.Errorf("filter %+v returned %+v", c.f, e)
			}
		}
	}
	tail, err := s.EventsAfter(ctx, got[27].ID, store.EventFilter{}, 0)
	ok(t, "tail", err)
	if len(tail) != 2 {
		t.Fatalf("after the 28th event: %d events, want 2", len(tail))
	}
}

// testReopen closes the store and opens the same storage again: what was
// written is there, and opening (migrating) twice changes nothing.
func testReopen(t *testing.T, h *harness) {
	ctx := h.ctx
	proj := h.project("web")
	j := pending("build", at(0), "linux")
	p := h.pipeline(proj.ID, "main", j)
	ok(t, "event", h.s.AppendEvent(ctx, &store.Event{ProjectID: proj.ID, Type: "x"}))
	ok(t, "close", h.s.Close())

	for range 2 {
		s := h.reopen()
		got, err := s.Project(ctx, "web")
		ok(t, "project after reopen", err)
		jobs, err := s.Jobs(ctx, p.ID)
		ok(t, "jobs after reopen", err)
		evs, err := s.EventsAfter(ctx, 0, store.EventFilter{}, 10)
		ok(t, "events after reopen", err)
		if got.ID != proj.ID || len(jobs) != 1 || !reflect.DeepEqual(jobs[0].Tags, []string{"linux"}) || len(evs) != 1 {
			t.Fatalf("after reopen: project %+v, jobs %+v, events %d", got, jobs, len(evs))
		}
		ok(t, "close", s.Close())
	}
	s := h.reopen()
	p2 := &store.Pipeline{ProjectID: proj.ID, Status: store.StatusPending}
	ok(t, "write after reopen", s.CreatePipeline(ctx, p2, nil))
	if p2.ID <= p.ID {
		t.Fatalf("new pipeline ID %d not above %d", p2.ID, p.ID)
	}
}
