package cache

import (
	"context"
	"io"
	"io/fs"

	"github.com/gantry-ci/gantry/internal/fileset/tarzst"
)

// ErrCorrupt reports an archive that cannot be read to its end. It is
// tarzst.ErrCorrupt, re-exported for callers that only import cache.
var ErrCorrupt = tarzst.ErrCorrupt

// WriteArchive writes files from fsys to w in the store's archive form (a
// zstd-compressed tar); see tarzst.Write.
func WriteArchive(ctx context.Context, w io.Writer, fsys fs.FS, files []string) error {
	return tarzst.Write(ctx, w, fsys, files)
}

// ExtractArchive unpacks an archive written by WriteArchive into destDir;
// see tarzst.Extract.
func ExtractArchive(ctx context.Context, r io.Reader, destDir string) error {
	return tarzst.Extract(ctx, r, destDir)
}
