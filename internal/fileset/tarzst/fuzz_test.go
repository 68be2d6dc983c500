package tarzst

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzExtractTar feeds arbitrary tar streams to the extractor behind
// Extract (zstd framing is left out so the fuzzer explores tar
// structure, not the decompressor). Whatever the input, nothing may appear or
// change outside the destination, even with a symlink to the outside
// planted in it.
func FuzzExtractTar(f *testing.F) {
	seed := func(hdrs ...tar.Header) []byte {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for _, h := range hdrs {
			content := []byte(h.Linkname)
			if h.Typeflag == tar.TypeReg {
				h.Size, h.Linkname = int64(len(content)), ""
			}
			tw.WriteHeader(&h)
			tw.Write(content)
		}
		tw.Close()
		return buf.Bytes()
	}
	reg := func(name, content string) tar.Header {
		return tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Linkname: content}
	}
	f.Add(seed(tar.Header{Name: "a/", Typeflag: tar.TypeDir, Mode: 0o755}, reg("a/b", "hello")))
	f.Add(seed(reg("../evil", "x")))
	f.Add(seed(tar.Header{Name: "l", Typeflag: tar.TypeSymlink, Linkname: ".."}, reg("l/evil", "x")))
	f.Add(seed(reg("planted/evil", "x")))
	f.Add(seed(reg("victim", "x"), tar.Header{Name: "ro/", Typeflag: tar.TypeDir, Mode: 0o500}, reg("ro/f", "y")))
	f.Add([]byte("not a tar stream"))

	f.Fuzz(func(t *testing.T, data []byte) {
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
		_ = extractTar(t.Context(), bytes.NewReader(data), dest)

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
		// Give write permission back so t.TempDir can clean up.
		filepath.WalkDir(dest, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				os.Chmod(p, 0o755)
			}
			return nil
		})
	})
}
