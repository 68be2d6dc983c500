package plan

import (
	"context"
	"os"
	"slices"
	"testing"

	"github.com/gantry-ci/gantry/internal/pipeline"
	"github.com/gantry-ci/gantry/internal/pipeline/gitlab"
)

// TestSeedPipeline plans the real-world seed file for the five events a
// project sees, with the job sets GitLab creates for them: jobs without
// only get the default `only: [branches, tags]` and so stay out of the
// merge request pipeline, plain branch names in only: never match a merge
// request pipeline, and `only: [tags]` jobs run for tags alone.
func TestSeedPipeline(t *testing.T) {
	data, err := os.ReadFile("../pipeline/gitlab/testdata/seed.gitlab-ci.yml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := gitlab.Load(context.Background(), ".gitlab-ci.yml", data, gitlab.Options{})
	if err != nil {
		t.Fatal(err)
	}
	always := []string{"check:audit", "build:wasm", "test:unit", "test:integration"}
	cases := []struct {
		name   string
		in     Input
		jobs   []string
		stages []string
	}{
		{
			name: "push to main",
			in:   pushMain,
			jobs: []string{"check:format", "check:clippy", "check:audit", "build:wasm",
				"test:unit", "test:integration", "benchmark", "package:docker"},
			stages: []string{"check", "build", "test", "package"},
		},
		{
			name: "push to develop",
			in:   pushDevelop,
			jobs: []string{"check:format", "check:clippy", "check:audit", "build:wasm",
				"test:unit", "test:integration", "package:docker", "deploy:staging"},
			stages: []string{"check", "build", "test", "package", "deploy"},
		},
		{
			name:   "push to a feature branch",
			in:     pushFeature,
			jobs:   always,
			stages: []string{"check", "build", "test"},
		},
		{
			name:   "tag",
			in:     tagV123,
			jobs:   append(slices.Clone(always), "package:docker", "deploy:production"),
			stages: []string{"check", "build", "test", "package", "deploy"},
		},
		{
			name:   "merge request from feature/login to main",
			in:     mrFeature,
			jobs:   []string{"check:format", "check:clippy"},
			stages: []string{"check"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Make(p, c.in)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Created {
				t.Fatalf("not created: %s", got.Reason)
			}
			if names := jobNames(got); !slices.Equal(names, c.jobs) {
				t.Errorf("jobs = %q\nwant   %q", names, c.jobs)
			}
			if !slices.Equal(got.Stages, c.stages) {
				t.Errorf("stages = %q, want %q", got.Stages, c.stages)
			}
			if len(got.Jobs)+len(got.Skipped) != len(p.Jobs) {
				t.Errorf("%d kept + %d skipped != %d jobs", len(got.Jobs), len(got.Skipped), len(p.Jobs))
			}
			for _, j := range got.Jobs {
				wantVar(t, j.Variables, "CARGO_HOME", "$CI_PROJECT_DIR/.cargo")
				switch j.Name {
				case "check:audit", "test:integration":
					if !j.AllowFailure.Allowed {
						t.Errorf("%s may not fail, want allow_failure: true", j.Name)
					}
				case "deploy:production":
					if j.When != pipeline.WhenManual || !j.AllowFailure.Allowed {
						t.Errorf("deploy:production when %s allow_failure %v, want manual and true", j.When, j.AllowFailure.Allowed)
					}
					wantVar(t, j.Variables, "CI_ENVIRONMENT_NAME", "production")
					wantVar(t, j.Variables, "CI_ENVIRONMENT_TIER", "production")
				default:
					if j.AllowFailure.Allowed || j.When != pipeline.WhenOnSuccess {
						t.Errorf("%s when %s allow_failure %v", j.Name, j.When, j.AllowFailure.Allowed)
					}
				}
			}
		})
	}
}
