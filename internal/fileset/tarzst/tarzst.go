// Package tarzst reads and writes the zstd-compressed tar archives gantry
// keeps caches and artifacts in. Writing records regular files, symlinks and
// directories with their modes and mtimes; extracting goes through
// package extract, so it is parallel and never writes outside the
// destination.
package tarzst

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"runtime"
	"strings"
	"time"

	"github.com/gantry-ci/gantry/internal/fileset/extract"
	"github.com/klauspost/compress/zstd"
)

// ErrCorrupt reports an archive that cannot be read to its end: truncated,
// damaged, or not a gantry archive at all.
var ErrCorrupt = errors.New("archive is corrupted")

// zstdMagic starts every zstd frame (RFC 8878, section 3.1.1).
var zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}

// Write writes files from fsys to w as a zstd-compressed tar stream.
// files are slash paths as returned by fileset.Resolve (regular files,
// symlinks, empty directories); their parent directories are recorded too,
// so restored directories keep their modes and mtimes.
func Write(ctx context.Context, w io.Writer, fsys fs.FS, files []string) error {
	zw, err := zstd.NewWriter(w,
		zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)))
	if err != nil {
		return fmt.Errorf("start compressor: %w", err)
	}
	tw := tar.NewWriter(zw)
	aw := archiveWriter{fsys: fsys, tw: tw, dirs: map[string]bool{".": true}}
	for _, name := range files {
		if err := ctx.Err(); err != nil {
			zw.Close()
			return err
		}
		if err := aw.add(name); err != nil {
			zw.Close()
			return err
		}
	}
	if err := tw.Close(); err != nil {
		zw.Close()
		return fmt.Errorf("finish tar stream: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("finish compression: %w", err)
	}
	return nil
}

type archiveWriter struct {
	fsys fs.FS
	tw   *tar.Writer
	dirs map[string]bool
	buf  []byte
}

func (a *archiveWriter) add(name string) error {
	clean, err := extract.Clean(name)
	if err != nil || clean == "." {
		return fmt.Errorf("archive %q: not a relative path inside the project", name)
	}
	if err := a.addDir(path.Dir(clean)); err != nil {
		return err
	}
	info, err := fs.Lstat(a.fsys, clean)
	if err != nil {
		return fmt.Errorf("archive %s: %w", clean, err)
	}
	if info.IsDir() {
		return a.addDir(clean)
	}
	return a.addEntry(clean, info)
}

// addDir records dir and its parents once each, parents first.
func (a *archiveWriter) addDir(dir string) error {
	if a.dirs[dir] {
		return nil
	}
	if err := a.addDir(path.Dir(dir)); err != nil {
		return err
	}
	info, err := fs.Lstat(a.fsys, dir)
	if err != nil {
		return fmt.Errorf("archive directory %s: %w", dir, err)
	}
	a.dirs[dir] = true
	return a.addEntry(dir, info)
}

func (a *archiveWriter) addEntry(name string, info fs.FileInfo) error {
	hdr := &tar.Header{
		Name:    name,
		Mode:    int64(info.Mode().Perm()),
		ModTime: info.ModTime(),
		Format:  tar.FormatPAX,
	}
	switch {
	case info.Mode().IsRegular():
		hdr.Typeflag = tar.TypeReg
		hdr.Size = info.Size()
	case info.IsDir():
		hdr.Typeflag = tar.TypeDir
		hdr.Name += "/"
	case info.Mode()&fs.ModeSymlink != 0:
		target, err := fs.ReadLink(a.fsys, name)
		if err != nil {
			return fmt.Errorf("archive symlink %s: %w", name, err)
		}
		hdr.Typeflag = tar.TypeSymlink
		hdr.Linkname = target
	default:
		return nil // sockets, devices, FIFOs have no place in a cache
	}
	// PAX records sub-second mtimes only when asked to; whole seconds keep
	// headers small and match what `tar` itself stores.
	hdr.ModTime = hdr.ModTime.Truncate(time.Second)
	if err := a.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("archive %s: %w", name, err)
	}
	if hdr.Typeflag != tar.TypeReg {
		return nil
	}
	f, err := a.fsys.Open(name)
	if err != nil {
		return fmt.Errorf("archive %s: %w", name, err)
	}
	defer f.Close()
	if a.buf == nil {
		a.buf = make([]byte, 256<<10)
	}
	// Copy exactly the size announced in the header: a file still growing
	// (a log being written) is archived as it was when inspected.
	n, err := io.CopyBuffer(a.tw, io.LimitReader(f, hdr.Size), a.buf)
	if err != nil {
		return fmt.Errorf("archive %s: %w", name, err)
	}
	if n != hdr.Size {
		return fmt.Errorf("archive %s: file shrank while being read (%d of %d bytes)", name, n, hdr.Size)
	}
	return nil
}

