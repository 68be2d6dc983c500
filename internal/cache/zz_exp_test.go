package cache

import (
	"archive/tar"
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/internal/fileset"
	"github.com/gantry-ci/gantry/internal/fileset/extract"
	"github.com/klauspost/compress/zstd"
)

func TestExpWorkers(t *testing.T) {
	src := os.Getenv("EXP_SRC")
	if src == "" {
		t.Skip()
	}
	work := t.TempDir()
	files, _ := fileset.Resolve(os.DirFS(src), fileset.Spec{Paths: []string{"."}})
	arch := filepath.Join(work, "a.tar.zst")
	f, _ := os.Create(arch)
	if err := WriteArchive(t.Context(), f, os.DirFS(src), files); err != nil {
		t.Fatal(err)
	}
	f.Close()
	for _, n := range []int{64, 32, 16, 8, 4, 32, 64} {
		dest := filepath.Join(work, "d"+strconv.Itoa(n))
		syscall.Sync()
		start := time.Now()
		f, _ := os.Open(arch)
		zr, _ := zstd.NewReader(bufio.NewReaderSize(f, 1<<20))
		w, _ := extract.New(t.Context(), dest, extract.Options{Workers: n})
		if err := readEntries(tar.NewReader(zr), w); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		zr.Close()
		f.Close()
		t.Logf("workers %d: %v", n, time.Since(start))
	}
}
