package plan

import (
	"context"
	"errors"
	"os"
	"slices"
	"testing"
	"testing/fstest"

	"github.com/gantry-ci/gantry/internal/pipeline/gitlab"
)

// FuzzMake plans arbitrary pipeline files for arbitrary refs. Make must not
// panic, and a created plan must be coherent: every job once, every need a
// job of the plan in the same or an earlier stage, stages in file order,
// every job either kept or skipped, one definition per variable.
func FuzzMake(f *testing.F) {
	seed, err := os.ReadFile("../pipeline/gitlab/testdata/seed.gitlab-ci.yml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(seed), "main", uint8(0))
	f.Add(string(seed), "v1.0", uint8(1))
	f.Add(string(seed), "feature/x", uint8(4))
	f.Add(mrOrMain, "main", uint8(2))
	f.Add("a:\n  script: x\n  only: ['/^ma(in/']\nb:\n  script: y\n  only: ['/[/i', 'main@g/p']\n", "main", uint8(0))
	f.Add("a:\n  script: x\n  rules:\n    - changes: ['{src,docs}/**/*', '[']\n    - exists: ['**/Dockerfile', 'src/**']\n", "main", uint8(2))
	f.Add("a:\n  stage: build\n  script: x\n  parallel:\n    matrix:\n      - A: [1, 2]\n        B: [x]\nb:\n  script: y\n  needs:\n    - job: a\n      parallel:\n        matrix:\n          - A: '1'\n            B: x\n", "main", uint8(0))
	f.Add("variables:\n  A: $B$B\n  B: $A$A\nj:\n  script: x\n  environment: $A\n  rules:\n    - if: $A == $B\n    - when: manual\n", "main", uint8(0))
	files := fstest.MapFS{
		"Dockerfile":     &fstest.MapFile{Data: []byte("FROM scratch")},
		"src/app/a.go":   &fstest.MapFile{Data: []byte("package app")},
		"docs/readme.md": &fstest.MapFile{Data: []byte("# docs")},
	}
	f.Fuzz(func(t *testing.T, src, ref string, mode uint8) {
		p, err := gitlab.Load(context.Background(), ".gitlab-ci.yml", []byte(src), gitlab.Options{FS: fstest.MapFS{}})
		if err != nil {
			return
		}
		in := Input{Ref: ref, IsTag: mode&1 != 0, ChangesKnown: mode&2 != 0, Files: files,
			Changed: []string{"src/app/a.go", ref}, Project: Project{Path: "g/p"}}
		if mode&4 != 0 {
			in.Source = SourceMergeRequest
			in.MergeRequest = &MergeRequest{IID: 1, SourceBranch: ref, TargetBranch: "main"}
		}
		plan, err := Make(p, in)
		if err != nil && !errors.Is(err, ErrNoJobs) {
			if plan != nil {
				t.Fatalf("plan returned with error %v", err)
			}
			return
		}
		if plan == nil {
			t.Fatal("nil plan without error")
		}
		if !plan.Created {
			if len(plan.Jobs) != 0 || plan.Reason == "" {
				t.Fatalf("not created, yet %d jobs, reason %q", len(plan.Jobs), plan.Reason)
			}
			return
		}
		checkPlan(t, p.Stages, plan)
	})
}

func checkPlan(t *testing.T, fileStages []string, plan *Plan) {
	t.Helper()
	stageOf := map[string]int{}
	for i, s := range plan.Stages {
		stageOf[s] = i
	}
	if !isSubsequence(plan.Stages, fileStages) {
		t.Fatalf("stages %q are not in file order %q", plan.Stages, fileStages)
	}
	pos := map[string]int{}
	for i, j := range plan.Jobs {
		if _, dup := pos[j.Name]; dup {
			t.Fatalf("job %q twice", j.Name)
		}
		pos[j.Name] = i
		si, ok := stageOf[j.Stage]
		if !ok {
			t.Fatalf("job %q in stage %q not listed in %q", j.Name, j.Stage, plan.Stages)
		}
		if i > 0 && stageOf[plan.Jobs[i-1].Stage] > si {
			t.Fatalf("job %q comes after a later stage", j.Name)
		}
		names := map[string]bool{}
		for _, v := range j.Variables {
			if names[v.Name] {
				t.Fatalf("job %q defines %s twice", j.Name, v.Name)
			}
			names[v.Name] = true
		}
		if j.Reason == "" {
			t.Fatalf("job %q has no reason", j.Name)
		}
	}
	for _, j := range plan.Jobs {
		for _, n := range j.Needs {
			k, ok := pos[n.Job]
			if !ok {
				t.Fatalf("job %q needs %q, which is not in the plan", j.Name, n.Job)
			}
			if stageOf[plan.Jobs[k].Stage] > stageOf[j.Stage] {
				t.Fatalf("job %q needs %q of a later stage", j.Name, n.Job)
			}
		}
		for _, d := range j.Dependencies {
			if _, ok := pos[d]; !ok {
				t.Fatalf("job %q depends on %q, which is not in the plan", j.Name, d)
			}
		}
	}
	for _, s := range plan.Skipped {
		if _, kept := pos[s.Name]; kept || s.Reason == "" {
			t.Fatalf("skipped %q is kept too or has no reason", s.Name)
		}
	}
}

func isSubsequence(sub, all []string) bool {
	i := 0
	for _, s := range all {
		if i < len(sub) && sub[i] == s {
			i++
		}
	}
	return i == len(sub) && !slices.Contains(sub, "")
}
