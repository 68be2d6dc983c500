package artifact_test

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/internal/artifact"
	"github.com/gantry-ci/gantry/internal/fileset"
	"github.com/gantry-ci/gantry/internal/fileset/extract"
)

// genTree writes n files of about totalBytes under root, 25 per directory,
// with mixed sizes and content that compresses like build output.
func genTree(b *testing.B, root string, n int, totalBytes int64) int64 {
	b.Helper()
	rng := rand.New(rand.NewPCG(3, 4))
	words := []byte("static const char *symbol_table[] = { init, main, exit, panic, return 0; } ")
	sizes := make([]float64, n)
	var sum float64
	for i := range sizes {
		sizes[i] = float64(uint64(1)<<rng.IntN(9)) * (1 + rng.Float64())
		sum += sizes[i]
	}
	var written int64
	buf := make([]byte, 0, 4<<20)
	for i := range n {
		size := int(sizes[i] / sum * float64(totalBytes))
		buf = buf[:0]
		for len(buf) < size {
			if rng.IntN(3) == 0 {
				for range 64 {
					buf = append(buf, byte(rng.Uint32()))
				}
			} else {
				buf = append(buf, words[rng.IntN(40):]...)
			}
		}
		dir := filepath.Join(root, fmt.Sprintf("out%02d", i/500), fmt.Sprintf("obj%02d", i/25%20))
		if i%25 == 0 {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				b.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%04d.o", i)), buf[:size], 0o644); err != nil {
			b.Fatal(err)
		}
		written += int64(size)
	}
	return written
}

// consumers is how many later jobs fetch the same artifacts at once.
const consumers = 3

// BenchmarkArtifacts100MB measures collecting 100 MB / 5,000 files and
// handing them to three concurrent consumers, for the form gantry stores
// (tar.zst) and, for comparison, a plain tree copied file by file with
// copy_file_range through the same parallel writer:
//
//	go test -run XXX -bench . -benchtime 3x ./internal/artifact
func BenchmarkArtifacts100MB(b *testing.B) {
	project := filepath.Join(b.TempDir(), "project")
	size := genTree(b, project, 5000, 100<<20)
	files, err := fileset.Resolve(os.DirFS(project), fileset.Spec{Paths: []string{"."}})
	if err != nil {
		b.Fatal(err)
	}
	work := b.TempDir()
	stored := artifact.DirFor(filepath.Join(work, "runs"), "1", "build")
	tree := filepath.Join(work, "tree")

	collectStored := func() error {
		return artifact.Collect(b.Context(), os.DirFS(project), files, stored, artifact.Meta{Job: "build", Created: time.Now()})
	}
	extractStored := func(dest string) error { return artifact.Extract(b.Context(), stored, dest) }
	collectTree := func() error { return copyTree(b.Context(), os.DirFS(project), files, tree) }
	extractTree := func(dest string) error {
		sub := os.DirFS(tree)
		return copyTree(b.Context(), sub, files, dest)
	}

	for _, form := range []struct {
		name    string
		collect func() error
		extract func(string) error
	}{
		{"tar.zst", collectStored, extractStored},
		{"tree", collectTree, extractTree},
	} {
		b.Run(form.name+"/collect", func(b *testing.B) {
			b.SetBytes(size)
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				// Collect into a fresh run folder, as a real job does.
				os.RemoveAll(string(stored))
				os.RemoveAll(tree)
				syscall.Sync()
				b.StartTimer()
				if err := form.collect(); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(form.name+"/extract-x3", func(b *testing.B) {
			b.SetBytes(consumers * size)
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				dests := make([]string, consumers)
				for c := range dests {
					dests[c] = filepath.Join(work, fmt.Sprintf("consumer%d", c))
					os.RemoveAll(dests[c])
				}
				syscall.Sync()
				b.StartTimer()
				var wg sync.WaitGroup
				errs := make([]error, consumers)
				for c := range dests {
					wg.Go(func() { errs[c] = form.extract(dests[c]) })
				}
				wg.Wait()
				for _, err := range errs {
					if err != nil {
						b.Fatal(err)
					}
				}
			}
			b.StopTimer()
			for c := range consumers {
				os.RemoveAll(filepath.Join(work, fmt.Sprintf("consumer%d", c)))
			}
		})
	}
}

// copyTree copies files from fsys into dir with the parallel writer; with
// *os.File on both sides io.Copy uses copy_file_range.
func copyTree(ctx context.Context, fsys fs.FS, files []string, dir string) error {
	w, err := extract.New(ctx, dir, extract.Options{})
	if err != nil {
		return err
	}
	for _, name := range files {
		info, err := fs.Lstat(fsys, name)
		if err != nil {
			w.Close()
			return err
		}
		if err := w.Copy(name, info.Mode(), info.ModTime(), func() (io.ReadCloser, error) { return fsys.Open(name) }); err != nil {
			w.Close()
			return err
		}
	}
	return w.Close()
}
