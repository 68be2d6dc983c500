package worker

import (
	"bytes"
	"path"
	"slices"
	"strings"
	"testing"
)

func TestProjectPaths(t *testing.T) {
	lookup := func(name string) (string, bool) {
		switch name {
		case "CI_PROJECT_DIR":
			return "/builds/group/app", true
		case "OUT":
			return "dist", true
		}
		return "", false
	}
	tests := []struct {
		in, want []string
		warned   string
	}{
		{[]string{"dist/", "$OUT/app", "**/*.log"}, []string{"dist/", "dist/app", "**/*.log"}, ""},
		{[]string{"$CI_PROJECT_DIR/dist", "$CI_PROJECT_DIR/.npm/", "$CI_PROJECT_DIR"}, []string{"dist", ".npm/", "."}, ""},
		{[]string{"../up.txt", "ok.txt"}, []string{"ok.txt"}, "../up.txt: not supported: outside build directory"},
		{[]string{"/etc/passwd", "/builds/group/application/x"}, []string{}, "/etc/passwd: not supported"},
		{[]string{"a/../../b", "", " "}, []string{}, "a/../../b"},
	}
	for _, tc := range tests {
		var log bytes.Buffer
		got := projectPaths(tc.in, lookup, &log)
		if !slices.Equal(got, tc.want) {
			t.Errorf("projectPaths(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if tc.warned == "" && log.Len() > 0 || !strings.Contains(log.String(), tc.warned) {
			t.Errorf("projectPaths(%q) warned %q, want %q", tc.in, log.String(), tc.warned)
		}
	}
}

// FuzzInsideProject checks that whatever a pipeline writes, a path kept
// as inside the project is relative and does not climb out of it.
func FuzzInsideProject(f *testing.F) {
	for _, s := range []string{"dist", "/p/dist", "/p", "/p/../q", "../x", "a/../../b", "/p/", "./", "//p/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		rel, ok := insideProject(p, "/p")
		if !ok {
			return
		}
		c := path.Clean(rel)
		if path.IsAbs(rel) || c == ".." || strings.HasPrefix(c, "../") {
			t.Errorf("insideProject(%q) kept %q, which is outside", p, rel)
		}
	})
}
