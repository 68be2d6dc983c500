package artifact_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/internal/artifact"
	"github.com/gantry-ci/gantry/internal/cache"
	"github.com/gantry-ci/gantry/internal/fileset"
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
// handing them to three concurrent consumers, for the stored form gantry
// uses (a plain tree copied with copy_file_range) and, for comparison, a
// tar.zst archive of the same files:
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
	tree := artifact.DirFor(filepath.Join(work, "runs"), "1", "build")
	archive := filepath.Join(work, "artifacts.tar.zst")

	collectTree := func() error {
		return artifact.Collect(b.Context(), os.DirFS(project), files, tree, artifact.Meta{Job: "build", Created: time.Now()})
	}
	collectTarZst := func() error {
		f, err := os.Create(archive)
		if err != nil {
			return err
		}
		defer f.Close()
		return cache.WriteArchive(b.Context(), f, os.DirFS(project), files)
	}
	extractTree := func(dest string) error { return artifact.Extract(b.Context(), tree, dest) }
	extractTarZst := func(dest string) error {
		f, err := os.Open(archive)
		if err != nil {
			return err
		}
		defer f.Close()
		return cache.ExtractArchive(b.Context(), f, dest)
	}

	for _, form := range []struct {
		name    string
		collect func() error
		extract func(string) error
	}{
		{"tree", collectTree, extractTree},
		{"tar.zst", collectTarZst, extractTarZst},
	} {
		b.Run(form.name+"/collect", func(b *testing.B) {
			b.SetBytes(size)
			for i := 0; i < b.N; i++ {
				b.StopTimer()
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
