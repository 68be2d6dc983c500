// Package extract writes many files into one destination directory quickly
// and safely. Cache restores and artifact hand-overs both unpack thousands of
// small files; doing the create/write/chmod/utimes system calls from a small
// worker pool keeps the disk busy while the producer (a decompressor or a
// directory walk) moves on. Every path is resolved through an os.Root, so no
// entry can land outside the destination, whether through "..", an absolute
// name, or a symlink planted earlier in the same archive or already present.
package extract

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"path"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"
)

// ErrUnsafePath reports an entry whose name would place it outside the
// destination directory.
var ErrUnsafePath = errors.New("entry path escapes the destination directory")

// smallFile is the largest file whose content is buffered and handed to a
// worker; larger files are streamed by the caller.
const smallFile = 1 << 20

// maxBuffered bounds the bytes of file content waiting for workers. It lets
// the producer run several directories ahead of the slowest worker without
// letting an archive of many small files pin unbounded memory.
const maxBuffered = 64 << 20

// queueLen is each worker's backlog in files: enough to hold a typical
// directory, so the producer can move on to the next one.
const queueLen = 128

// Options tunes a Writer; the zero value is ready to use.
type Options struct {
	// Workers is the number of goroutines issuing file system calls.
	// Zero picks a default suited to the machine.
	Workers int
}

// Writer places files under a destination directory. Its methods are meant
// to be called from one goroutine (the producer); the writes themselves run
// concurrently. Existing files are replaced, as `tar -x` does.
type Writer struct {
	ctx    context.Context
	root   *os.Root
	queues []chan job
	wg     sync.WaitGroup
	bufs   bufPool
	budget *semaphore.Weighted

	mu  sync.Mutex
	err error

	dirs   map[string]dirMeta
	closed bool
}

type dirMeta struct {
	mode  fs.FileMode
	mtime time.Time
}

// job is one file for a worker: either data (buffered content) or open (a
// source the worker copies from, letting the kernel use copy_file_range).
type job struct {
	name  string
	mode  fs.FileMode
	mtime time.Time
	data  *[]byte
	open  func() (io.ReadCloser, error)
}

// New creates destDir if needed and starts the worker pool. Close must be
// called to wait for the writes and learn whether they all succeeded.
func New(ctx context.Context, destDir string, opts Options) (*Writer, error) {
	if err := os.MkdirAll(destDir, 0o755); err != nil {
		return nil, fmt.Errorf("create destination %s: %w", destDir, err)
	}
	root, err := os.OpenRoot(destDir)
	if err != nil {
		return nil, fmt.Errorf("open destination %s: %w", destDir, err)
	}
	n := opts.Workers
	if n <= 0 {
		n = min(max(8*runtime.GOMAXPROCS(0), 8), 64)
	}
	w := &Writer{
		ctx:    ctx,
		root:   root,
		queues: make([]chan job, n),
		budget: semaphore.NewWeighted(maxBuffered),
		dirs:   map[string]dirMeta{},
	}
	w.wg.Add(n)
	for i := range w.queues {
		w.queues[i] = make(chan job, queueLen)
		go w.work(w.queues[i])
	}
	return w, nil
}

// Clean validates an entry name and returns it in clean slash form. Leading
// "./" is accepted because tar archives often carry it; "..", absolute paths
// and empty or "." elements inside the name are refused rather than
// cleaned, since no honest archive contains them. A backslash is an ordinary
// file name byte here, as it is on Unix file systems.
func Clean(name string) (string, error) {
	n := strings.TrimSuffix(name, "/")
	for strings.HasPrefix(n, "./") {
		n = n[2:]
	}
	if n == "" || n == "." {
		return ".", nil
	}
	if !fs.ValidPath(n) {
		return "", fmt.Errorf("%q: %w", name, ErrUnsafePath)
	}
	return n, nil
}

// Err returns the first error any write hit so far; producers check it to
// stop reading input early.
func (w *Writer) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil && w.ctx.Err() != nil {
		return w.ctx.Err()
	}
	return w.err
}

func (w *Writer) fail(err error) {
	w.mu.Lock()
	if w.err == nil {
		w.err = err
	}
	w.mu.Unlock()
}

// Dir creates a directory. Its mode and mtime are applied by Close, after
// its contents are written, so a read-only directory can still be filled and
// its mtime is not disturbed by the files created in it.
func (w *Writer) Dir(name string, mode fs.FileMode, mtime time.Time) error {
	if err := w.Err(); err != nil {
		return err
	}
	n, err := Clean(name)
	if err != nil {
		return err
	}
	if n != "." {
		if err := w.root.MkdirAll(n, 0o700|mode.Perm()); err != nil {
			return w.fail1(w.explain(n+"/", fmt.Errorf("create directory %s: %w", n, err)))
		}
	}
	w.dirs[n] = dirMeta{mode: mode.Perm(), mtime: mtime}
	return nil
}

