package cache_test

import (
	"archive/tar"
	"bytes"
	"errors"
	"github.com/gantry-ci/gantry/internal/fileset/filesettest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gantry-ci/gantry/internal/cache"
	"github.com/gantry-ci/gantry/internal/fileset"
	"github.com/gantry-ci/gantry/internal/fileset/extract"
)

var richTree = map[string]entry{
	"node_modules/pkg/index.js":     {content: "module.exports = 1", mtime: epoch},
	"node_modules/pkg/package.json": {content: "{}", mtime: epoch},
	"node_modules/.bin/tool":        {link: "../pkg/index.js"},
	"node_modules/empty":            {dir: true},
	"bin/run.sh":                    {content: "#!/bin/sh\necho hi\n", mode: 0o755, mtime: epoch},
	"bin/secret":                    {content: "s3cret", mode: 0o600, mtime: epoch},
	"bin/readonly":                  {content: "ro", mode: 0o444, mtime: epoch},
	"bin/abs-link":                  {link: "/usr/bin/env"},
	"deep/a/b/c/d/e/f.txt":          {content: strings.Repeat("x", 3<<20), mtime: epoch}, // streamed, not buffered
	"locked":                        {dir: true, mode: 0o555},
	"spaces in name/ü.txt":          {content: "unicode", mtime: epoch},
}

func saveTree(t *testing.T, store *cache.Store, key string, tree map[string]entry) {
	t.Helper()
	src := t.TempDir()
	writeTree(t, src, tree)
	files, err := fileset.Resolve(os.DirFS(src), fileset.Spec{Paths: []string{"."}})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Save(t.Context(), key, os.DirFS(src), files); err != nil {
		t.Fatal(err)
	}
}

func TestSaveRestoreRoundTrip(t *testing.T) {
	store, err := cache.NewStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	writeTree(t, src, richTree)
	files, err := fileset.Resolve(os.DirFS(src), fileset.Spec{Paths: []string{"."}})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Save(t.Context(), "deps", os.DirFS(src), files); err != nil {
		t.Fatal(err)
	}

	dest := t.TempDir()
	hit, err := store.Restore(t.Context(), []string{"deps"}, dest)
	if err != nil {
		t.Fatal(err)
	}
	if hit != "deps" {
		t.Fatalf("hit key = %q, want deps", hit)
	}
	if d := diffSnapshots(filesettest.Describe(t, src), filesettest.Describe(t, dest)); d != "" {
		t.Errorf("restored tree differs from saved one:\n%s", d)
	}
}

func TestRestoreReplacesExistingFilesWithoutFollowingLinks(t *testing.T) {
	store, _ := cache.NewStore(t.TempDir())
	saveTree(t, store, "k", map[string]entry{
		"config":      {content: "from cache"},
		"dir/file":    {content: "new"},
		"was-a-file":  {link: "dir/file"},
		"was-empty/x": {content: "x"},
	})

	outside := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(outside, []byte("untouched"), 0o644); err != nil {
		t.Fatal(err)
	}
	dest := t.TempDir()
	writeTree(t, dest, map[string]entry{
		"config":     {link: outside},
		"dir/file":   {content: "old, longer content"},
		"was-a-file": {content: "plain"},
		"was-empty":  {content: "a file where the cache has a dir"},
		"keep.txt":   {content: "not in cache"},
	})
	os.Remove(filepath.Join(dest, "was-empty"))

	if _, err := store.Restore(t.Context(), []string{"k"}, dest); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(outside); string(b) != "untouched" {
		t.Fatalf("restore wrote through a symlink to %s: %q", outside, b)
	}
	got := filesettest.Describe(t, dest)
	for name, want := range map[string]string{"config": "file", "dir/file": "file", "was-a-file": "link -> dir/file", "keep.txt": "file"} {
		if !strings.HasPrefix(got[name], want) {
			t.Errorf("%s = %q, want %s", name, got[name], want)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dest, "dir/file")); string(b) != "new" {
		t.Errorf("dir/file = %q, want the cached content", b)
	}
}

func TestRestoreFallbackOrder(t *testing.T) {
	store, _ := cache.NewStore(t.TempDir())
	saveTree(t, store, "main-branch", map[string]entry{"which": {content: "main"}})
	saveTree(t, store, "global", map[string]entry{"which": {content: "global"}})

	tests := []struct {
		name    string
		keys    []string
		wantHit string
		want    string
	}{
		{"key itself wins", []string{"main-branch", "global"}, "main-branch", "main"},
		{"first fallback that exists", []string{"feature-x", "", "main-branch", "global"}, "main-branch", "main"},
		{"CACHE_FALLBACK_KEY last", []string{"feature-x", "other", "global"}, "global", "global"},
		{"miss everywhere", []string{"feature-x", "nope"}, "", ""},
		{"no keys", nil, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dest := t.TempDir()
			hit, err := store.Restore(t.Context(), tt.keys, dest)
			if err != nil {
				t.Fatal(err)
			}
			if hit != tt.wantHit {
				t.Errorf("hit = %q, want %q", hit, tt.wantHit)
			}
			b, _ := os.ReadFile(filepath.Join(dest, "which"))
			if string(b) != tt.want {
				t.Errorf("restored %q, want %q", b, tt.want)
			}
		})
	}
}

