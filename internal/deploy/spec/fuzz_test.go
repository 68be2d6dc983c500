package spec

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds arbitrary bytes to Parse: every input gets either a spec
// that is valid (and stays valid through a JSON round trip, as the
// controller stores it) or located errors; never a panic.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	for _, file := range files {
		if data, err := os.ReadFile(file); err == nil {
			f.Add(data)
		}
	}
	for _, s := range []string{
		"a: &a [*a, *a]",
		"x-a: &a {b: &b [*a]}\napp: *a",
		"app: a\nruntime: {module: m}\nenvironments: {p: {<<: [{listen: ':1'}, 3]}}",
		"environments: {p: {strategy: {canary: {steps: [{setWeight: 99999999999999999999}]}}}}",
		"\t- :",
		"app: a\nruntime: {module: m}\nenvironments: {p: {listen: ':1', strategy: {rolling: {maxSurge: 1000001%}}}}",
		"? [a]\n: b",
		"!!binary x: 1",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse("f.yaml", data)
		if err != nil {
			var list ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("error is not a non-empty ErrorList: %#v", err)
			}
			for _, e := range list {
				if e.File != "f.yaml" || e.Line < 1 || e.Column < 1 || e.Msg == "" {
					t.Fatalf("error without a position or message: %+v", e)
				}
			}
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("Parse accepted a spec that Validate rejects: %v", err)
		}
		if s.App == "" || len(s.Environments) == 0 {
			t.Fatalf("accepted spec lacks app or environments: %+v", s)
		}
		for _, env := range s.Environments {
			if env.Strategy.Name() == "" {
				t.Fatalf("environment %s has no strategy", env.Name)
			}
		}
		checkRoundTrip(t, s)
	})
}
