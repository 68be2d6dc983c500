package cache

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"
)

func TestLayerUnpackedOnceAndPrunedAfterSave(t *testing.T) {
	ctx := context.Background()
	s, err := NewStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if l, err := s.OpenLayer(ctx, []string{"missing"}); l != nil || err != nil {
		t.Fatalf("a miss gives no layer and no error, got %v, %v", l, err)
	}
	v1 := fstest.MapFS{"target/a.txt": {Data: []byte("one")}}
	if err := s.Save(ctx, "k", v1, []string{"target/a.txt"}); err != nil {
		t.Fatal(err)
	}
	first, err := s.OpenLayer(ctx, []string{"missing", "k"})
	if err != nil || first == nil || first.Key != "k" {
		t.Fatalf("OpenLayer = %+v, %v", first, err)
	}
	if got, _ := os.ReadFile(filepath.Join(first.Dir, "target", "a.txt")); string(got) != "one" {
		t.Fatalf("layer holds %q", got)
	}
	second, err := s.OpenLayer(ctx, []string{"k"})
	if err != nil || second.Dir != first.Dir {
		t.Fatalf("the same archive version must reuse its tree: %q vs %q (%v)", second.Dir, first.Dir, err)
	}
	second.Release()

	// A new version while the old tree is held: the old one stays.
	v2 := fstest.MapFS{"target/a.txt": {Data: []byte("two")}}
	if err := s.Save(ctx, "k", v2, []string{"target/a.txt"}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(first.Dir); err != nil {
		t.Fatalf("a held tree was removed: %v", err)
	}
	third, err := s.OpenLayer(ctx, []string{"k"})
	if err != nil || third.Dir == first.Dir {
		t.Fatalf("a new archive version needs a new tree: %q (%v)", third.Dir, err)
	}
	if got, _ := os.ReadFile(filepath.Join(third.Dir, "target", "a.txt")); string(got) != "two" {
		t.Fatalf("new layer holds %q", got)
	}
	first.Release()
	third.Release()

	// Once released, the next save prunes every older tree.
	if err := s.Save(ctx, "k", v1, []string{"target/a.txt"}); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{first.Dir, third.Dir} {
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("released old tree %s not pruned: %v", dir, err)
		}
	}
}
