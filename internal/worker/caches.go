package worker

import (
	"context"
	"fmt"
	"io"
	"io/fs"

	"github.com/gantry-ci/gantry/internal/cache"
	"github.com/gantry-ci/gantry/internal/fileset"
	"github.com/gantry-ci/gantry/internal/pipeline"
	"github.com/gantry-ci/gantry/internal/variables"
	"github.com/gantry-ci/gantry/internal/workspace"
)

// jobCache is one of a job's caches with its keys worked out.
type jobCache struct {
	def       pipeline.Cache
	key       string
	fallbacks []string
	paths     []string
}

// cacheKeys computes each cache's key before the job runs, as GitLab does:
// key:files are hashed as the job found them, not as it left them.
func (w *Worker) cacheKeys(ctx context.Context, defs []pipeline.Cache, lookup func(string) (string, bool), log io.Writer) []jobCache {
	if w.Caches == nil {
		return nil
	}
	var out []jobCache
	for _, c := range defs {
		spec := cache.KeySpec{Key: variables.Expand(c.Key, lookup), Files: relativePaths(c.KeyFiles, lookup), Prefix: variables.Expand(c.KeyPrefix, lookup)}
		if spec.Key == "" && len(spec.Files) == 0 {
			spec.Key = "default"
		}
		key, err := cache.Key(ctx, spec, w.Snapshot.Dir())
		if err != nil {
			fmt.Fprintf(log, "WARNING: cache key: %v\n", err)
			continue
		}
		jc := jobCache{def: c, key: key, paths: projectPaths(c.Paths, lookup, log)}
		for _, fk := range c.FallbackKeys {
			jc.fallbacks = append(jc.fallbacks, cache.SanitizeKey(variables.Expand(fk, lookup)))
		}
		if fk, ok := lookup("CACHE_FALLBACK_KEY"); ok && fk != "" {
			jc.fallbacks = append(jc.fallbacks, cache.SanitizeKey(fk))
		}
		out = append(out, jc)
	}
	return out
}

func (w *Worker) restoreCaches(ctx context.Context, caches []jobCache, ws *workspace.Workspace, log io.Writer) {
	for _, c := range caches {
		policy := c.def.Policy
		if policy == "push" {
			continue
		}
		fmt.Fprintf(log, "Checking cache for %s...\n", c.key)
		hit, err := w.Caches.Restore(ctx, append([]string{c.key}, c.fallbacks...), ws.WriteDir())
		switch {
		case err != nil:
			fmt.Fprintf(log, "WARNING: restoring cache %s: %v\n", c.key, err)
		case hit == "":
			fmt.Fprintf(log, "No cache found for %s\n", c.key)
		case hit != c.key:
			fmt.Fprintf(log, "Successfully extracted cache from fallback key %s\n", hit)
		default:
			fmt.Fprintf(log, "Successfully extracted cache\n")
		}
	}
}

func (w *Worker) saveCaches(ctx context.Context, caches []jobCache, fsys fs.FS, succeeded bool, log io.Writer) {
	for _, c := range caches {
		if c.def.Policy == "pull" || !whenApplies(c.def.When, succeeded) {
			continue
		}
		files, err := fileset.Resolve(fsys, fileset.Spec{Paths: c.paths, Untracked: c.def.Untracked, Tracked: w.Snapshot.Tracked})
		if err != nil {
			fmt.Fprintf(log, "WARNING: cache %s: %v\n", c.key, err)
			continue
		}
		if len(files) == 0 {
			fmt.Fprintf(log, "WARNING: cache %s: no files match %v; not saved\n", c.key, c.def.Paths)
			continue
		}
		if err := w.Caches.Save(ctx, c.key, fsys, files); err != nil {
			fmt.Fprintf(log, "WARNING: saving cache %s: %v\n", c.key, err)
			continue
		}
		fmt.Fprintf(log, "Created cache %s (%d files)\n", c.key, len(files))
	}
}
