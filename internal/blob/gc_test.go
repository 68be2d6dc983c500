package blob_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/internal/blob"
)

func TestGCRemovesOnlyExpired(t *testing.T) {
	dir := t.TempDir()
	s := newFS(t, dir)
	now := time.Now()
	ages := map[string]time.Duration{
		"artifacts/1/archive.zip": 48 * time.Hour,
		"artifacts/2/archive.zip": time.Hour,
		"artifacts/3/archive.zip": 31 * 24 * time.Hour,
		"logs/1.log":              90 * 24 * time.Hour,
	}
	for key, age := range ages {
		if _, err := s.Put(t.Context(), key, strings.NewReader("x")); err != nil {
			t.Fatal(err)
		}
		mt := now.Add(-age)
		if err := os.Chtimes(filepath.Join(dir, filepath.FromSlash(key)), mt, mt); err != nil {
			t.Fatal(err)
		}
	}
	expireIn := 24 * time.Hour
	removed, err := blob.GC(t.Context(), s, "artifacts/", func(in blob.Info) bool {
		return now.Sub(in.ModTime) > expireIn
	})
	if err != nil {
		t.Fatal(err)
	}
	if removed != 2 {
		t.Errorf("removed %d, want 2", removed)
	}
	for key, age := range ages {
		_, err := s.Stat(t.Context(), key)
		gone := errors.Is(err, blob.ErrNotFound)
		wantGone := strings.HasPrefix(key, "artifacts/") && age > expireIn
		if gone != wantGone {
			t.Errorf("%s (age %v): gone=%v, want %v (err %v)", key, age, gone, wantGone, err)
		}
	}
}

func TestGCRejectsNilPredicate(t *testing.T) {
	s := newFS(t, t.TempDir())
	if _, err := blob.GC(t.Context(), s, "", nil); err == nil {
		t.Error("GC with nil predicate succeeded")
	}
}
