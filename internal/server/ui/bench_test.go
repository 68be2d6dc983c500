package ui_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/internal/store"
	"github.com/gantry-ci/gantry/internal/store/sqlite"
)

// benchPipelines is the history the pages are measured against.
const benchPipelines = 10_000

const benchPipelineFile = `
stages: [build, test, deploy]
build: {stage: build, script: [make]}
unit: {stage: test, needs: [build], script: [make test]}
lint: {stage: test, needs: [build], script: [make lint], allow_failure: true}
e2e: {stage: test, script: [make e2e]}
staging: {stage: deploy, needs: [unit], environment: staging, script: [deploy staging]}
production: {stage: deploy, when: manual, environment: {name: production}, script: [deploy production]}
`

// BenchmarkPages renders each page of a project with 10,000 pipelines
// (six jobs each, three branches) from a real SQLite store, through a real
// server on loopback. server-ms is the server's own time for the page
// (its Server-Timing header): store reads, plans and the template.
func BenchmarkPages(b *testing.B) {
	data := filepath.Join(b.TempDir(), "data")
	s := startServer(b, data, -1)
	repo, sha := gitRepo(b, map[string]string{".gitlab-ci.yml": benchPipelineFile})
	if code := s.api(b, "POST", "/api/v1/projects", map[string]any{"name": "big", "repo": repo}, nil); code != 201 {
		b.Fatalf("create project: %d", code)
	}
	populate(b, filepath.Join(data, "gantry.db"), sha)
	c := browserClient(b)
	signIn(b, c, s.url, s.token)

	pages := []struct{ name, path string }{
		{"projects", "/"},
		{"pipelines", "/big/-/pipelines"},
		{"pipelines-filtered", "/big/-/pipelines?ref=feature-b&status=failed"},
		{"pipelines-deep-page", "/big/-/pipelines?before=2000"},
		{"pipeline", "/big/-/pipelines/" + strconv.Itoa(benchPipelines)},
		{"job", "/big/-/jobs/" + strconv.Itoa(benchPipelines*6)},
		{"environments", "/big/-/environments"},
		{"settings", "/big/-/settings"},
	}
	for _, p := range pages {
		b.Run(p.name, func(b *testing.B) {
			measure(b, c, func(int) string { return s.url + p.path })
		})
	}
	// Each request a pipeline whose plan is not cached yet: the git tree
	// is read and the file planned again.
	b.Run("pipeline-unplanned", func(b *testing.B) {
		measure(b, c, func(i int) string {
			return s.url + "/big/-/pipelines/" + strconv.Itoa(benchPipelines-1000-i%8000)
		})
	})
}

func measure(b *testing.B, c *http.Client, url func(i int) string) {
	var server time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		resp, err := c.Get(url(i))
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("GET %s: %d", url(i), resp.StatusCode)
		}
		ms, err := strconv.ParseFloat(strings.TrimPrefix(resp.Header.Get("Server-Timing"), "page;dur="), 64)
		if err != nil {
			b.Fatalf("Server-Timing %q", resp.Header.Get("Server-Timing"))
		}
		server += time.Duration(ms * float64(time.Millisecond))
	}
	b.ReportMetric(float64(server.Microseconds())/1000/float64(b.N), "server-ms/op")
}

// populate writes the history straight into the store: finished
// pipelines (the coordinator leaves them alone) with their jobs and an
// event each, as the server would have.
func populate(b *testing.B, path, sha string) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	proj, err := st.Project(ctx, "big")
	if err != nil {
		b.Fatal(err)
	}
	refs := []string{"main", "feature-a", "feature-b"}
	start := time.Now().Add(-benchPipelines * time.Minute).UTC()
	for i := range benchPipelines {
		at := start.Add(time.Duration(i) * time.Minute)
		status := store.StatusSuccess
		if i%7 == 0 {
			status = store.StatusFailed
		}
		p := &store.Pipeline{
			ProjectID: proj.ID, Ref: refs[i%len(refs)], SHA: sha, Source: "push", Status: status,
			Message: fmt.Sprintf("Change %d of the big project", i), Author: "Dev <dev@example.com>",
			Trigger: json.RawMessage(`{"by":"webhook github"}`), CreatedAt: at, StartedAt: at, FinishedAt: at.Add(95 * time.Second),
		}
		var jobs []*store.Job
		for _, j := range []struct{ name, stage, when string }{
			{"build", "build", "on_success"}, {"unit", "test", "on_success"}, {"lint", "test", "on_success"},
			{"e2e", "test", "on_success"}, {"staging", "deploy", "on_success"}, {"production", "deploy", "manual"},
		} {
			js := store.StatusSuccess
			if j.when == "manual" {
				js = store.StatusManual
			}
			jobs = append(jobs, &store.Job{Name: j.name, Stage: j.stage, When: j.when, Attempt: 1, Status: js,
				CreatedAt: at, StartedAt: at.Add(time.Second), FinishedAt: at.Add(30 * time.Second)})
		}
		if err := st.CreatePipeline(ctx, p, jobs); err != nil {
			b.Fatal(err)
		}
		if err := st.AppendEvent(ctx, &store.Event{ProjectID: proj.ID, PipelineID: p.ID, Type: "pipeline",
			Data: json.RawMessage(`{}`), CreatedAt: at}); err != nil {
			b.Fatal(err)
		}
	}
}
