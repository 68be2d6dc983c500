package gitlab

import (
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/gantry-ci/gantry/internal/pipeline"
)

func loadFile(t *testing.T, path string) (*pipeline.Pipeline, pipeline.Errors) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	files := fstest.MapFS{}
	_ = filepath.Walk(filepath.Dir(path), func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			b, _ := os.ReadFile(p)
			rel, _ := filepath.Rel(filepath.Dir(path), p)
			files[filepath.ToSlash(rel)] = &fstest.MapFile{Data: b}
		}
		return nil
	})
	return load(t, string(data), files)
}
