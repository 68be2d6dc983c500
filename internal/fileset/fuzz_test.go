package fileset_test

import (
	"errors"
	"io/fs"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/bmatcuk/doublestar/v4"
	"github.com/gantry-ci/gantry/internal/fileset"
)

// FuzzResolve checks the invariants every caller relies on, whatever the
// pattern: results are sorted, unique, valid relative paths that exist, none
// matches an exclude pattern, and patterns leading upward are refused.
func FuzzResolve(f *testing.F) {
	root := f.TempDir()
	makeTree(f, root, projectTree)
	fsys := os.DirFS(root)

	for _, seed := range [][2]string{
		{"build/", "build/**/*.o"},
		{"**", ""},
		{".", "**/*.apk"},
		{"../x", ""},
		{"/abs", ""},
		{"a.{rpm,deb}", "a.rpm"},
		{"{..,build}/*", ""},
		{"build/[a", ""},
		{"current/**", ""},
		{"escape/*", ""},
		{"up/**", ""},
		{"./out/./apk//release/", "out/apk/*/notes.txt"},
		{"\\*", "\x00"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, pattern, exclude string) {
		got, err := fileset.Resolve(fsys, fileset.Spec{Paths: []string{pattern}, Exclude: []string{exclude}})
		if strings.HasPrefix(pattern, "../") || strings.HasPrefix(pattern, "/") {
			if err == nil || (exclude == "" && !errors.Is(err, fileset.ErrOutsideProject)) {
				t.Fatalf("pattern %q: want ErrOutsideProject, got %v", pattern, err)
			}
		}
		if err != nil {
			if got != nil {
				t.Fatalf("result %q returned with error %v", got, err)
			}
			return
		}
		if !slices.IsSorted(got) || len(slices.Compact(slices.Clone(got))) != len(got) {
			t.Fatalf("result not sorted and unique: %q", got)
		}
		ex := strings.TrimPrefix(exclude, "./")
		for _, p := range got {
			if !fs.ValidPath(p) || p == "." {
				t.Fatalf("invalid path %q", p)
			}
			if _, err := fs.Lstat(fsys, p); err != nil {
				t.Fatalf("path %q does not exist: %v", p, err)
			}
			if ok, _ := doublestar.Match(ex, p); ok && ex == exclude {
				t.Fatalf("path %q matches exclude %q", p, exclude)
			}
		}
	})
}