// Extract unpacks a stream written by Write into destDir,
// replacing existing files. Entries that would land outside destDir
// ("../x", "/abs", or a path through a symlink) stop the extraction with an
// error wrapping extract.ErrUnsafePath; a damaged stream gives ErrCorrupt.
func Extract(ctx context.Context, r io.Reader, destDir string) error {
	zr, err := decompress(r)
	if err != nil {
		return err
	}
	defer zr.Close()
	return extractTar(ctx, zr, destDir)
}

// decompress checks the zstd magic number (an empty or foreign file would
// otherwise read as an empty archive) and starts a decoder.
func decompress(r io.Reader) (*zstd.Decoder, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	if magic, err := br.Peek(4); err != nil || !bytes.Equal(magic, zstdMagic) {
		return nil, fmt.Errorf("%w: not a zstd stream", ErrCorrupt)
	}
	zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(2))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return zr, nil
}

// Reader walks the entries of an archive without extracting it, for
// listings and for serving one file.
type Reader struct {
	zr *zstd.Decoder
	tr *tar.Reader
}

// NewReader starts reading the archive in r.
func NewReader(r io.Reader) (*Reader, error) {
	zr, err := decompress(r)
	if err != nil {
		return nil, err
	}
	return &Reader{zr: zr, tr: tar.NewReader(zr)}, nil
}

// Next advances to the next entry; it returns io.EOF after the last one.
// Damage in the stream is reported as ErrCorrupt.
func (r *Reader) Next() (*tar.Header, error) {
	hdr, err := r.tr.Next()
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return hdr, err
}

// Read reads the content of the current entry.
func (r *Reader) Read(p []byte) (int, error) { return corruptOnError{r.tr}.Read(p) }

// Close releases the decoder; it does not close the underlying reader.
func (r *Reader) Close() error {
	r.zr.Close()
	return nil
}

// extractTar unpacks an uncompressed tar stream; it is the part of
// Extract that interprets untrusted structure.
func extractTar(ctx context.Context, r io.Reader, destDir string) error {
	w, err := extract.New(ctx, destDir, extract.Options{})
	if err != nil {
		return err
	}
	readErr := readEntries(tar.NewReader(r), w)
	closeErr := w.Close()
	if readErr != nil {
		return readErr
	}
	return closeErr
}

func readEntries(tr *tar.Reader, w *extract.Writer) error {
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			if werr := w.Err(); werr != nil {
				return werr
			}
			return fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		if isSparse(hdr) {
			// A sparse entry can declare terabytes of holes in a few bytes
			// of archive; gantry never writes them, so refuse rather than
			// fill the disk with zeros.
			return fmt.Errorf("%w: entry %q is a sparse file", ErrCorrupt, hdr.Name)
		}
		mode := fs.FileMode(hdr.Mode).Perm()
		switch hdr.Typeflag {
		case tar.TypeDir:
			err = w.Dir(hdr.Name, mode, hdr.ModTime)
		case tar.TypeReg:
			err = w.File(hdr.Name, mode, hdr.ModTime, hdr.Size, corruptOnError{tr})
		case tar.TypeSymlink:
			err = w.Symlink(hdr.Name, hdr.Linkname)
		default:
			err = fmt.Errorf("%w: entry %q has unsupported type %q", ErrCorrupt, hdr.Name, hdr.Typeflag)
		}
		if err != nil {
			return err
		}
	}
}

// corruptOnError marks read failures inside an entry's content as ErrCorrupt,
// so callers can tell a damaged archive from a failing destination disk.
type corruptOnError struct{ r io.Reader }

func (c corruptOnError) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return n, err
}

func isSparse(hdr *tar.Header) bool {
	if hdr.Typeflag == tar.TypeGNUSparse {
		return true
	}
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}
