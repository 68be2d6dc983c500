package gitlab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"
	"time"

	"github.com/gantry-ci/gantry/internal/pipeline"
)

// FuzzLoad feeds arbitrary files to the front end: it must answer every one
// with a pipeline or with located errors, never a panic or a hang.
func FuzzLoad(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.yml")
	corpus, _ := filepath.Glob("../../../testdata/pipelines/*/.gitlab-ci.yml")
	for _, path := range append(seeds, corpus...) {
		if data, err := os.ReadFile(path); err == nil {
			f.Add(data)
		}
	}
	for _, s := range []string{
		"a: &a [*a]",
		"a: &x {b: 1}\nc: {<<: [*x, *x], script: x}",
		"x: !reference [x, y]\ny: {script: !reference [x]}",
		"a: {extends: a, script: x}",
		"spec: {inputs: {a: {}}}\n---\nj: {script: $[[ inputs.a | truncate(9,9) ]]}",
		"a:\n  script: x\n  rules:\n    - if: '(((($X'\n",
		"a: {script: x, parallel: {matrix: [{A: [1,2,3], B: [1,2,3], C: [1,2,3]}]}}",
		"\t- :",
		"include: [{local: '**/*.yml'}]\nj: {script: x}",
	} {
		f.Add([]byte(s))
	}
	includes := fstest.MapFS{"a.yml": {Data: []byte("include: a.yml\nb: {script: x}\n")}}
	f.Fuzz(func(t *testing.T, data []byte) {
		done := make(chan struct{})
		defer close(done)
		go func() {
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				panic(fmt.Sprintf("HANG on %q", data))
			}
		}()
		p, err := Load(context.Background(), "ci.yml", data, Options{FS: includes})
		if err != nil {
			var errs pipeline.Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("error is not a located error list: %v", err)
			}
			for _, e := range errs {
				if e.Pos.File == "" || e.Pos.Line < 0 || e.Msg == "" {
					t.Fatalf("error without a position or message: %+v", e)
				}
			}
			return
		}
		if p == nil || len(p.Jobs) == 0 {
			t.Fatal("no error and no jobs")
		}
		for _, j := range p.Jobs {
			found := false
			for _, s := range p.Stages {
				found = found || s == j.Stage
			}
			if !found {
				t.Fatalf("job %q in unknown stage %q", j.Name, j.Stage)
			}
		}
	})
}
