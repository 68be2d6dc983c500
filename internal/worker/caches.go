package worker

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

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
	hit       string       // the key that was restored, "" on a miss
	layer     *cache.Layer // set when the cache was laid over the workspace
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

// restoreCaches restores each cache before the job. With overlay
// workspaces a cache is laid under the job's files as a read-only layer,
// unpacked once per cache version, so restoring copies nothing; otherwise
// its archive is extracted into the workspace.
func (w *Worker) restoreCaches(ctx context.Context, caches []jobCache, ws *workspace.Workspace, log io.Writer) {
	layered := w.Snapshot.Mode() == workspace.ModeOverlay
	for i := range caches {
		c := &caches[i]
		if c.def.Policy == "push" {
			continue
		}
		fmt.Fprintf(log, "Checking cache for %s...\n", c.key)
		keys := append([]string{c.key}, c.fallbacks...)
		w.fetchCaches(ctx, keys, log)
		var err error
		if layered {
			c.layer, err = w.Caches.OpenLayer(ctx, keys)
			if c.layer != nil {
				c.hit = c.layer.Key
				if !ws.AddLayer(c.layer.Dir) {
					// Too many layers: extract this one instead.
					c.layer.Release()
					c.layer = nil
					c.hit, err = w.Caches.Restore(ctx, keys, ws.WriteDir())
				}
			}
		} else {
			c.hit, err = w.Caches.Restore(ctx, keys, ws.WriteDir())
		}
		switch {
		case err != nil:
			fmt.Fprintf(log, "WARNING: restoring cache %s: %v\n", c.key, err)
		case c.hit == "":
			fmt.Fprintf(log, "No cache found for %s\n", c.key)
		case c.hit != c.key:
			fmt.Fprintf(log, "Successfully extracted cache from fallback key %s\n", c.hit)
		default:
			fmt.Fprintf(log, "Successfully extracted cache\n")
		}
	}
}

// releaseCaches lets later saves prune the cache layers this job used.
func releaseCaches(caches []jobCache) {
	for _, c := range caches {
		c.layer.Release()
	}
}

func (w *Worker) saveCaches(ctx context.Context, caches []jobCache, ws *workspace.Workspace, succeeded bool, log io.Writer) {
	fsys := ws.FS()
	for _, c := range caches {
		if c.def.Policy == "pull" || !whenApplies(c.def.When, succeeded) {
			continue
		}
		if c.layer != nil && c.hit == c.key && !c.def.Untracked && !touched(ws.WriteDir(), c.paths) {
			// Nothing under the cache's paths differs from the layer it was
			// restored from: saving would write the same archive again.
			fmt.Fprintf(log, "Cache %s unchanged, not saved again\n", c.key)
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
		if w.CacheSync != nil {
			if err := w.CacheSync.Push(ctx, c.key); err != nil {
				fmt.Fprintf(log, "WARNING: uploading cache %s: %v\n", c.key, err)
			}
		}
	}
}

// fetchCaches asks CacheSync for keys in restore order, stopping at the
// first the local store then holds: the restore that follows uses that one
// and never looks at the later keys.
func (w *Worker) fetchCaches(ctx context.Context, keys []string, log io.Writer) {
	if w.CacheSync == nil {
		return
	}
	for _, key := range keys {
		if err := w.CacheSync.Fetch(ctx, key); err != nil {
			fmt.Fprintf(log, "WARNING: downloading cache %s: %v\n", key, err)
		}
		if _, err := os.Stat(w.Caches.Path(key)); err == nil {
			return
		}
	}
}

// touched reports whether the job's upper layer holds anything (a new or
// changed file, a deletion) under the fixed part of any of the patterns.
// A pattern that starts with a wildcard counts as touched.
func touched(upper string, patterns []string) bool {
	for _, p := range patterns {
		prefix := p
		if i := strings.IndexAny(p, "*?[{"); i >= 0 {
			prefix = p[:i]
		}
		prefix = strings.Trim(path.Clean("/"+prefix), "/")
		if prefix == "" {
			return true
		}
		if _, err := os.Lstat(filepath.Join(upper, filepath.FromSlash(prefix))); err == nil {
			return true
		}
		// A folder above the prefix replaced or removed by the job hides
		// the layer's files too.
		for dir := path.Dir(prefix); dir != "."; dir = path.Dir(dir) {
			if info, err := os.Lstat(filepath.Join(upper, filepath.FromSlash(dir))); err == nil && !info.IsDir() {
				return true
			}
		}
	}
	return false
}
