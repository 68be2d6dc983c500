package cache_test

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"time"
	"fmt"
	"testing"

	"github.com/gantry-ci/gantry/internal/cache"
	"github.com/klauspost/compress/zstd"
)

// FuzzExtractArchive feeds arbitrary tar streams (compressed here, so the
// fuzzer explores tar structure rather than zstd framing) and raw bytes to
// ExtractArchive. Whatever the input, nothing may appear or change outside
// the destination, even with a symlink to the outside planted in it.
func FuzzExtractArchive(f *testing.F) {
	seed := func(hdrs []tar.Header, contents []string) []byte {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for i, h := range hdrs {
			if h.Typeflag == tar.TypeReg {
				h.Size = int64(len(contents[i]))
			}
			tw.WriteHeader(&h)
			tw.Write([]byte(contents[i]))
		}
		tw.Close()
		return buf.Bytes()
	}
	f.Add(seed([]tar.Header{{Name: "a/", Typeflag: tar.TypeDir, Mode: 0o755}, {Name: "a/b", Typeflag: tar.TypeReg, Mode: 0o644}}, []string{"", "hello"}), true)
	f.Add(seed([]tar.Header{{Name: "../evil", Typeflag: tar.TypeReg, Mode: 0o644}}, []string{"x"}), true)
	f.Add(seed([]tar.Header{{Name: "l", Typeflag: tar.TypeSymlink, Linkname: ".."}, {Name: "l/evil", Typeflag: tar.TypeReg, Mode: 0o644}}, []string{"", "x"}), true)
	f.Add(seed([]tar.Header{{Name: "planted/evil", Typeflag: tar.TypeReg, Mode: 0o644}}, []string{"x"}), true)
	f.Add(seed([]tar.Header{{Name: "victim", Typeflag: tar.TypeReg, Mode: 0o644}}, []string{"x"}), false)
	f.Add([]byte{0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0}, false)

	// One encoder for all runs: building one per input costs more than the
	// extraction being fuzzed.
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte, compress bool) {
		if compress {
			data = enc.EncodeAll(data, nil)
		}
		parent := t.TempDir()
		victim := filepath.Join(parent, "victim")
		if err := os.WriteFile(victim, []byte("original"), 0o644); err != nil {
			t.Fatal(err)
		}
		dest := filepath.Join(parent, "dest")
		if err := os.MkdirAll(dest, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("..", filepath.Join(dest, "planted")); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_ = cache.ExtractArchive(t.Context(), bytes.NewReader(data), dest)
		if d := time.Since(start); d > 200*time.Millisecond {
			fh, _ := os.OpenFile("/tmp/slow.txt", os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
			fmt.Fprintf(fh, "%v %d %q\n", d, len(data), data[:min(len(data), 2000)])
			fh.Close()
		}
		defer func(s time.Time) {
			if d := time.Since(s); d > 200*time.Millisecond {
				fh, _ := os.OpenFile("/tmp/slow.txt", os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
				fmt.Fprintf(fh, "total %v\n", d)
				fh.Close()
			}
		}(start)

		entries, err := os.ReadDir(parent)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 2 {
			t.Fatalf("extraction created entries beside the destination: %v", entries)
		}
		if b, err := os.ReadFile(victim); err != nil || string(b) != "original" {
			t.Fatalf("file outside the destination changed: %q, %v", b, err)
		}
		// Restore write permission so t.TempDir can clean up read-only dirs.
		filepath.WalkDir(dest, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				os.Chmod(p, 0o755)
			}
			return nil
		})
	})
}