// File writes a regular file of the given size read from r. Small files are
// buffered and written by a worker; large ones are streamed right away.
func (w *Writer) File(name string, mode fs.FileMode, mtime time.Time, size int64, r io.Reader) error {
	if err := w.Err(); err != nil {
		return err
	}
	n, err := Clean(name)
	if err != nil {
		return err
	}
	if n == "." {
		return fmt.Errorf("%q: a file cannot replace the destination directory: %w", name, ErrUnsafePath)
	}
	if size > smallFile || size < 0 {
		sub, base, err := w.parent(n, nil)
		if err != nil {
			return w.fail1(err)
		}
		defer closeSub(sub, w.root)
		return w.fail1(w.writeFile(sub, base, n, mode, mtime, func(f *os.File) error {
			_, err := io.Copy(f, r)
			return err
		}))
	}
	bp := w.bufs.get(int(size))
	if err := w.budget.Acquire(w.ctx, int64(cap(*bp))); err != nil {
		w.bufs.put(bp)
		return err
	}
	if _, err := io.ReadFull(r, *bp); err != nil {
		w.budget.Release(int64(cap(*bp)))
		w.bufs.put(bp)
		return fmt.Errorf("read content of %s: %w", n, err)
	}
	return w.send(job{name: n, mode: mode, mtime: mtime, data: bp})
}

// Copy queues a file whose content a worker reads from open. With *os.File
// on both ends the kernel copies the data itself (copy_file_range).
func (w *Writer) Copy(name string, mode fs.FileMode, mtime time.Time, open func() (io.ReadCloser, error)) error {
	if err := w.Err(); err != nil {
		return err
	}
	n, err := Clean(name)
	if err != nil {
		return err
	}
	if n == "." {
		return fmt.Errorf("%q: a file cannot replace the destination directory: %w", name, ErrUnsafePath)
	}
	return w.send(job{name: n, mode: mode, mtime: mtime, open: open})
}

// Symlink creates a link at name pointing to target. The target is stored
// as given, even if absolute: a link is only data until something follows
// it, and every later write through this Writer refuses to follow a link
// out of the destination.
func (w *Writer) Symlink(name, target string) error {
	if err := w.Err(); err != nil {
		return err
	}
	n, err := Clean(name)
	if err != nil {
		return err
	}
	if n == "." || target == "" {
		return fmt.Errorf("symlink %q -> %q: %w", name, target, ErrUnsafePath)
	}
	// Links are made right away rather than queued: a later directory entry
	// below the link must see it, so that os.Root can refuse to follow it.
	sub, base, err := w.parent(n, nil)
	if err != nil {
		return w.fail1(err)
	}
	defer closeSub(sub, w.root)
	return w.fail1(replace(sub, base, n, func() error { return sub.Symlink(target, base) }))
}

// send queues j on the worker that owns j's directory. Creating entries
// takes the directory's lock in the kernel, so spreading one directory over
// several workers only makes them wait on each other; giving each directory
// to one worker lets different directories be filled truly in parallel.
func (w *Writer) send(j job) error {
	dir, _ := path.Split(j.name)
	h := fnv.New32a()
	h.Write([]byte(dir))
	q := w.queues[h.Sum32()%uint32(len(w.queues))]
	select {
	case q <- j:
		return nil
	case <-w.ctx.Done():
		w.release(j)
		return w.ctx.Err()
	}
}

// Close waits for queued writes, applies directory modes and mtimes, and
// returns the first error encountered.
func (w *Writer) Close() error {
	if w.closed {
		return w.Err()
	}
	w.closed = true
	for _, q := range w.queues {
		close(q)
	}
	w.wg.Wait()
	defer w.root.Close()
	if err := w.Err(); err != nil {
		return err
	}
	names := make([]string, 0, len(w.dirs))
	for n := range w.dirs {
		names = append(names, n)
	}
	// Deepest first, so making a parent read-only cannot block its children.
	slices.SortFunc(names, func(a, b string) int {
		return cmp.Compare(strings.Count(b, "/"), strings.Count(a, "/"))
	})
	for _, n := range names {
		m := w.dirs[n]
		if n != "." {
			if err := w.root.Chmod(n, m.mode); err != nil {
				return fmt.Errorf("set mode of directory %s: %w", n, err)
			}
		}
		if !m.mtime.IsZero() {
			if err := w.root.Chtimes(n, time.Time{}, m.mtime); err != nil {
				return fmt.Errorf("set mtime of directory %s: %w", n, err)
			}
		}
	}
	return nil
}

// explain turns os.Root's terse refusal into ErrUnsafePath when a
// directory on the way to name is a symlink: os.Root only refuses such links
// when they lead outside the destination.
func (w *Writer) explain(name string, err error) error {
	for i := 0; i < len(name); i++ {
		if name[i] != '/' {
			continue
		}
		prefix := name[:i]
		if info, lerr := w.root.Lstat(prefix); lerr == nil && info.Mode()&fs.ModeSymlink != 0 {
			target, _ := w.root.Readlink(prefix)
			return fmt.Errorf("%q goes through symlink %q -> %q: %w (%w)", name, prefix, target, ErrUnsafePath, err)
		}
	}
	return err
}

func (w *Writer) fail1(err error) error {
	if err != nil {
		w.fail(err)
	}
	return err
}

