package workspace

import (
	"context"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// Size of the generated repository: 20,000 files, about 200 MB.
const (
	benchFiles    = 20000
	benchFileSize = 10 << 10
	benchJobs     = 10
)

// generateRepo writes and commits benchFiles files of random content spread
// over folders of 100 files, and edits one so the working tree is dirty.
func generateRepo(b *testing.B) string {
	b.Helper()
	repo := filepath.Join(b.TempDir(), "big")
	rng := rand.New(rand.NewChaCha8([32]byte{1}))
	buf := make([]byte, benchFileSize)
	for i := range benchFiles {
		for j := range buf {
			buf[j] = byte(rng.Uint32())
		}
		writeFile(b, filepath.Join(repo, fmt.Sprintf("pkg%03d/file%05d.dat", i/100, i)), string(buf), 0o644)
	}
	runGitT(b, repo, "init", "-q", "-b", "main")
	runGitT(b, repo, "-c", "core.compression=0", "add", "-A")
	runGitT(b, repo, "commit", "-q", "-m", "generated")
	writeFile(b, filepath.Join(repo, "pkg000/file00000.dat"), "edited", 0o644)
	return repo
}

// BenchmarkSnapshotAndWorkspaces measures what a run of ten jobs costs to
// prepare in each mode: one snapshot, ten workspaces each running one
// command (the overlay is mounted then), and their removal. It reports the
// phases separately and the data written outside the user's repository.
func BenchmarkSnapshotAndWorkspaces(b *testing.B) {
	repo := generateRepo(b)
	for _, mode := range []Mode{ModeOverlay, ModeCopy} {
		b.Run(string(mode), func(b *testing.B) {
			b.Setenv(ModeEnv, string(mode))
			ctx := context.Background()
			var snapTime, wsTime, rmTime time.Duration
			var written int64
			for b.Loop() {
				runDir := b.TempDir()
				start := time.Now()
				s, err := TakeSnapshot(ctx, repo, runDir, false)
				if err != nil {
					b.Fatal(err)
				}
				snapTime += time.Since(start)
				start = time.Now()
				var ws []*Workspace
				for i := range benchJobs {
					w, err := s.NewWorkspace(ctx, filepath.Join(runDir, "jobs", fmt.Sprint(i)))
					if err != nil {
						b.Fatal(err)
					}
					if err := run(w, w.Command(ctx, "test", "-f", "pkg199/file19999.dat")); err != nil {
						b.Fatalf("job %d: %v", i, err)
					}
					ws = append(ws, w)
				}
				wsTime += time.Since(start)
				b.StopTimer()
				written += newBytes(b, runDir)
				b.StartTimer()
				start = time.Now()
				for _, w := range ws {
					if err := w.Remove(); err != nil {
						b.Fatal(err)
					}
				}
				if err := s.Remove(); err != nil {
					b.Fatal(err)
				}
				rmTime += time.Since(start)
			}
			n := float64(b.N)
			b.ReportMetric(float64(snapTime.Milliseconds())/n, "snapshot-ms/op")
			b.ReportMetric(float64(wsTime.Milliseconds())/n/benchJobs, "workspace-ms/job")
			b.ReportMetric(float64(rmTime.Milliseconds())/n, "remove-ms/op")
			b.ReportMetric(float64(written)/n/1e6, "MB-written/op")
		})
	}
}

// newBytes sums the sizes of files under dir that are not hard links to
// something else, i.e. data actually written for the run.
func newBytes(b *testing.B, dir string) int64 {
	var total int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok && st.Nlink == 1 {
			total += info.Size()
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return total
}

// BenchmarkCommand measures the fixed cost of starting a job command: the
// sandbox re-exec and overlay mount in overlay mode, a plain exec in copy
// mode.
func BenchmarkCommand(b *testing.B) {
	repo := newTestRepo(b)
	for _, mode := range []Mode{ModeOverlay, ModeCopy} {
		b.Run(string(mode), func(b *testing.B) {
			b.Setenv(ModeEnv, string(mode))
			ctx := context.Background()
			runDir := b.TempDir()
			s, err := TakeSnapshot(ctx, repo, runDir, false)
			if err != nil {
				b.Fatal(err)
			}
			w, err := s.NewWorkspace(ctx, filepath.Join(runDir, "jobs", "job"))
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if err := run(w, w.Command(ctx, "true")); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
