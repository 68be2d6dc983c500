package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/internal/forge"
	"github.com/gantry-ci/gantry/internal/runner"
	"github.com/gantry-ci/gantry/internal/runnerapi"
	"github.com/gantry-ci/gantry/internal/store/pgtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.Stop()
	os.Exit(code)
}

// benchServer starts an in-process server without a built-in runner on
// db ("" for SQLite) with one project whose pipeline has one job.
func benchServer(b *testing.B, db string) (*Server, string) {
	b.Helper()
	if db == "postgres" {
		db = pgtest.Start(b) // a fresh database for every run
	}
	repo := filepath.Join(b.TempDir(), "repo")
	for _, args := range [][]string{
		{"init", "-q", "-b", "main", repo},
		{"-C", repo, "-c", "user.email=b@example.com", "-c", "user.name=b", "commit", "-q", "--allow-empty", "-m", "init"},
	} {
		if out, err := exec.Command("git", args...).CombinedOutput(); err != nil {
			b.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	if err := os.WriteFile(filepath.Join(repo, ".gitlab-ci.yml"), []byte("job:\n  script: echo hi\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	if out, err := exec.Command("git", "-C", repo, "-c", "user.email=b@example.com", "-c", "user.name=b", "commit", "-qam", "ci").CombinedOutput(); err != nil {
		exec.Command("git", "-C", repo, "add", ".").Run()
		if out, err = exec.Command("git", "-C", repo, "-c", "user.email=b@example.com", "-c", "user.name=b", "commit", "-qm", "ci").CombinedOutput(); err != nil {
			b.Fatalf("commit: %v\n%s", err, out)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	s, err := New(ctx, Config{Data: b.TempDir(), Listen: "127.0.0.1:0", DB: db, Runners: -1,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	b.Cleanup(func() { cancel(); <-done })
	if _, err := s.addProject(ctx, projectBody{Name: "app", Repo: repo}); err != nil {
		b.Fatal(err)
	}
	return s, repo
}

func stores(b *testing.B) map[string]string {
	dbs := map[string]string{"sqlite": ""}
	if _, err := exec.LookPath("initdb"); err == nil {
		dbs["postgres"] = "postgres"
	}
	return dbs
}

// BenchmarkWebhookAccept measures signed GitLab push deliveries the
// server turns into stored pipelines per second, 8 at a time.
func BenchmarkWebhookAccept(b *testing.B) {
	for name, db := range stores(b) {
		b.Run(name, func(b *testing.B) {
			s, repo := benchServer(b, db)
			sha, _ := exec.Command("git", "-C", repo, "rev-parse", "HEAD").Output()
			proj, _ := s.store.Project(context.Background(), "app")
			secret, _ := s.box.Open(proj.WebhookSecret, webhookAAD("app"))
			body, _ := json.Marshal(map[string]any{"object_kind": "push", "ref": "refs/heads/main",
				"before": "0000000000000000000000000000000000000000", "after": string(bytes.TrimSpace(sha)),
				"checkout_sha": string(bytes.TrimSpace(sha))})
			var failed atomic.Int64
			b.SetParallelism(4) // 4 × GOMAXPROCS senders
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					h := forge.Sign(forge.KindGitLab, body, string(secret))
					h.Set("X-Gitlab-Event", "Push Hook")
					req, _ := http.NewRequest("POST", s.URL()+"/hooks/app/gitlab", bytes.NewReader(body))
					req.Header = h
					resp, err := http.DefaultClient.Do(req)
					if err != nil || resp.StatusCode != http.StatusCreated {
						failed.Add(1)
					}
					if resp != nil {
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
					}
				}
			})
			b.StopTimer()
			if failed.Load() > 0 {
				b.Fatalf("%d deliveries failed", failed.Load())
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pipelines/s")
		})
	}
}

// BenchmarkQueueLatency measures the time from a job becoming runnable
// (queued) to an idle runner long-polling the server receiving it.
func BenchmarkQueueLatency(b *testing.B) {
	for name, db := range stores(b) {
		b.Run(name, func(b *testing.B) {
			s, _ := benchServer(b, db)
			ctx := context.Background()
			_, tok, err := s.registerRunner(ctx, runnerBody{Name: "bench"})
			if err != nil {
				b.Fatal(err)
			}
			c, err := runner.NewClient(s.URL(), tok, nil)
			if err != nil {
				b.Fatal(err)
			}
			proj, _ := s.store.Project(ctx, "app")
			var (
				mu        sync.Mutex
				latencies []time.Duration
			)
			claimed := make(chan int64, 1)
			idle := make(chan struct{}, 1)
			go func() {
				for {
					idle <- struct{}{}
					spec, err := c.RequestJob(ctx, 30*time.Second)
					if err != nil {
						return
					}
					if spec == nil {
						<-idle
						continue
					}
					got := time.Now()
					j, err := s.store.Job(ctx, spec.ID)
					if err == nil {
						mu.Lock()
						latencies = append(latencies, got.Sub(j.QueuedAt))
						mu.Unlock()
					}
					claimed <- spec.ID
				}
			}()
			b.ResetTimer()
			for range b.N {
				<-idle                           // the runner is waiting
				time.Sleep(2 * time.Millisecond) // and its request reached the server
				if _, err := s.createPipeline(ctx, proj, trigger{Source: "api", Ref: "main", By: "bench"}); err != nil {
					b.Fatal(err)
				}
				id := <-claimed
				if err := c.Finish(ctx, id, runnerResult()); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			mu.Lock()
			defer mu.Unlock()
			slices.Sort(latencies)
			q := func(p float64) float64 {
				return float64(latencies[min(len(latencies)-1, int(p*float64(len(latencies))))].Microseconds()) / 1000
			}
			b.ReportMetric(q(0.50), "p50-ms")
			b.ReportMetric(q(0.99), "p99-ms")
			fmt.Fprintf(os.Stderr, "%s queue latency over %d jobs: p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
				name, len(latencies), q(0.5), q(0.99), q(1))
		})
	}
}

func runnerResult() runnerapi.Result { return runnerapi.Result{Status: "success"} }
