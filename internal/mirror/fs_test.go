package mirror

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/bmatcuk/doublestar/v4"
)

func TestFSReadsOldCommitAfterBranchMoved(t *testing.T) {
	ctx := context.Background()
	m, u := fetchedMirror(t)
	u.commit("ci/build.yml", "build:\n  script: newest\n", "third")
	if _, err := m.Fetch(ctx); err != nil {
		t.Fatal(err)
	}
	fsys, err := m.FS(ctx, u.first)
	if err != nil {
		t.Fatal(err)
	}
	got, err := fs.ReadFile(fsys, "ci/build.yml")
	if err != nil || string(got) != "build:\n  script: make\n" {
		t.Fatalf("ci/build.yml at first = %q, %v", got, err)
	}
	if _, err := fs.ReadFile(fsys, "docs/notes.md"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("file added later = %v, want fs.ErrNotExist", err)
	}
	for _, missing := range []string{"nope.yml", "ci/nope.yml", "README.md/x", "vendor/lib/x"} {
		if _, err := fsys.Open(missing); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Open(%q) = %v, want fs.ErrNotExist", missing, err)
		}
	}
	if _, err := fsys.Open("../etc/passwd"); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("Open(../etc/passwd) = %v, want fs.ErrInvalid", err)
	}
}

func TestFSListsAndGlobs(t *testing.T) {
	ctx := context.Background()
	m, u := fetchedMirror(t)
	fsys, err := m.FS(ctx, u.second)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	want := []string{".gitlab-ci.yml", "README.md", "big.bin", "ci", "docs", "escape.yml", "link.yml", "vendor"}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("ReadDir(.) = %v, want %v", names, want)
	}

	matches, err := fs.Glob(fsys, "ci/*.yml")
	if err != nil || !reflect.DeepEqual(matches, []string{"ci/build.yml", "ci/deploy.yml"}) {
		t.Fatalf("fs.Glob(ci/*.yml) = %v, %v", matches, err)
	}
	matches, err = doublestar.Glob(fsys, "**/*.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{".gitlab-ci.yml", "ci/build.yml", "ci/deploy.yml", "link.yml"} {
		if !slices.Contains(matches, p) {
			t.Errorf("doublestar **/*.yml = %v, missing %s", matches, p)
		}
	}

	// Submodules read as empty folders.
	info, err := fs.Stat(fsys, "vendor/lib")
	if err != nil || !info.IsDir() {
		t.Fatalf("Stat(vendor/lib) = %v, %v; want a directory", info, err)
	}
	if sub, err := fs.ReadDir(fsys, "vendor/lib"); err != nil || len(sub) != 0 {
		t.Fatalf("ReadDir(submodule) = %v, %v; want empty", sub, err)
	}

	// An open directory pages through its entries.
	f, err := fsys.Open("ci")
	if err != nil {
		t.Fatal(err)
	}
	d := f.(fs.ReadDirFile)
	first, err := d.ReadDir(1)
	if err != nil || len(first) != 1 || first[0].Name() != "build.yml" {
		t.Fatalf("ReadDir(1) = %v, %v", first, err)
	}
	rest, _ := d.ReadDir(5)
	if len(rest) != 1 || rest[0].Name() != "deploy.yml" {
		t.Fatalf("second ReadDir(5) = %v", rest)
	}
	if _, err := d.ReadDir(1); err != io.EOF {
		t.Fatalf("ReadDir at end = %v, want io.EOF", err)
	}
}

func TestFSSymlinks(t *testing.T) {
	ctx := context.Background()
	m, u := fetchedMirror(t)
	fsys, err := m.FS(ctx, u.second)
	if err != nil {
		t.Fatal(err)
	}
	info, err := fs.Lstat(fsys, "link.yml")
	if err != nil || info.Mode()&fs.ModeSymlink == 0 {
		t.Fatalf("Lstat(link.yml) = %v, %v; want a symlink", info, err)
	}
	entries, _ := fs.ReadDir(fsys, ".")
	for _, e := range entries {
		if e.Name() == "link.yml" && e.Type() != fs.ModeSymlink {
			t.Errorf("ReadDir reports link.yml as %v", e.Type())
		}
	}
	if target, err := fs.ReadLink(fsys, "link.yml"); err != nil || target != "ci/build.yml" {
		t.Fatalf("ReadLink(link.yml) = %q, %v", target, err)
	}
	got, err := fs.ReadFile(fsys, "link.yml")
	if err != nil || string(got) != "build:\n  script: make all\n" {
		t.Fatalf("ReadFile through the link = %q, %v", got, err)
	}
	if _, err := fs.ReadFile(fsys, "escape.yml"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("link out of the repository = %v, want fs.ErrNotExist", err)
	}
}

