package cache_test

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

// entry describes one item of a test tree.
type entry struct {
	content string
	mode    fs.FileMode // 0 means 0644 for files, 0755 for dirs
	link    string      // symlink target when set
	dir     bool
	mtime   time.Time
}

var epoch = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

func writeTree(t testing.TB, root string, tree map[string]entry) {
	t.Helper()
	for name, e := range tree {
		p := filepath.Join(root, filepath.FromSlash(name))
		if e.dir {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if e.link != "" {
			if err := os.Symlink(e.link, p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		mode := e.mode
		if mode == 0 {
			mode = 0o644
		}
		if err := os.WriteFile(p, []byte(e.content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		if !e.mtime.IsZero() {
			if err := os.Chtimes(p, e.mtime, e.mtime); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Directory modes and mtimes last, after their contents exist.
	for name, e := range tree {
		if !e.dir {
			continue
		}
		p := filepath.Join(root, filepath.FromSlash(name))
		if e.mode != 0 {
			if err := os.Chmod(p, e.mode); err != nil {
				t.Fatal(err)
			}
		}
		if !e.mtime.IsZero() {
			if err := os.Chtimes(p, e.mtime, e.mtime); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func diffSnapshots(want, got map[string]string) string {
	var b strings.Builder
	for k, v := range want {
		if got[k] != v {
			fmt.Fprintf(&b, "%s: want %q, got %q\n", k, v, got[k])
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok {
			fmt.Fprintf(&b, "%s: unexpected %q\n", k, v)
		}
	}
	return b.String()
}

// craftArchive builds a tar.zst by hand, for archives gantry would never
// write itself (traversal attempts, odd entry types).
func craftArchive(t testing.TB, hdrs []tar.Header, contents []string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := zstd.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(zw)
	for i := range hdrs {
		h := hdrs[i]
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(contents[i]))
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write([]byte(contents[i])); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func newZstdWriter(w *bytes.Buffer) (*zstd.Encoder, error) { return zstd.NewWriter(w) }
