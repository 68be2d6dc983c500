package worker

import (
	"os"
	"path/filepath"
	"testing"
)

func TestTouched(t *testing.T) {
	upper := t.TempDir()
	for _, p := range []string{"vendor/lib/a.go", "node"} {
		full := filepath.Join(upper, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		patterns []string
		want     bool
	}{
		{[]string{"vendor/"}, true},
		{[]string{"vendor/lib/**/*.go"}, true},
		{[]string{"target/", ".cargo/"}, false},
		{[]string{"target/", "vendor"}, true},
		{[]string{"**/*.o"}, true},              // starts with a wildcard: cannot tell
		{[]string{"node/modules/"}, true},       // a file replaced the folder above
		{[]string{"./target/../vendor/"}, true}, // cleaned like a path
		{nil, false},
	}
	for _, c := range cases {
		if got := touched(upper, c.patterns); got != c.want {
			t.Errorf("touched(%v) = %v, want %v", c.patterns, got, c.want)
		}
	}
}
