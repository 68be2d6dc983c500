package cache_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/internal/cache"
	"github.com/gantry-ci/gantry/internal/fileset"
)

// genTree writes n files totalling about totalBytes under root, in
// directories of about 20 files, with sizes skewed like a dependency cache
// (many small files, a few large ones) and content that compresses about as
// well as source and object files do. It returns the bytes written.
func genTree(b *testing.B, root string, n int, totalBytes int64) int64 {
	b.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	words := []byte("func return package import module exports require const let var if else for while ")
	// Sizes: log-uniform between 256 B and 64 KiB, then scaled to the total.
	sizes := make([]float64, n)
	var sum float64
	for i := range sizes {
		sizes[i] = 256 * float64(uint64(1)<<rng.IntN(9)) * (1 + rng.Float64())
		sum += sizes[i]
	}
	scale := float64(totalBytes) / sum
	var written int64
	buf := make([]byte, 0, 1<<20)
	for i := range n {
		size := int(sizes[i] * scale)
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
		buf = buf[:size]
		dir := filepath.Join(root, fmt.Sprintf("pkg%03d", i/400), fmt.Sprintf("mod%02d", i/20%20))
		if i%20 == 0 {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				b.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("file%05d.dat", i)), buf, 0o644); err != nil {
			b.Fatal(err)
		}
		written += int64(size)
	}
	return written
}

// settle flushes dirty pages so each timed iteration starts from the same
// disk state rather than paying for the previous one's writeback.
func settle() { syscall.Sync() }

type benchTree struct {
	src   string
	files []string
	bytes int64
}

func newBenchTree(b *testing.B) benchTree {
	src := filepath.Join(b.TempDir(), "src")
	n := genTree(b, src, 20_000, 200<<20)
	files, err := fileset.Resolve(os.DirFS(src), fileset.Spec{Paths: []string{"."}})
	if err != nil {
		b.Fatal(err)
	}
	return benchTree{src: src, files: files, bytes: n}
}

// BenchmarkCache200MB measures save and restore of a 200 MB, 20,000-file
// tree, and beside each restore `tar -x` of an uncompressed tar of the same
// tree, reporting tar-x/restore (above 1 means gantry restores faster):
//
//	go test -bench . -benchtime 3x ./internal/cache
func BenchmarkCache200MB(b *testing.B) {
	tree := newBenchTree(b)
	work := b.TempDir()
	store, err := cache.NewStore(filepath.Join(work, "store"))
	if err != nil {
		b.Fatal(err)
	}
	if err := store.Save(b.Context(), "bench", os.DirFS(tree.src), tree.files); err != nil {
		b.Fatal(err)
	}
	tarball := filepath.Join(work, "tree.tar")
	if out, err := exec.Command("tar", "-cf", tarball, "-C", tree.src, ".").CombinedOutput(); err != nil {
		b.Fatalf("tar -c: %v\n%s", err, out)
	}
	if info, err := os.Stat(store.Path("bench")); err == nil {
		b.Logf("tree %d MB in %d files; archive %d MB", tree.bytes>>20, len(tree.files), info.Size()>>20)
	}

	dest := filepath.Join(work, "dest")
	fresh := func(b *testing.B) {
		os.RemoveAll(dest)
		if err := os.MkdirAll(dest, 0o755); err != nil {
			b.Fatal(err)
		}
		settle()
	}

	b.Run("save", func(b *testing.B) {
		b.SetBytes(tree.bytes)
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			settle()
			b.StartTimer()
			if err := store.Save(b.Context(), "bench-save", os.DirFS(tree.src), tree.files); err != nil {
				b.Fatal(err)
			}
		}
	})
	// Each iteration restores with gantry (timed by the benchmark) and then
	// runs `tar -x` into an equally fresh directory (timed by hand), so both
	// see the same machine load and the ratio is reported directly.
	b.Run("restore", func(b *testing.B) {
		b.SetBytes(tree.bytes)
		var tarTime time.Duration
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			fresh(b)
			b.StartTimer()
			if hit, err := store.Restore(b.Context(), []string{"bench"}, dest); err != nil || hit == "" {
				b.Fatalf("restore: hit %q, %v", hit, err)
			}
			b.StopTimer()
			fresh(b)
			start := time.Now()
			if out, err := exec.Command("tar", "-xf", tarball, "-C", dest).CombinedOutput(); err != nil {
				b.Fatalf("tar -x: %v\n%s", err, out)
			}
			tarTime += time.Since(start)
			b.StartTimer()
		}
		b.StopTimer()
		os.RemoveAll(dest)
		b.ReportMetric(float64(tarTime.Nanoseconds())/float64(b.N), "tar-x-ns/op")
		b.ReportMetric(float64(tarTime.Nanoseconds())/float64(b.Elapsed().Nanoseconds()), "tar-x/restore")
	})
}
