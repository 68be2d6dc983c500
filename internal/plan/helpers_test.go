package plan

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/gantry-ci/gantry/internal/pipeline"
	"github.com/gantry-ci/gantry/internal/pipeline/gitlab"
)

// Inputs shared by the table tests.
var (
	testSHA  = "0123456789abcdef0123456789abcdef01234567"
	pushMain = Input{Ref: "main", Commit: Commit{SHA: testSHA, Message: "Add login\n\nWith a form."},
		Project: Project{Path: "group/app"}}
	pushDevelop = with(pushMain, func(in *Input) { in.Ref = "develop" })
	pushFeature = with(pushMain, func(in *Input) { in.Ref = "feature/login" })
	tagV123     = with(pushMain, func(in *Input) { in.Ref, in.IsTag = "v1.2.3", true })
	mrFeature   = with(pushMain, func(in *Input) {
		in.Source, in.Ref = SourceMergeRequest, "feature/login"
		in.MergeRequest = &MergeRequest{IID: 7, Title: "Login page", SourceBranch: "feature/login",
			TargetBranch: "main", Labels: []string{"ui", "auth"}}
	})
)

// with copies an input and changes it.
func with(in Input, change func(*Input)) Input {
	change(&in)
	return in
}

// changed makes an input whose changed paths are known.
func changed(in Input, paths ...string) Input {
	in.Changed, in.ChangesKnown = paths, true
	return in
}

func vars(kv ...string) []pipeline.Variable {
	var out []pipeline.Variable
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, pipeline.Variable{Name: kv[i], Value: kv[i+1]})
	}
	return out
}

func loadYAML(t testing.TB, src string) *pipeline.Pipeline {
	t.Helper()
	p, err := gitlab.Load(context.Background(), ".gitlab-ci.yml", []byte(src), gitlab.Options{FS: fstest.MapFS{}})
	if err != nil {
		t.Fatalf("load: %v\n%s", err, src)
	}
	return p
}

// planCase is one table test: a pipeline, an input and what a user would
// see in the plan.
type planCase struct {
	name    string
	yaml    string
	in      Input
	files   map[string]string // the repository, for rules:exists
	jobs    []string          // kept instances in plan order; nil: not checked
	skipped map[string]string // instance -> prefix of its reason
	err     string            // part of the error Make must return
	check   func(t *testing.T, p *Plan)
}

func runCases(t *testing.T, cases []planCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := loadYAML(t, c.yaml)
			in := c.in
			if c.files != nil {
				fsys := fstest.MapFS{}
				for name, body := range c.files {
					fsys[name] = &fstest.MapFile{Data: []byte(body)}
				}
				in.Files = fsys
			}
			got, err := Make(p, in)
			switch {
			case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
				t.Fatalf("error = %v, want one containing %q", err, c.err)
			case c.err == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			}
			if got == nil {
				if c.jobs != nil || c.skipped != nil || c.check != nil {
					t.Fatal("no plan returned")
				}
				return
			}
			if c.jobs != nil {
				if names := jobNames(got); !slices.Equal(names, c.jobs) {
					t.Errorf("jobs = %q, want %q\nskipped: %v", names, c.jobs, got.Skipped)
				}
			}
			for name, want := range c.skipped {
				reason, ok := skippedReason(got, name)
				if !ok {
					t.Errorf("%s was not skipped; jobs %q", name, jobNames(got))
					continue
				}
				if !strings.HasPrefix(reason, want) {
					t.Errorf("%s skipped because %q, want prefix %q", name, reason, want)
				}
			}
			if c.check != nil {
				c.check(t, got)
			}
		})
	}
}

func jobNames(p *Plan) []string {
	names := []string{}
	for _, j := range p.Jobs {
		names = append(names, j.Name)
	}
	return names
}

func skippedReason(p *Plan, name string) (string, bool) {
	for _, s := range p.Skipped {
		if s.Name == name {
			return s.Reason, true
		}
	}
	return "", false
}

func jobOf(t *testing.T, p *Plan, name string) *Job {
	t.Helper()
	for _, j := range p.Jobs {
		if j.Name == name {
			return j
		}
	}
	t.Fatalf("job %q not in plan %q", name, jobNames(p))
	return nil
}

func varOf(vs []pipeline.Variable, name string) (string, bool) {
	for _, v := range vs {
		if v.Name == name {
			return v.Value, true
		}
	}
	return "", false
}

// wantVar asserts a variable's value; want "<unset>" asserts it is absent.
func wantVar(t *testing.T, vs []pipeline.Variable, name, want string) {
	t.Helper()
	got, ok := varOf(vs, name)
	switch {
	case want == "<unset>" && ok:
		t.Errorf("%s = %q, want it unset", name, got)
	case want != "<unset>" && !ok:
		t.Errorf("%s is unset, want %q", name, want)
	case want != "<unset>" && got != want:
		t.Errorf("%s = %q, want %q", name, got, want)
	}
}

func wantReason(t *testing.T, j *Job, want string) {
	t.Helper()
	if j.Reason != want {
		t.Errorf("%s reason = %q, want %q", j.Name, j.Reason, want)
	}
}

func needNames(j *Job) []string {
	if j.Needs == nil {
		return nil
	}
	out := []string{}
	for _, n := range j.Needs {
		out = append(out, n.Job)
	}
	return out
}

func isNoJobs(err error) bool { return errors.Is(err, ErrNoJobs) }
