package mirror

import (
	"context"
	"io/fs"
	"os/exec"
	"testing"
)

// BenchmarkFSReadFile measures reading a small pipeline file from a commit
// through the shared cat-file process, next to what starting one git per
// file would cost.
func BenchmarkFSReadFile(b *testing.B) {
	ctx := context.Background()
	m, u := fetchedMirror(b)
	fsys, err := m.FS(ctx, u.second)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("batch", func(b *testing.B) {
		for b.Loop() {
			if _, err := fs.ReadFile(fsys, "ci/build.yml"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("batch-parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := fs.ReadFile(fsys, "ci/build.yml"); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("git-per-file", func(b *testing.B) {
		for b.Loop() {
			cmd := exec.Command("git", "cat-file", "blob", u.second+":ci/build.yml")
			cmd.Dir = m.Dir()
			if _, err := cmd.Output(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("open-tree", func(b *testing.B) {
		for b.Loop() {
			if _, err := m.FS(ctx, u.second); err != nil {
				b.Fatal(err)
			}
		}
	})
}
