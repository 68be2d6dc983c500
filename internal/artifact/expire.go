package artifact

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Expire removes, under runsRoot (normally .gantry/runs), every job's
// artifacts whose expire_in has passed at now, and returns how many it
// removed. Artifacts with no expiry or "never" are kept. A damaged or
// unreadable artifact folder is reported but does not stop the sweep.
func Expire(ctx context.Context, runsRoot string, now time.Time) (removed int, err error) {
	metas, err := filepath.Glob(filepath.Join(globEscape(runsRoot), "*", "artifacts", "*", metaFile))
	if err != nil {
		return 0, fmt.Errorf("expire artifacts in %s: %w", runsRoot, err)
	}
	var errs []error
	for _, m := range metas {
		if err := ctx.Err(); err != nil {
			return removed, err
		}
		dir := filepath.Dir(m)
		if strings.HasPrefix(filepath.Base(dir), ".tmp-") {
			continue // a Collect in progress
		}
		meta, err := ReadMeta(ArtifactDir(dir))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		at, expires := meta.ExpiresAt()
		if !expires || now.Before(at) {
			continue
		}
		// Rename first so a concurrent Extract never sees a half-deleted
		// tree, only a missing one.
		doomed := dir + ".expired"
		if err := os.Rename(dir, doomed); err != nil {
			errs = append(errs, fmt.Errorf("expire %s: %w", dir, err))
			continue
		}
		if err := os.RemoveAll(doomed); err != nil {
			errs = append(errs, fmt.Errorf("expire %s: %w", dir, err))
			continue
		}
		removed++
	}
	if len(errs) > 0 {
		return removed, fmt.Errorf("expire artifacts in %s: %w", runsRoot, errors.Join(errs...))
	}
	return removed, nil
}

// globEscape quotes glob metacharacters in a literal directory name.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
