// Package storetest is the one behaviour suite every store.Store
// implementation passes, so the server can run on SQLite or PostgreSQL
// without noticing the difference.
//
// An implementation's test calls Run with a Storage: a function that
// makes empty storage for one test and returns how to open it. The suite
// opens it several times, closing in between, to check that data
// survives a restart, and opens it twice at once to play two server
// processes against each other.
package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/internal/store"
)

// Storage makes empty storage for one test (registering its removal with
// tb.Cleanup) and returns open, which opens a new handle on that same
// storage each time it is called. The suite closes the handles it opens.
type Storage func(tb testing.TB) (open func() (store.Store, error))

// Run runs the whole suite, each case on fresh storage.
func Run(t *testing.T, storage Storage) {
	cases := []struct {
		name string
		fn   func(t *testing.T, h *harness)
	}{
		{"Projects", testProjects},
		{"Variables", testVariables},
		{"DeleteProjectCascades", testDeleteProject},
		{"PipelineRoundTrip", testPipelineRoundTrip},
		{"EmptyValues", testEmptyValues},
		{"DeliveryDedupe", testDedupe},
		{"MissingReferences", testMissingReferences},
		{"ListPipelines", testListPipelines},
		{"JobsAndUpdates", testJobs},
		{"ClaimPipelines", testClaimPipelines},
		{"ClaimOrder", testClaimOrder},
		{"TagMatching", testTagMatching},
		{"TagMatchingPastFirstBatch", testTagsPastBatch},
		{"Lease", testLease},
		{"ExpiredLeases", testExpiredLeases},
		{"QueueStatsAndLogSize", testQueueStats},
		{"Runners", testRunners},
		{"Tokens", testTokens},
		{"Schedules", testSchedules},
		{"Events", testEvents},
		{"Reopen", testReopen},
		{"ConcurrentClaimJob", testConcurrentClaimJob},
		{"ConcurrentDedupe", testConcurrentDedupe},
		{"ConcurrentClaimDueSchedule", testConcurrentSchedules},
		{"ConcurrentClaimPipelines", testConcurrentClaimPipelines},
		{"ConcurrentEvents", testConcurrentEvents},
		{"Records", testRecords},
		{"ConcurrentRecords", testConcurrentRecords},
		{"ClaimSkipsManual", testClaimSkipsManual},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := &harness{t: t, open: storage(t), ctx: context.Background()}
			h.s = h.reopen()
			c.fn(t, h)
		})
	}
}

// harness is one test's storage and its first open handle.
type harness struct {
	t    *testing.T
	open func() (store.Store, error)
	s    store.Store
	ctx  context.Context
}

// reopen opens another handle on the test's storage, closed at the end
// of the test.
func (h *harness) reopen() store.Store {
	h.t.Helper()
	s, err := h.open()
	if err != nil {
		h.t.Fatalf("open store: %v", err)
	}
	h.t.Cleanup(func() { _ = s.Close() })
	return s
}

// project creates a project named name.
func (h *harness) project(name string) *store.Project {
	h.t.Helper()
	p := &store.Project{Name: name, RepoURL: "file:///srv/" + name, DefaultBranch: "main"}
	if err := h.s.CreateProject(h.ctx, p); err != nil {
		h.t.Fatalf("create project %s: %v", name, err)
	}
	return p
}

// pipeline creates a pipeline of project with jobs.
func (h *harness) pipeline(projectID int64, ref string, jobs ...*store.Job) *store.Pipeline {
	h.t.Helper()
	p := &store.Pipeline{ProjectID: projectID, Ref: ref, SHA: "0123abcd", Source: "push", Status: store.StatusPending}
	if err := h.s.CreatePipeline(h.ctx, p, jobs); err != nil {
		h.t.Fatalf("create pipeline: %v", err)
	}
	return p
}

// pending is a pending job with tags queued at q.
func pending(name string, q time.Time, tags ...string) *store.Job {
	return &store.Job{Name: name, Stage: "test", Status: store.StatusPending, When: "on_success", Tags: tags, QueuedAt: q}
}

// wantErr fails unless errors.Is(err, target).
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	}
}

// ok fails on err.
func ok(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// stored is t as every store returns it: UTC, microseconds.
func stored(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC().Truncate(time.Microsecond)
}

// at is a fixed instant plus d, with nanoseconds and a zone, so round
// trips show truncation and the switch to UTC.
func at(d time.Duration) time.Time {
	return time.Date(2025, 3, 4, 5, 6, 7, 123456789, time.FixedZone("CET", 3600)).Add(d)
}
