package blob_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gantry-ci/gantry/internal/blob"
)

func TestValidateKey(t *testing.T) {
	tests := []struct {
		key string
		ok  bool
		why string // part of the expected error message
	}{
		{"logs/1.log", true, ""},
		{"artifacts/7/archive.zip", true, ""},
		{"a", true, ""},
		{"cache/proj 1/node_modules-ü.tar.zst", true, ""},
		{"..foo/bar..", true, ""},
		{".hidden/.x", true, ""},
		{"a:b/c", true, ""},
		{strings.Repeat("a", 255), true, ""},
		{strings.Repeat("a/", 511) + "bb", true, ""},

		{"", false, "empty"},
		{"/etc/passwd", false, "relative"},
		{"/", false, "relative"},
		{"..", false, `".."`},
		{"../x", false, `".."`},
		{"a/..", false, `".."`},
		{"a/../../etc", false, `".."`},
		{"a/./b", false, `"."`},
		{".", false, `"."`},
		{"a//b", false, "empty path segment"},
		{"a/", false, "empty path segment"},
		{"a\\..\\..\\etc", false, "backslash"},
		{"a\x00b", false, "NUL"},
		{"a\nb", false, "control"},
		{"a\x7fb", false, "control"},
		{"\xff\xfe", false, "UTF-8"},
		{strings.Repeat("a", 256), false, "segment"},
		{strings.Repeat("a/", 512) + "b", false, "limit"},
	}
	for _, tt := range tests {
		err := blob.ValidateKey(tt.key)
		if tt.ok {
			if err != nil {
				t.Errorf("ValidateKey(%.40q) = %v, want ok", tt.key, err)
			}
			continue
		}
		if !errors.Is(err, blob.ErrInvalidKey) {
			t.Errorf("ValidateKey(%.40q) = %v, want ErrInvalidKey", tt.key, err)
			continue
		}
		if !strings.Contains(err.Error(), tt.why) {
			t.Errorf("ValidateKey(%.40q) = %q, want message mentioning %q", tt.key, err, tt.why)
		}
	}
}

func FuzzKey(f *testing.F) {
	for _, s := range []string{"logs/1.log", "a/../../etc", "../x", "/abs", "a//b", "a\\b", "a\x00b", ".", "..", "...", "a/./b", "ü/é", ".gantry-staging/x", "C:/x", "~/x"} {
		f.Add(s)
	}
	dir := filepath.Join(f.TempDir(), "store")
	f.Fuzz(func(t *testing.T, key string) {
		if blob.ValidateKey(key) != nil {
			return
		}
		// An accepted key must name something strictly inside the store.
		local := filepath.FromSlash(key)
		if !filepath.IsLocal(local) {
			t.Fatalf("accepted key %q is not local", key)
		}
		joined := filepath.Join(dir, local)
		rel, err := filepath.Rel(dir, joined)
		if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			t.Fatalf("accepted key %q resolves to %q, outside %q", key, joined, dir)
		}
		// And it must be canonical: one blob, one spelling.
		if rel != local {
			t.Fatalf("accepted key %q is not clean (cleans to %q)", key, rel)
		}
	})
}
