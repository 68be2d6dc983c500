package engine

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/gantry-ci/gantry/internal/pipeline"
	"github.com/gantry-ci/gantry/internal/plan"
)

func TestDotenvReachesJobsThatReceiveArtifacts(t *testing.T) {
	produce := job("produce", "build",
		`echo "VERSION=1.2.$((1+1))" > build.env`,
		`echo "SHARED=from-dotenv" >> build.env`,
		`echo "OVERRIDE=from-dotenv" >> build.env`)
	produce.Def.Artifacts = &pipeline.Artifacts{Reports: pipeline.Reports{Dotenv: []string{"build.env"}}}
	show := `echo "[$VERSION|$SHARED|$OVERRIDE|$MSG|$TEST_DEPS]"`
	jobVars := func(j *plan.Job) {
		j.Variables = append(j.Variables,
			pipeline.Variable{Name: "SHARED", Value: "from-job"},
			pipeline.Variable{Name: "MSG", Value: "v$VERSION"})
	}
	p := newPlan([]string{"build", "test"},
		produce,
		job("other", "build", "true"),
		with(job("stage-order", "test", show), jobVars),
		with(job("needs-artifacts", "test", show), func(j *plan.Job) {
			jobVars(j)
			j.Needs = []plan.Need{{Job: "produce", Artifacts: true}}
		}),
		with(job("needs-no-artifacts", "test", show), func(j *plan.Job) {
			j.Needs = []plan.Need{{Job: "produce", Artifacts: false}}
		}),
		with(job("no-dependencies", "test", show), func(j *plan.Job) { j.Dependencies = []string{} }),
		with(job("dependencies-other", "test", show), func(j *plan.Job) { j.Dependencies = []string{"other"} }),
	)
	sum, rec := run(t, p, Options{PipelineVariables: []pipeline.Variable{{Name: "OVERRIDE", Value: "from-cli"}}})
	if sum.Status != StatusSuccess {
		t.Fatalf("pipeline %s", sum.Status)
	}
	want := map[string]string{
		// dotenv is above job variables, pipeline variables above dotenv
		"stage-order":        "[1.2.2|from-dotenv|from-cli|v1.2.2|produce,other]",
		"needs-artifacts":    "[1.2.2|from-dotenv|from-cli|v1.2.2|produce]",
		"needs-no-artifacts": "[||from-cli||]",
		"no-dependencies":    "[||from-cli||]",
		"dependencies-other": "[||from-cli||other]",
	}
	for name, w := range want {
		if got := strings.TrimSpace(rec.log(name)); got != w {
			t.Errorf("%s printed %q, want %q", name, got, w)
		}
	}
}

func TestSecretsMaskedInLog(t *testing.T) {
	j := job("leaky", "build",
		// Pieces of a secret come out in separate writes.
		`printf 'opt-se'; sleep 0.05; printf 'cret-123\n'`,
		`echo "token=$TOKEN"`,
		`echo "suffix alone: $SUFFIX"`)
	j.Variables = append(j.Variables,
		pipeline.Variable{Name: "SUFFIX", Value: "abcdef"},
		pipeline.Variable{Name: "TOKEN", Value: "tok-$SUFFIX-xyz", Secret: true})
	_, rec := run(t, newPlan([]string{"build"}, j), Options{Secrets: []string{"opt-secret-123"}})
	chunks := 0
	for _, e := range rec.events {
		if l, ok := e.(JobLog); ok {
			chunks++
			for _, s := range []string{"opt-secret-123", "tok-abcdef-xyz"} {
				if strings.Contains(l.Chunk, s) {
					t.Errorf("chunk %q shows secret %q", l.Chunk, s)
				}
			}
		}
	}
	want := "[MASKED]\ntoken=[MASKED]\nsuffix alone: abcdef\n"
	if got := rec.log("leaky"); got != want {
		t.Errorf("log %q, want %q", got, want)
	}
	if chunks == 0 {
		t.Error("no job_log events")
	}
}

// Every event must be usable by a consumer that only reads JSON.
func TestEventsMarshal(t *testing.T) {
	j := job("build", "build", "echo hi", "exit 1")
	j.Def.Retry = pipeline.Retry{Max: 1}
	p := newPlan([]string{"build", "test"}, j, job("test", "test", "true"),
		with(job("delayed", "build", "true"), func(j *plan.Job) { j.When = pipeline.WhenDelayed; j.StartIn = time2h }))
	_, rec := run(t, p, Options{Clock: scaledClock{factor: 1_000_000}})
	types := map[string]bool{}
	for _, e := range rec.events {
		data, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatal(err)
		}
		if m["type"] != e.EventType() || m["status"] == "" || m["status"] == nil {
			t.Errorf("%s lacks type or status", data)
		}
		if eventJob(e) != "" && m["job"] != eventJob(e) {
			t.Errorf("%s lacks job", data)
		}
		types[e.EventType()] = true
	}
	for _, typ := range []string{TypePipelineStarted, TypeJobQueued, TypeJobStarted, TypeJobLog, TypeJobFinished, TypePipelineFinished} {
		if !types[typ] {
			t.Errorf("no %s event", typ)
		}
	}
	if _, ok := rec.events[0].(PipelineStarted); !ok {
		t.Errorf("first event %T", rec.events[0])
	}
	if _, ok := rec.events[len(rec.events)-1].(PipelineFinished); !ok {
		t.Errorf("last event %T", rec.events[len(rec.events)-1])
	}
}
