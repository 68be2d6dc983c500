package workspace

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

// layeredFixture builds overlay layers by hand, the way overlayfs leaves them
// after a job: a whiteout for a deleted file, an opaque folder that replaced
// a lower one, a merged folder, and symlinks that stay inside, leave, or loop.
func layeredFixture(t testing.TB) *mergedFS {
	t.Helper()
	root := t.TempDir()
	m := &mergedFS{upper: filepath.Join(root, "upper"), lowers: []string{filepath.Join(root, "lower")}, mount: "/builds/p"}
	for p, content := range map[string]string{
		"lower/keep.txt":        "lower keep",
		"lower/gone.txt":        "lower gone",
		"lower/dir/a.txt":       "lower a",
		"lower/dir/b.txt":       "lower b",
		"lower/opaque/old.txt":  "lower old",
		"upper/dir/b.txt":       "upper b",
		"upper/dir/c.txt":       "upper c",
		"upper/opaque/new.txt":  "upper new",
		"upper/keep.txt.bak":    "upper bak",
		"lower/file-then-dir":   "lower file",
		"upper/file-then-dir/x": "upper x",
	} {
		writeFile(t, filepath.Join(root, p), content, 0o644)
	}
	links := map[string]string{
		"upper/in":      "dir/a.txt",
		"upper/abs":     "/builds/p/dir/c.txt",
		"upper/out":     "../../etc/passwd",
		"upper/abs-out": "/etc/passwd",
		"upper/loop":    "loop",
		"lower/dirlink": "dir",
	}
	for p, target := range links {
		if err := os.Symlink(target, filepath.Join(root, p)); err != nil {
			t.Fatal(err)
		}
	}
	if err := unix.Mknod(filepath.Join(m.upper, "gone.txt"), unix.S_IFCHR, 0); err != nil {
		// Without CAP_MKNOD the deletion cannot be staged; drop the file instead.
		if err := os.Remove(filepath.Join(m.lowers[0], "gone.txt")); err != nil {
			t.Fatal(err)
		}
	}
	if err := unix.Setxattr(filepath.Join(m.upper, "opaque"), "user.overlay.opaque", []byte("y"), 0); err != nil {
		t.Skipf("cannot set the opaque xattr here: %v", err)
	}
	return m
}

func TestMergedFSLayers(t *testing.T) {
	m := layeredFixture(t)
	cases := []struct {
		name    string
		content string
		err     error
	}{
		{"keep.txt", "lower keep", nil},
		{"gone.txt", "", fs.ErrNotExist},
		{"dir/a.txt", "lower a", nil},
		{"dir/b.txt", "upper b", nil},
		{"dir/c.txt", "upper c", nil},
		{"opaque/new.txt", "upper new", nil},
		{"opaque/old.txt", "", fs.ErrNotExist},
		{"file-then-dir/x", "upper x", nil},
		{"in", "lower a", nil},
		{"abs", "upper c", nil},
		{"dirlink/b.txt", "upper b", nil},
		{"out", "", errEscapes},
		{"abs-out", "", errEscapes},
		{"loop", "", unix.ELOOP},
		{"../x", "", fs.ErrInvalid},
		{"keep.txt/x", "", unix.ENOTDIR},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := fs.ReadFile(m, tc.name)
			if !errors.Is(err, tc.err) || string(got) != tc.content {
				t.Errorf("ReadFile(%q) = %q, %v; want %q, %v", tc.name, got, err, tc.content, tc.err)
			}
		})
	}
	dirs := map[string][]string{
		".":      {"abs", "abs-out", "dir", "dirlink", "file-then-dir", "in", "keep.txt", "keep.txt.bak", "loop", "opaque", "out"},
		"dir":    {"a.txt", "b.txt", "c.txt"},
		"opaque": {"new.txt"},
	}
	for dir, want := range dirs {
		ents, err := fs.ReadDir(m, dir)
		if err != nil {
			t.Fatalf("ReadDir(%q): %v", dir, err)
		}
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		if !slices.Equal(names, want) {
			t.Errorf("ReadDir(%q) = %v, want %v", dir, names, want)
		}
	}
	if info, err := m.Lstat("in"); err != nil || info.Mode()&fs.ModeSymlink == 0 || info.Name() != "in" {
		t.Errorf("Lstat(in) = %v, %v; want the symlink itself", info, err)
	}
}

func FuzzMergedFSName(f *testing.F) {
	m := layeredFixture(f)
	for _, seed := range []string{".", "dir/b.txt", "dirlink/../keep.txt", "out/x", "loop/x", "opaque/old.txt", "a//b", "/abs", "dir/./a.txt", "in/x"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, name string) {
		n, err := m.walk("open", name, true)
		if !fs.ValidPath(name) && err == nil {
			t.Fatalf("invalid name %q resolved", name)
		}
		if err == nil {
			top := n.top()
			if !within(m.upper, top) && !within(m.lowers[0], top) {
				t.Fatalf("%q resolved to %s, outside both layers", name, top)
			}
		}
		file, err := m.Open(name)
		if err != nil {
			return
		}
		defer file.Close()
		info, err := file.Stat()
		if err != nil {
			t.Fatalf("Stat of open %q: %v", name, err)
		}
		if sinfo, err := m.Stat(name); err != nil || sinfo.IsDir() != info.IsDir() {
			t.Fatalf("Stat(%q) disagrees with Open: %v", name, err)
		}
	})
}

func within(root, p string) bool {
	rel, err := filepath.Rel(root, p)
	return err == nil && (rel == "." || filepath.IsLocal(rel))
}
