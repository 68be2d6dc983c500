package extract_test

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/internal/fileset/extract"
)

func TestClean(t *testing.T) {
	tests := []struct {
		in, want string
		unsafe   bool
	}{
		{in: "a/b", want: "a/b"},
		{in: "./a/b", want: "a/b"},
		{in: "././a", want: "a"},
		{in: "dir/", want: "dir"},
		{in: ".", want: "."},
		{in: "./", want: "."},
		{in: "../a", unsafe: true},
		{in: "a/../../b", unsafe: true},
		{in: "a/../b", unsafe: true}, // valid only once cleaned: refuse rather than guess
		{in: "/etc/passwd", unsafe: true},
		{in: "a//b", unsafe: true},
		{in: `a\..\b`, want: `a\..\b`}, // one odd but legal Unix file name
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := extract.Clean(tt.in)
			if tt.unsafe {
				if !errors.Is(err, extract.ErrUnsafePath) {
					t.Fatalf("Clean(%q) = %q, %v; want ErrUnsafePath", tt.in, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Clean(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

// FuzzClean checks that any accepted name stays inside the destination.
func FuzzClean(f *testing.F) {
	for _, s := range []string{"a/b", "./a", "../a", "/a", "a/./b", "a/", "", ".", "..", "a\\b", "a/\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		got, err := extract.Clean(name)
		if err != nil {
			return
		}
		if got != "." && !fs.ValidPath(got) {
			t.Fatalf("Clean(%q) = %q: not a valid relative path", name, got)
		}
		for _, part := range strings.Split(got, "/") {
			if part == ".." {
				t.Fatalf("Clean(%q) = %q keeps a parent reference", name, got)
			}
		}
	})
}

func TestWriterKeepsModesTimesAndReadOnlyDirs(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	if err := os.WriteFile(src, []byte("copied by the kernel"), 0o644); err != nil {
		t.Fatal(err)
	}
	dest := t.TempDir()
	w, err := extract.New(t.Context(), dest, extract.Options{Workers: 3})
	if err != nil {
		t.Fatal(err)
	}
	mtime := time.Date(2023, 7, 1, 8, 0, 0, 0, time.UTC)
	steps := []error{
		w.Dir("ro", 0o555, mtime),
		w.File("ro/inside", 0o640, mtime, 5, strings.NewReader("hello")),
		w.File("big/file", 0o600, mtime, 2<<20, strings.NewReader(strings.Repeat("x", 2<<20))),
		w.Copy("copied/file", 0o755, mtime, func() (io.ReadCloser, error) { return os.Open(src) }),
		w.Symlink("link", "ro/inside"),
	}
	if err := errors.Join(append(steps, w.Close())...); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(filepath.Join(dest, "ro"), 0o755) })
	for name, want := range map[string]fs.FileMode{"ro": fs.ModeDir | 0o555, "ro/inside": 0o640, "big/file": 0o600, "copied/file": 0o755} {
		info, err := os.Lstat(filepath.Join(dest, name))
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode() != want {
			t.Errorf("%s mode %v, want %v", name, info.Mode(), want)
		}
		if !info.ModTime().Equal(mtime) {
			t.Errorf("%s mtime %v, want %v", name, info.ModTime(), mtime)
		}
	}
	if target, _ := os.Readlink(filepath.Join(dest, "link")); target != "ro/inside" {
		t.Errorf("link -> %q", target)
	}
	if b, _ := os.ReadFile(filepath.Join(dest, "copied/file")); string(b) != "copied by the kernel" {
		t.Errorf("copied content %q", b)
	}
}

func TestWriterStopsOnCancel(t *testing.T) {
	ctx, cancel := contextWithCancel(t)
	w, err := extract.New(ctx, t.TempDir(), extract.Options{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	var sendErr error
	for i := 0; i < 10_000 && sendErr == nil; i++ {
		sendErr = w.File("f", 0o644, time.Time{}, 1, strings.NewReader("x"))
	}
	if err := errors.Join(sendErr, w.Close()); err == nil {
		t.Fatal("writer kept going after its context was cancelled")
	}
}

func contextWithCancel(t *testing.T) (context.Context, context.CancelFunc) {
	return context.WithCancel(t.Context())
}
