package runner

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/gantry-ci/gantry/internal/cache"
	"github.com/gantry-ci/gantry/internal/worker"
)

// cacheSync is worker.CacheSync for one job: the runner's local store of
// the project (Dir/cache/<project>) kept in step with the server's.
type cacheSync struct {
	c     *Client
	jobID int64
	store *cache.Store
	log   io.Writer
}

var _ worker.CacheSync = (*cacheSync)(nil)

// Fetch downloads the server's archive of key unless the local one is at
// least as new: the local archive's time is sent as If-Modified-Since, and
// a downloaded archive takes the server's Last-Modified, so an unchanged
// cache costs one small request.
func (s *cacheSync) Fetch(ctx context.Context, key string) error {
	sectionStart(s.log, "restore_cache", "Checking the server for cache "+key+"...")
	defer sectionEnd(s.log, "restore_cache")
	path := s.store.Path(key)
	var since time.Time
	if info, err := os.Stat(path); err == nil {
		since = info.ModTime()
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("download cache %q: %w", key, err)
	}
	// ".tmp-" is the store's own prefix for unfinished archives, which it
	// tidies away if this process dies before the rename.
	tmp, err := os.CreateTemp(dir, ".tmp-download-*")
	if err != nil {
		return fmt.Errorf("download cache %q: %w", key, err)
	}
	tmp.Close()
	got, modTime, err := s.c.GetCache(ctx, s.jobID, key, tmp.Name(), since)
	if err != nil || !got {
		os.Remove(tmp.Name())
		return err
	}
	if !modTime.IsZero() {
		_ = os.Chtimes(tmp.Name(), modTime, modTime)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("download cache %q: %w", key, err)
	}
	if info, err := os.Stat(path); err == nil {
		fmt.Fprintf(s.log, "Downloaded cache %s from the server (%d bytes)\n", key, info.Size())
	}
	return nil
}

// Push uploads the archive the worker has just saved. The archive then
// takes the time the upload ended, which is no earlier than the server's
// copy, so the next Fetch does not download what was just sent.
func (s *cacheSync) Push(ctx context.Context, key string) error {
	sectionStart(s.log, "archive_cache", "Uploading cache "+key+" to the server...")
	defer sectionEnd(s.log, "archive_cache")
	path := s.store.Path(key)
	if err := s.c.PutCache(ctx, s.jobID, key, path); err != nil {
		return err
	}
	now := time.Now()
	_ = os.Chtimes(path, now, now)
	fmt.Fprintf(s.log, "Uploaded cache %s\n", key)
	return nil
}