func (w *Writer) work(jobs <-chan job) {
	defer w.wg.Done()
	cache := dirCache{}
	defer cache.closeAll()
	for j := range jobs {
		if w.Err() != nil {
			w.release(j)
			continue // drain so the producer never blocks
		}
		if err := w.do(&cache, j); err != nil {
			w.fail(err)
		}
		w.release(j)
	}
}

func (w *Writer) release(j job) {
	if j.data != nil {
		w.budget.Release(int64(cap(*j.data)))
		w.bufs.put(j.data)
	}
}

func (w *Writer) do(cache *dirCache, j job) error {
	sub, base, err := w.parent(j.name, cache)
	if err != nil {
		return err
	}
	return w.writeFile(sub, base, j.name, j.mode, j.mtime, func(f *os.File) error {
		if j.data != nil {
			_, err := f.Write(*j.data)
			return err
		}
		src, err := j.open()
		if err != nil {
			return err
		}
		defer src.Close()
		_, err = io.Copy(f, src)
		return err
	})
}

// writeFile creates base in sub exclusively (so an existing symlink is never
// written through), replacing whatever was there, then fills it and applies
// mode and mtime.
func (w *Writer) writeFile(sub *os.Root, base, name string, mode fs.FileMode, mtime time.Time, fill func(*os.File) error) error {
	var f *os.File
	err := replace(sub, base, name, func() error {
		var err error
		f, err = sub.OpenFile(base, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		return err
	})
	if err != nil {
		return err
	}
	if err := fill(f); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := f.Chmod(mode.Perm()); err != nil {
		f.Close()
		return fmt.Errorf("set mode of %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", name, err)
	}
	if !mtime.IsZero() {
		if err := sub.Chtimes(base, time.Time{}, mtime); err != nil {
			return fmt.Errorf("set mtime of %s: %w", name, err)
		}
	}
	return nil
}

// replace runs create; if the name is taken it removes the old entry (a
// file, a link or an empty directory) and tries once more.
func replace(sub *os.Root, base, name string, create func() error) error {
	err := create()
	if errors.Is(err, fs.ErrExist) {
		if rmErr := sub.Remove(base); rmErr != nil {
			return fmt.Errorf("replace %s: %w", name, rmErr)
		}
		err = create()
	}
	if err != nil {
		return fmt.Errorf("create %s: %w", name, err)
	}
	return nil
}

// parent returns an os.Root for the directory holding name, creating the
// directory if the archive did not list it. Opening the parent once and
// reusing it turns each file's path walk into a single openat.
func (w *Writer) parent(name string, cache *dirCache) (*os.Root, string, error) {
	dir, base := path.Split(name)
	dir = strings.TrimSuffix(dir, "/")
	if dir == "" {
		return w.root, base, nil
	}
	if cache != nil {
		if sub := cache.get(dir); sub != nil {
			return sub, base, nil
		}
	}
	sub, err := w.root.OpenRoot(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err = w.root.MkdirAll(dir, 0o755); err == nil {
			sub, err = w.root.OpenRoot(dir)
		}
	}
	if err != nil {
		return nil, "", w.explain(name, fmt.Errorf("open directory for %s: %w", name, err))
	}
	if cache != nil {
		cache.put(dir, sub)
	}
	return sub, base, nil
}

func closeSub(sub, root *os.Root) {
	if sub != root {
		sub.Close()
	}
}

// dirCache keeps a worker's recently used directories open. Archives list a
// directory's files together, so a handful of entries gives a high hit rate
// while bounding open descriptors to a few per worker.
type dirCache struct {
	names [4]string
	roots [4]*os.Root
	next  int
}

func (c *dirCache) get(dir string) *os.Root {
	for i, n := range c.names {
		if n == dir && c.roots[i] != nil {
			return c.roots[i]
		}
	}
	return nil
}

func (c *dirCache) put(dir string, r *os.Root) {
	i := c.next
	if c.roots[i] != nil {
		c.roots[i].Close()
	}
	c.names[i], c.roots[i] = dir, r
	c.next = (i + 1) % len(c.roots)
}

func (c *dirCache) closeAll() {
	for _, r := range c.roots {
		if r != nil {
			r.Close()
		}
	}
}

// bufPool recycles content buffers in a few size classes, so a stream of
// small files does not hold (or count against the budget) megabyte buffers.
type bufPool struct {
	classes [6]sync.Pool // 4 KiB, 16 KiB, ... 1 MiB (smallFile)
}

func bufClass(size int) (int, int) {
	c, capacity := 0, 4<<10
	for capacity < size && c < 5 {
		c++
		capacity *= 4
	}
	return c, capacity
}

func (p *bufPool) get(size int) *[]byte {
	c, capacity := bufClass(size)
	if b, ok := p.classes[c].Get().(*[]byte); ok {
		*b = (*b)[:size]
		return b
	}
	b := make([]byte, size, capacity)
	return &b
}

func (p *bufPool) put(b *[]byte) {
	c, capacity := bufClass(cap(*b))
	if capacity != cap(*b) {
		return
	}
	p.classes[c].Put(b)
}
