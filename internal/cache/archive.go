package cache

import "github.com/gantry-ci/gantry/internal/fileset/tarzst"

// ErrCorrupt reports an archive that cannot be read to its end. It is
// tarzst.ErrCorrupt, re-exported for callers that only import cache.
var ErrCorrupt = tarzst.ErrCorrupt