func TestFSConformsToIOFS(t *testing.T) {
	ctx := context.Background()
	m, u := fetchedMirror(t)
	fsys, err := m.FS(ctx, u.second)
	if err != nil {
		t.Fatal(err)
	}
	// escape.yml is left out: fstest expects every listed entry to open,
	// and a link leaving the repository deliberately does not.
	sub, err := fs.Sub(fsys, "ci")
	if err != nil {
		t.Fatal(err)
	}
	if err := fstest.TestFS(sub, "build.yml", "deploy.yml"); err != nil {
		t.Fatal(err)
	}
	docs, _ := fs.Sub(fsys, "docs")
	if err := fstest.TestFS(docs, "notes.md"); err != nil {
		t.Fatal(err)
	}
}

func TestFSFileSizeLimit(t *testing.T) {
	ctx := context.Background()
	m, u := fetchedMirror(t)
	m.MaxFileSize = 1024
	fsys, err := m.FS(ctx, u.second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fs.ReadFile(fsys, "big.bin"); !errors.Is(err, ErrFileTooLarge) {
		t.Fatalf("reading a 4 KiB file with a 1 KiB limit = %v, want ErrFileTooLarge", err)
	}
	if info, err := fs.Stat(fsys, "big.bin"); err != nil || info.Size() != 4096 {
		t.Fatalf("Stat of a large file = %v, %v; want its size", info, err)
	}
	if got, err := fs.ReadFile(fsys, "README.md"); err != nil || string(got) != "# demo\n" {
		t.Fatalf("small file under the limit = %q, %v", got, err)
	}
}

func TestFSStopsWhenContextEnds(t *testing.T) {
	m, u := fetchedMirror(t)
	ctx, cancel := context.WithCancel(context.Background())
	fsys, err := m.FS(ctx, u.second)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := fs.ReadFile(fsys, "README.md"); !errors.Is(err, context.Canceled) {
		t.Fatalf("read after cancel = %v, want context.Canceled", err)
	}
}

func TestFSConcurrentReaders(t *testing.T) {
	ctx := context.Background()
	m, u := fetchedMirror(t)
	old, err := m.FS(ctx, u.first)
	if err != nil {
		t.Fatal(err)
	}
	cur, err := m.FS(ctx, u.second)
	if err != nil {
		t.Fatal(err)
	}
	want := map[fs.FS]map[string]string{
		old: {"ci/build.yml": "build:\n  script: make\n", "link.yml": "build:\n  script: make\n", "README.md": "# demo\n"},
		cur: {"ci/build.yml": "build:\n  script: make all\n", "docs/notes.md": "notes\n", "big.bin": strings.Repeat("x", 4096)},
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 16 {
		fsys := old
		if i%2 == 1 {
			fsys = cur
		}
		wg.Go(func() {
			for range 20 {
				for name, content := range want[fsys] {
					got, err := fs.ReadFile(fsys, name)
					if err != nil || string(got) != content {
						errs <- errors.New(name + ": got " + string(got))
						return
					}
				}
			}
		})
	}
	// Closing midway stops idle helpers; readers must carry on regardless.
	_ = m.Close()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// Quiet mirrors must not keep git processes around; reading again starts
// a fresh one.
func TestFSIdleHelpersStop(t *testing.T) {
	ctx := context.Background()
	m, u := fetchedMirror(t)
	m.blobs.idleTimeout = 20 * time.Millisecond
	fsys, err := m.FS(ctx, u.second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fs.ReadFile(fsys, "README.md"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for m.blobs.idleCount() > 0 {
		if time.Now().After(deadline) {
			t.Fatal("idle git cat-file still running after 30s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got, err := fs.ReadFile(fsys, "README.md"); err != nil || string(got) != "# demo\n" {
		t.Fatalf("read after the helper stopped = %q, %v", got, err)
	}
}
