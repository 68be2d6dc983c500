package storetest

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/internal/store"
)

func testProjects(t *testing.T, h *harness) {
	ctx, s := h.ctx, h.s
	p := &store.Project{Name: "web", RepoURL: "https://git.example/web.git", DefaultBranch: "main",
		WebhookSecret: "sealed:abc", Public: true, PollInterval: 90 * time.Second}
	ok(t, "create", s.CreateProject(ctx, p))
	if p.ID == 0 || p.CreatedAt.IsZero() || p.CreatedAt.Location() != time.UTC {
		t.Fatalf("create did not set ID and a UTC CreatedAt: %+v", p)
	}
	wantErr(t, "duplicate name", s.CreateProject(ctx, &store.Project{Name: "web"}), store.ErrConflict)

	got, err := s.Project(ctx, "web")
	ok(t, "by name", err)
	if !reflect.DeepEqual(got, p) {
		t.Fatalf("by name = %+v, want %+v", got, p)
	}
	got, err = s.ProjectByID(ctx, p.ID)
	ok(t, "by id", err)
	if !reflect.DeepEqual(got, p) {
		t.Fatalf("by id = %+v, want %+v", got, p)
	}
	_, err = s.Project(ctx, "nope")
	wantErr(t, "missing name", err, store.ErrNotFound)
	_, err = s.ProjectByID(ctx, p.ID+100)
	wantErr(t, "missing id", err, store.ErrNotFound)

	p.RepoURL, p.Public, p.PollInterval, p.WebhookSecret = "/srv/web", false, 0, ""
	ok(t, "update", s.UpdateProject(ctx, p))
	got, err = s.ProjectByID(ctx, p.ID)
	ok(t, "after update", err)
	if !reflect.DeepEqual(got, p) {
		t.Fatalf("after update = %+v, want %+v", got, p)
	}
	wantErr(t, "update missing", s.UpdateProject(ctx, &store.Project{ID: p.ID + 100, Name: "x"}), store.ErrNotFound)

	other := h.project("api")
	other.Name = "web"
	wantErr(t, "rename onto a taken name", s.UpdateProject(ctx, other), store.ErrConflict)

	h.project("zeta")
	ps, err := s.ListProjects(ctx)
	ok(t, "list", err)
	var names []string
	for _, p := range ps {
		names = append(names, p.Name)
	}
	if !reflect.DeepEqual(names, []string{"api", "web", "zeta"}) {
		t.Fatalf("list = %v, want api, web, zeta by name", names)
	}
}

func testVariables(t *testing.T, h *harness) {
	ctx, s := h.ctx, h.s
	p := h.project("web")
	vars, err := s.Variables(ctx, p.ID)
	ok(t, "no variables", err)
	if len(vars) != 0 {
		t.Fatalf("new project has variables %v", vars)
	}
	b := &store.Variable{ProjectID: p.ID, Key: "B", Value: "sealed:1", Masked: true}
	a := &store.Variable{ProjectID: p.ID, Key: "A", Value: "sealed:2", Protected: true, File: true}
	ok(t, "set B", s.SetVariable(ctx, b))
	ok(t, "set A", s.SetVariable(ctx, a))
	b2 := &store.Variable{ProjectID: p.ID, Key: "B", Value: "sealed:3", File: true}
	ok(t, "replace B", s.SetVariable(ctx, b2))
	vars, err = s.Variables(ctx, p.ID)
	ok(t, "variables", err)
	if !reflect.DeepEqual(vars, []*store.Variable{a, b2}) {
		t.Fatalf("variables = %+v, want A then the replaced B", vars)
	}
	ok(t, "delete A", s.DeleteVariable(ctx, p.ID, "A"))
	wantErr(t, "delete A again", s.DeleteVariable(ctx, p.ID, "A"), store.ErrNotFound)
	vars, err = s.Variables(ctx, p.ID)
	ok(t, "variables", err)
	if len(vars) != 1 || vars[0].Key != "B" {
		t.Fatalf("after delete = %+v, want only B", vars)
	}
	wantErr(t, "variable of a missing project",
		s.SetVariable(ctx, &store.Variable{ProjectID: p.ID + 100, Key: "X"}), store.ErrNotFound)
}

func testDeleteProject(t *testing.T, h *harness) {
	ctx, s := h.ctx, h.s
	// fill makes a project with one of everything that belongs to it.
	fill := func(name string) (*store.Project, *store.Pipeline, *store.Job, *store.Token, *store.Schedule) {
		p := h.project(name)
		ok(t, "variable", s.SetVariable(ctx, &store.Variable{ProjectID: p.ID, Key: "K", Value: "v"}))
		j := pending("build", time.Time{})
		pl := h.pipeline(p.ID, "main", j)
		tok := &store.Token{Hash: "hash-" + name, Kind: store.TokenJob, Name: "job", ProjectID: p.ID, JobID: j.ID}
		ok(t, "token", s.CreateToken(ctx, tok))
		sc := &store.Schedule{ProjectID: p.ID, Cron: "@daily", Ref: "main", Active: true}
		ok(t, "schedule", s.CreateSchedule(ctx, sc))
		ok(t, "event", s.AppendEvent(ctx, &store.Event{ProjectID: p.ID, PipelineID: pl.ID, Type: "pipeline",
			Data: json.RawMessage(`{}`)}))
		return p, pl, j, tok, sc
	}
	gone, goneP, goneJ, goneT, _ := fill("gone")
	kept, keptP, keptJ, keptT, keptS := fill("kept")

	ok(t, "delete", s.DeleteProject(ctx, gone.ID))
	wantErr(t, "delete again", s.DeleteProject(ctx, gone.ID), store.ErrNotFound)
	_, err := s.ProjectByID(ctx, gone.ID)
	wantErr(t, "deleted project", err, store.ErrNotFound)
	_, err = s.Pipeline(ctx, goneP.ID)
	wantErr(t, "its pipeline", err, store.ErrNotFound)
	_, err = s.Job(ctx, goneJ.ID)
	wantErr(t, "its job", err, store.ErrNotFound)
	_, err = s.TokenByHash(ctx, goneT.Hash)
	wantErr(t, "its job token", err, store.ErrNotFound)
	vars, err := s.Variables(ctx, gone.ID)
	ok(t, "its variables", err)
	scheds, err := s.Schedules(ctx, 0)
	ok(t, "schedules", err)
	evs, err := s.EventsAfter(ctx, 0, store.EventFilter{}, 10)
	ok(t, "events", err)
	if len(vars) != 0 || len(scheds) != 1 || scheds[0].ID != keptS.ID || len(evs) != 1 || evs[0].ProjectID != kept.ID {
		t.Fatalf("after delete: variables %v, schedules %v, events %v; want only the kept project's", vars, scheds, evs)
	}

	if _, err := s.Pipeline(ctx, keptP.ID); err != nil {
		t.Fatalf("other project's pipeline: %v", err)
	}
	if _, err := s.Job(ctx, keptJ.ID); err != nil {
		t.Fatalf("other project's job: %v", err)
	}
	if _, err := s.TokenByHash(ctx, keptT.Hash); err != nil {
		t.Fatalf("other project's token: %v", err)
	}
}
