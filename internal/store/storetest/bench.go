package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/internal/store"
)

// BenchClaimJob measures ClaimJob taking one job at a time from a queue
// of b.N jobs the runner can take: "ready" with nothing else queued,
// "behind-1000" with 1000 older jobs tagged for other runners at the head
// of the queue, which every claim has to pass over.
func BenchClaimJob(b *testing.B, storage Storage) {
	for _, c := range []struct {
		name    string
		backlog int
	}{{"ready", 0}, {"behind-1000", 1000}} {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			s := benchStore(b, storage)
			p := &store.Project{Name: "bench"}
			if err := s.CreateProject(ctx, p); err != nil {
				b.Fatal(err)
			}
			queue(b, s, p.ID, c.backlog, "windows")
			queue(b, s, p.ID, b.N, "linux")
			if a, ok := s.(Analyzer); ok {
				if err := a.Analyze(ctx); err != nil {
					b.Fatal(err)
				}
			}
			r := &store.Runner{ID: 1, Tags: []string{"linux", "docker"}}
			lease := time.Now().Add(time.Hour)
			b.ResetTimer()
			for range b.N {
				j, err := s.ClaimJob(ctx, r, lease)
				if err != nil || j == nil {
					b.Fatalf("claim: %v, %v", j, err)
				}
			}
		})
	}
}

// Analyzer is a store whose query planner wants fresh statistics after
// a bulk load (PostgreSQL). The benchmarks call it after filling the
// queue, as autovacuum soon would in production.
type Analyzer interface {
	Analyze(ctx context.Context) error
}

// queue adds n pending jobs with tag, in pipelines of up to 500 jobs.
func queue(b *testing.B, s store.Store, projectID int64, n int, tag string) {
	for n > 0 {
		var jobs []*store.Job
		for ; n > 0 && len(jobs) < 500; n-- {
			jobs = append(jobs, pending(fmt.Sprint(n), time.Time{}, tag))
		}
		p := &store.Pipeline{ProjectID: projectID, Status: store.StatusPending}
		if err := s.CreatePipeline(context.Background(), p, jobs); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchCreatePipeline measures creating a pipeline of five jobs with a
// delivery ID, as a webhook does.
func BenchCreatePipeline(b *testing.B, storage Storage) {
	ctx := context.Background()
	s := benchStore(b, storage)
	p := &store.Project{Name: "bench"}
	if err := s.CreateProject(ctx, p); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := range b.N {
		jobs := make([]*store.Job, 5)
		for k := range jobs {
			jobs[k] = pending(fmt.Sprintf("job %d", k), time.Time{}, "linux")
			jobs[k].Payload = []byte(`{"script":["make test"],"image":"golang:1.26"}`)
		}
		pl := &store.Pipeline{ProjectID: p.ID, Ref: "main", SHA: "0123456789abcdef", Status: store.StatusPending,
			DeliveryID: fmt.Sprintf("delivery-%d", i)}
		if err := s.CreatePipeline(ctx, pl, jobs); err != nil {
			b.Fatal(err)
		}
	}
}

func benchStore(b *testing.B, storage Storage) store.Store {
	s, err := storage(b)()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return s
}
