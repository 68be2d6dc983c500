package blob_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/internal/blob"
	"github.com/gantry-ci/gantry/internal/blob/blobtest"
)

func newFS(t testing.TB, dir string) *blob.FS {
	t.Helper()
	s, err := blob.NewFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestFSContract(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Store { return newFS(t, t.TempDir()) })
}

// stagingEntries lists Put's temporary files, which must never outlive a
// Put.
func stagingEntries(t *testing.T, dir string) []os.DirEntry {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, ".gantry-staging"))
	if err != nil {
		t.Fatal(err)
	}
	return entries
}

func TestFSLayoutAndModes(t *testing.T) {
	dir := t.TempDir()
	s := newFS(t, dir)
	if _, err := s.Put(t.Context(), "artifacts/7/archive.zip", strings.NewReader("zip")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(t.Context(), "logs/7.log", []byte("line\n")); err != nil {
		t.Fatal(err)
	}
	// Operators back up and inspect the store with ordinary tools, so each
	// key is a plain file at its own path, private to the server.
	for key, want := range map[string]string{"artifacts/7/archive.zip": "zip", "logs/7.log": "line\n"} {
		p := filepath.Join(dir, filepath.FromSlash(key))
		b, err := os.ReadFile(p)
		if err != nil || string(b) != want {
			t.Errorf("%s = %q, %v; want %q", p, b, err, want)
		}
		fi, _ := os.Stat(p)
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", p, fi.Mode().Perm())
		}
	}
	if n := len(stagingEntries(t, dir)); n != 0 {
		t.Errorf("%d staging files left after Put", n)
	}
}

func TestFSFailedPutLeavesNoStagingFile(t *testing.T) {
	dir := t.TempDir()
	s := newFS(t, dir)
	r := &errReader{}
	if _, err := s.Put(t.Context(), "k", r); err == nil {
		t.Fatal("Put succeeded from a failing reader")
	}
	if n := len(stagingEntries(t, dir)); n != 0 {
		t.Errorf("%d staging files left after failed Put", n)
	}
}

type errReader struct{ done bool }

func (e *errReader) Read(p []byte) (int, error) {
	if e.done {
		return 0, errors.New("boom")
	}
	e.done = true
	return copy(p, "partial"), nil
}

func TestNewFSRemovesOnlyStaleStaging(t *testing.T) {
	dir := t.TempDir()
	newFS(t, dir)
	staging := filepath.Join(dir, ".gantry-staging")
	old := filepath.Join(staging, "crashed")
	fresh := filepath.Join(staging, "uploading")
	for _, p := range []string{old, fresh} {
		if err := os.WriteFile(p, []byte("half"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	past := time.Now().Add(-3 * time.Hour)
	if err := os.Chtimes(old, past, past); err != nil {
		t.Fatal(err)
	}
	s := newFS(t, dir)
	if _, err := os.Stat(old); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale staging file survived restart: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("in-progress staging file was removed: %v", err)
	}
	infos, err := s.List(t.Context(), "")
	if err != nil || len(infos) != 0 {
		t.Errorf("staging files are listed as blobs: %v, %v", infos, err)
	}
	if _, err := s.Put(t.Context(), ".gantry-staging/x", strings.NewReader("x")); !errors.Is(err, blob.ErrInvalidKey) {
		t.Errorf("Put into the staging dir: %v, want ErrInvalidKey", err)
	}
}

func TestFSDeletePrunesEmptyDirectories(t *testing.T) {
	dir := t.TempDir()
	s := newFS(t, dir)
	for _, k := range []string{"logs/1/2/trace", "logs/keep"} {
		if _, err := s.Put(t.Context(), k, strings.NewReader("x")); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Delete(t.Context(), "logs/1/2/trace"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "logs", "1")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("empty directory logs/1 left behind: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "logs", "keep")); err != nil {
		t.Errorf("sibling removed: %v", err)
	}
}

// TestFSWritesRaceWithPruning has writers create blobs in a directory that
// Delete keeps pruning; no write may fail because its parent vanished.
func TestFSWritesRaceWithPruning(t *testing.T) {
	s := newFS(t, t.TempDir())
	const rounds = 100
	var wg sync.WaitGroup
	wg.Go(func() {
		for range rounds {
			if _, err := s.Put(t.Context(), "d/e/put", strings.NewReader("x")); err != nil {
				t.Errorf("Put: %v", err)
				return
			}
		}
	})
	wg.Go(func() {
		for range rounds {
			if _, err := s.Append(t.Context(), "d/e/append", []byte("x")); err != nil {
				t.Errorf("Append: %v", err)
				return
			}
			if err := s.Delete(t.Context(), "d/e/append"); err != nil {
				t.Errorf("Delete: %v", err)
				return
			}
		}
	})
	wg.Go(func() {
		for range rounds {
			if err := s.Delete(t.Context(), "d/e/put"); err != nil {
				t.Errorf("Delete: %v", err)
				return
			}
		}
	})
	wg.Wait()
}

func TestFSDoesNotFollowSymlinksOut(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("top secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := newFS(t, dir)
	// Someone with write access to the data dir plants a link out of it.
	if err := os.Symlink(outside, filepath.Join(dir, "evil")); err != nil {
		t.Fatal(err)
	}
	if r, _, err := s.Get(t.Context(), "evil/secret"); err == nil {
		r.Close()
		t.Error("Get read a file outside the store through a symlink")
	}
	if _, err := s.Put(t.Context(), "evil/planted", strings.NewReader("x")); err == nil {
		t.Error("Put wrote through a symlink out of the store")
	}
	if _, err := s.Append(t.Context(), "evil/planted", []byte("x")); err == nil {
		t.Error("Append wrote through a symlink out of the store")
	}
	if err := s.Delete(t.Context(), "evil/secret"); err == nil {
		if _, serr := os.Stat(filepath.Join(outside, "secret")); serr != nil {
			t.Error("Delete removed a file outside the store")
		}
	}
	entries, _ := os.ReadDir(outside)
	if len(entries) != 1 {
		t.Errorf("outside directory now holds %d entries, want 1", len(entries))
	}
}

func TestFSInvalidKeysTouchNothing(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "store")
	s := newFS(t, dir)
	for _, key := range []string{"../escape", "a/../../escape", "/tmp/escape", "a/../../../etc/passwd"} {
		if _, err := s.Put(t.Context(), key, strings.NewReader("x")); !errors.Is(err, blob.ErrInvalidKey) {
			t.Errorf("Put(%q): %v, want ErrInvalidKey", key, err)
		}
	}
	entries, _ := os.ReadDir(parent)
	if len(entries) != 1 {
		t.Errorf("store's parent holds %d entries, want only the store", len(entries))
	}
}
