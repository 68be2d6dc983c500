package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/internal/store"
)

func testRecords(t *testing.T, h *harness) {
	ctx, s := h.ctx, h.s
	r := &store.Record{Kind: "rollout", Key: "app/staging", Data: []byte(`{"phase":"Progressing"}`)}
	ok(t, "create", s.PutRecord(ctx, r))
	if r.Version != 1 {
		t.Fatalf("new record has version %d, want 1", r.Version)
	}
	dup := &store.Record{Kind: "rollout", Key: "app/staging", Data: []byte(`{}`)}
	if err := s.PutRecord(ctx, dup); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("creating an existing record: %v, want ErrConflict", err)
	}
	r.Data = []byte(`{"phase":"Healthy"}`)
	ok(t, "update", s.PutRecord(ctx, r))
	stale := &store.Record{Kind: "rollout", Key: "app/staging", Version: 1, Data: []byte(`{"phase":"Aborted"}`)}
	if err := s.PutRecord(ctx, stale); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("a stale write: %v, want ErrConflict", err)
	}
	got, err := s.GetRecord(ctx, "rollout", "app/staging")
	ok(t, "get", err)
	if got.Version != 2 || string(got.Data) != `{"phase":"Healthy"}` || got.UpdatedAt.IsZero() {
		t.Fatalf("got %+v", got)
	}
	if _, err := s.GetRecord(ctx, "rollout", "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing record: %v", err)
	}
	for _, k := range []string{"app/production", "other/staging", "ápp/x"} {
		ok(t, "create "+k, s.PutRecord(ctx, &store.Record{Kind: "rollout", Key: k, Data: []byte(`1`)}))
	}
	ok(t, "other kind", s.PutRecord(ctx, &store.Record{Kind: "revision", Key: "app/x", Data: []byte(`2`)}))
	list, err := s.ListRecords(ctx, "rollout", "app/")
	ok(t, "list", err)
	var keys []string
	for _, x := range list {
		keys = append(keys, x.Key)
	}
	if fmt.Sprint(keys) != "[app/production app/staging]" {
		t.Fatalf("list rollout app/*: %v", keys)
	}
	list, err = s.ListRecords(ctx, "rollout", "ápp/")
	ok(t, "list non-ASCII prefix", err)
	if len(list) != 1 || list[0].Key != "ápp/x" {
		t.Fatalf("list ápp/*: %+v", list)
	}
	ok(t, "delete", s.DeleteRecord(ctx, "rollout", "app/staging"))
	if err := s.DeleteRecord(ctx, "rollout", "app/staging"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleting twice: %v", err)
	}
}

// testConcurrentRecords: of writers racing from one version, exactly one
// wins each round, as the rollout controller relies on.
func testConcurrentRecords(t *testing.T, h *harness) {
	ctx := h.ctx
	other := h.reopen()
	stores := []store.Store{h.s, other}
	ok(t, "create", h.s.PutRecord(ctx, &store.Record{Kind: "k", Key: "x", Data: []byte(`0`)}))
	for round := range 10 {
		cur, err := h.s.GetRecord(ctx, "k", "x")
		ok(t, "get", err)
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins := 0
		for i := range 8 {
			wg.Go(func() {
				r := &store.Record{Kind: "k", Key: "x", Version: cur.Version, Data: []byte(fmt.Sprint(i))}
				err := stores[i%2].PutRecord(ctx, r)
				switch {
				case err == nil:
					mu.Lock()
					wins++
					mu.Unlock()
				case !errors.Is(err, store.ErrConflict):
					t.Errorf("round %d writer %d: %v", round, i, err)
				}
			})
		}
		wg.Wait()
		if wins != 1 {
			t.Fatalf("round %d: %d writers won, want 1", round, wins)
		}
	}
}

// testClaimSkipsManual: a pipeline waiting on a manual job needs no
// coordinator until the job is played.
func testClaimSkipsManual(t *testing.T, h *harness) {
	ctx, s := h.ctx, h.s
	proj := h.project("web")
	p := h.pipeline(proj.ID, "main")
	p.Status = store.StatusManual
	ok(t, "park", s.UpdatePipeline(ctx, p))
	ids, err := s.ClaimPipelines(ctx, "a", time.Now().Add(time.Hour), 10)
	ok(t, "claim", err)
	if len(ids) != 0 {
		t.Fatalf("claimed a manual pipeline: %v", ids)
	}
	p.Status = store.StatusPending
	ok(t, "play", s.UpdatePipeline(ctx, p))
	ids, err = s.ClaimPipelines(ctx, "a", time.Now().Add(time.Hour), 10)
	ok(t, "claim", err)
	if len(ids) != 1 || ids[0] != p.ID {
		t.Fatalf("claimed %v, want [%d]", ids, p.ID)
	}
}
