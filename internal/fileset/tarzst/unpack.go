package tarzst

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Unpack extracts the archive r into tree, a folder that must not exist
// yet, as a whole: into a temporary sibling first, then renamed into
// place, so that readers find either no tree or a complete one. When
// another process or goroutine unpacked the same tree first, its tree is
// kept and this copy dropped.
func Unpack(ctx context.Context, r io.Reader, tree string) error {
	tmp, err := os.MkdirTemp(filepath.Dir(tree), ".tmp-"+filepath.Base(tree)+"-")
	if err != nil {
		return fmt.Errorf("unpack %s: %w", tree, err)
	}
	if err := Extract(ctx, r, tmp); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	if err := os.Rename(tmp, tree); err != nil {
		os.RemoveAll(tmp)
		if info, statErr := os.Stat(tree); statErr != nil || !info.IsDir() {
			return fmt.Errorf("unpack %s: %w", tree, err)
		}
	}
	return nil
}
