package artifact_test

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// makeTree builds a real tree: keys ending in "/" are empty directories,
// values starting with "-> " are symlinks, a "+x" suffix on the key makes an
// executable file.
func makeTree(t testing.TB, root string, tree map[string]string) {
	t.Helper()
	mtime := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	for name, content := range tree {
		mode := fs.FileMode(0o644)
		if n, ok := strings.CutSuffix(name, "+x"); ok {
			name, mode = n, 0o755
		}
		p := filepath.Join(root, filepath.FromSlash(name))
		if strings.HasSuffix(name, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if target, ok := strings.CutPrefix(content, "-> "); ok {
			if err := os.Symlink(target, p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
}

func diff(want, got map[string]string) string {
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
