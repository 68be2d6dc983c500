package blob

import (
	"context"
	"errors"
	"fmt"
)

// maxGCErrors bounds the errors GC reports, so a broken disk yields a
// readable message instead of one line per blob.
const maxGCErrors = 10

// GC deletes the blobs under prefix for which expired returns true (for
// artifacts' expire_in, old logs, unused caches) and returns how many it
// removed. A blob that fails to delete does not stop the sweep: the rest are
// still collected and the failures are returned together. A blob already
// gone when GC reaches it is not an error, so two collectors may overlap.
func GC(ctx context.Context, s Store, prefix string, expired func(Info) bool) (removed int, err error) {
	if expired == nil {
		return 0, errors.New("gc blobs: expired func is nil")
	}
	infos, err := s.List(ctx, prefix)
	if err != nil {
		return 0, fmt.Errorf("gc blobs under %q: %w", prefix, err)
	}
	var errs []error
	failed := 0
	for _, info := range infos {
		if err := ctx.Err(); err != nil {
			errs = append(errs, fmt.Errorf("gc blobs under %q: %w", prefix, err))
			break
		}
		if !expired(info) {
			continue
		}
		if err := s.Delete(ctx, info.Key); err != nil {
			if errors.Is(err, ErrNotFound) {
				continue
			}
			failed++
			if len(errs) < maxGCErrors {
				errs = append(errs, fmt.Errorf("gc blob %q: %w", info.Key, err))
			}
			continue
		}
		removed++
	}
	if failed > maxGCErrors {
		errs = append(errs, fmt.Errorf("gc blobs under %q: %d more deletions failed", prefix, failed-maxGCErrors))
	}
	return removed, errors.Join(errs...)
}