func TestRestoreCorruptedArchive(t *testing.T) {
	store, _ := cache.NewStore(t.TempDir())
	saveTree(t, store, "good", richTree)
	good, err := os.ReadFile(store.Path("good"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(store.Path("bad")), 0o755); err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Clone(good)
	flipped[len(flipped)/2] ^= 0xff

	tests := []struct {
		name string
		data []byte
	}{
		{"truncated", good[:len(good)/2]},
		{"truncated at the very end", good[:len(good)-3]},
		{"flipped byte", flipped},
		{"not an archive", []byte("this is not zstd at all")},
		{"empty file", nil},
		{"zstd of garbage", craftArchiveRaw(t, []byte("tar? no. just bytes, quite a few of them, more than a block? no"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := os.WriteFile(store.Path("bad"), tt.data, 0o644); err != nil {
				t.Fatal(err)
			}
			hit, err := store.Restore(t.Context(), []string{"bad", "good"}, t.TempDir())
			if err == nil {
				t.Fatalf("restore of a damaged archive succeeded (hit %q)", hit)
			}
			if !errors.Is(err, cache.ErrCorrupt) || !strings.Contains(err.Error(), `"bad"`) {
				t.Errorf("error should name the key and wrap ErrCorrupt: %v", err)
			}
		})
	}
}

func TestRestoreRefusesEscapingEntries(t *testing.T) {
	reg := func(name string) tar.Header { return tar.Header{Name: name, Typeflag: tar.TypeReg} }
	link := func(name, target string) tar.Header {
		return tar.Header{Name: name, Typeflag: tar.TypeSymlink, Linkname: target}
	}
	tests := []struct {
		name     string
		hdrs     []tar.Header
		contents []string
		preexist map[string]entry // planted in the destination beforehand
	}{
		{name: "parent directory", hdrs: []tar.Header{reg("../evil")}, contents: []string{"x"}},
		{name: "nested parent directory", hdrs: []tar.Header{reg("ok/../../evil")}, contents: []string{"x"}},
		{name: "absolute path", hdrs: []tar.Header{reg("/tmp/evil")}, contents: []string{"x"}},
		{name: "symlink then write through it", hdrs: []tar.Header{link("sneaky", "../"), reg("sneaky/evil")}, contents: []string{"", "x"}},
		{name: "absolute symlink then directory through it", hdrs: []tar.Header{link("sneaky", "/tmp"), {Name: "sneaky/evil/", Typeflag: tar.TypeDir}}, contents: []string{"", ""}},
		{name: "symlink already in the destination", hdrs: []tar.Header{reg("planted/evil")}, contents: []string{"x"},
			preexist: map[string]entry{"planted": {link: ".."}}},
		{name: "hard link", hdrs: []tar.Header{{Name: "h", Typeflag: tar.TypeLink, Linkname: "../../etc/passwd"}}, contents: []string{""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store, _ := cache.NewStore(t.TempDir())
			if err := os.MkdirAll(filepath.Dir(store.Path("k")), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(store.Path("k"), craftArchive(t, tt.hdrs, tt.contents), 0o644); err != nil {
				t.Fatal(err)
			}
			parent := t.TempDir()
			dest := filepath.Join(parent, "project")
			writeTree(t, dest, tt.preexist)
			_, err := store.Restore(t.Context(), []string{"k"}, dest)
			if err == nil {
				t.Fatal("restore accepted an escaping entry")
			}
			if !errors.Is(err, extract.ErrUnsafePath) && !errors.Is(err, cache.ErrCorrupt) {
				t.Errorf("error does not say why: %v", err)
			}
			if _, err := os.Lstat(filepath.Join(parent, "evil")); err == nil {
				t.Errorf("an entry escaped to %s", filepath.Join(parent, "evil"))
			}
			if _, err := os.Lstat("/tmp/evil"); err == nil {
				t.Errorf("an entry escaped to /tmp/evil")
			}
		})
	}
}

func craftArchiveRaw(t *testing.T, payload []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, _ := newZstdWriter(&buf)
	zw.Write(payload)
	zw.Close()
	return buf.Bytes()
}
