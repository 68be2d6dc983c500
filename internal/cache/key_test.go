package cache_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gantry-ci/gantry/internal/cache"
)

func TestKeyFromString(t *testing.T) {
	tests := []struct {
		name string
		spec cache.KeySpec
		want string
	}{
		{"no key is default", cache.KeySpec{}, "default"},
		{"plain key kept", cache.KeySpec{Key: "build-cache_1.2"}, "build-cache_1.2"},
		{"slash escaped", cache.KeySpec{Key: "feature/login"}, "feature%2Flogin"},
		{"already escaped slash kept", cache.KeySpec{Key: "feature%2Flogin"}, "feature%2Flogin"},
		{"dot", cache.KeySpec{Key: "."}, "%2E"},
		{"dot dot", cache.KeySpec{Key: ".."}, "%2E%2E"},
		{"spaces and colons", cache.KeySpec{Key: "build: [linux, amd64]"}, "build%3A%20%5Blinux%2C%20amd64%5D"},
		{"traversal attempt", cache.KeySpec{Key: "../../etc"}, "..%2F..%2Fetc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := cache.Key(t.Context(), tt.spec, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Key = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestKeyLongKeysStayDistinct(t *testing.T) {
	a := strings.Repeat("a", 300) + "1"
	b := strings.Repeat("a", 300) + "2"
	ka, kb := cache.SanitizeKey(a), cache.SanitizeKey(b)
	if len(ka) > cache.MaxKeyLen || len(kb) > cache.MaxKeyLen {
		t.Fatalf("keys too long: %d, %d", len(ka), len(kb))
	}
	if ka == kb {
		t.Fatal("two long keys differing at the end collapsed into one")
	}
}

func TestKeyFromFiles(t *testing.T) {
	project := t.TempDir()
	writeTree(t, project, map[string]entry{
		"package-lock.json":        {content: `{"lockfileVersion": 3}`},
		"Gemfile.lock":             {content: "GEM\n  specs:\n"},
		"services/a/package.json":  {content: "a"},
		"services/b/package.json":  {content: "b"},
		"services/b/sub/notes.txt": {content: "n"},
	})
	key := func(spec cache.KeySpec) string {
		t.Helper()
		k, err := cache.Key(t.Context(), spec, project)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	hexKey := regexp.MustCompile(`^[0-9a-f]{64}$`)

	lock := key(cache.KeySpec{Files: []string{"package-lock.json"}})
	if !hexKey.MatchString(lock) {
		t.Fatalf("files key %q is not a hex digest", lock)
	}
	if again := key(cache.KeySpec{Files: []string{"./package-lock.json"}}); again != lock {
		t.Errorf("same file spelled differently gave %q and %q", lock, again)
	}
	both := key(cache.KeySpec{Files: []string{"package-lock.json", "Gemfile.lock"}})
	if both == lock {
		t.Error("adding a second file did not change the key")
	}
	if swapped := key(cache.KeySpec{Files: []string{"Gemfile.lock", "package-lock.json"}}); swapped != both {
		t.Error("file order changed the key")
	}
	prefixed := key(cache.KeySpec{Files: []string{"package-lock.json"}, Prefix: "node/v20"})
	if prefixed != "node%2Fv20-"+lock {
		t.Errorf("prefixed key = %q", prefixed)
	}
	glob := key(cache.KeySpec{Files: []string{"services/**/package.json"}})
	if !hexKey.MatchString(glob) || glob == lock {
		t.Errorf("glob key = %q", glob)
	}

	// An uncommitted edit must give a new key: that is why gantry hashes
	// content where GitLab uses the last commit.
	if err := os.WriteFile(filepath.Join(project, "package-lock.json"), []byte(`{"lockfileVersion": 4}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if edited := key(cache.KeySpec{Files: []string{"package-lock.json"}}); edited == lock {
		t.Error("editing the file did not change the key")
	}

	if got := key(cache.KeySpec{Files: []string{"missing.lock"}}); got != "default" {
		t.Errorf("no matching file: key %q, want default", got)
	}
	if got := key(cache.KeySpec{Files: []string{"missing.lock"}, Prefix: "rspec"}); got != "rspec-default" {
		t.Errorf("no matching file with prefix: key %q, want rspec-default", got)
	}
}

func TestKeyErrors(t *testing.T) {
	tests := []struct {
		name string
		spec cache.KeySpec
		want string
	}{
		{"three files", cache.KeySpec{Files: []string{"a", "b", "c"}}, "at most 2"},
		{"prefix without files", cache.KeySpec{Prefix: "p"}, "prefix"},
		{"key and files", cache.KeySpec{Key: "k", Files: []string{"a"}}, "both"},
		{"file outside project", cache.KeySpec{Files: []string{"../etc/passwd"}}, "inside the project"},
		{"absolute file", cache.KeySpec{Files: []string{"/etc/passwd"}}, "inside the project"},
		{"bad pattern", cache.KeySpec{Files: []string{"[a"}}, "pattern"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := cache.Key(t.Context(), tt.spec, t.TempDir())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

// FuzzSanitizeKey checks that any key becomes one safe, stable file name.
func FuzzSanitizeKey(f *testing.F) {
	for _, s := range []string{"", ".", "..", "a/b", "%2F", "%2", "%zz", "feature/x", strings.Repeat("é", 200), strings.Repeat("%41", 100) + "/", "a\x00b", " trailing "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		got := cache.SanitizeKey(key)
		if got == "" || got == "." || got == ".." || len(got) > cache.MaxKeyLen {
			t.Fatalf("SanitizeKey(%q) = %q: not a usable file name", key, got)
		}
		if strings.ContainsAny(got, "/\\\x00 ") {
			t.Fatalf("SanitizeKey(%q) = %q contains a separator or NUL", key, got)
		}
		if again := cache.SanitizeKey(got); again != got {
			t.Fatalf("not idempotent: %q -> %q -> %q", key, got, again)
		}
	})
}
