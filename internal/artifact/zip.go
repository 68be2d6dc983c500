package artifact

import (
	"archive/tar"
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/gantry-ci/gantry/internal/fileset/tarzst"
)

// WriteZip streams the artifacts in dir to w as a zip archive, the format
// GitLab serves for "Download artifacts". It is converted on demand rather
// than stored, since most local artifacts are only consumed by later jobs.
// Only files, symlinks and empty directories are included, as in List.
func WriteZip(ctx context.Context, dir ArtifactDir, w io.Writer) error {
	index, err := List(dir)
	if err != nil {
		return fmt.Errorf("zip artifacts: %w", err)
	}
	listed := make(map[string]bool, len(index))
	for _, e := range index {
		listed[e.Path] = true
	}
	f, err := os.Open(filepath.Join(string(dir), archiveFile))
	if err != nil {
		return fmt.Errorf("zip artifacts: %w", err)
	}
	defer f.Close()
	r, err := tarzst.NewReader(f)
	if err != nil {
		return fmt.Errorf("zip artifacts in %s: %w", dir, err)
	}
	defer r.Close()
	zw := zip.NewWriter(w)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("zip artifacts in %s: %w", dir, err)
		}
		if !listed[strings.TrimSuffix(hdr.Name, "/")] {
			continue // a parent directory recorded only for its mode
		}
		if err := addZipEntry(zw, hdr, r); err != nil {
			return fmt.Errorf("zip artifacts in %s: %s: %w", dir, hdr.Name, err)
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("zip artifacts in %s: %w", dir, err)
	}
	return nil
}

func addZipEntry(zw *zip.Writer, hdr *tar.Header, content io.Reader) error {
	zh, err := zip.FileInfoHeader(hdr.FileInfo())
	if err != nil {
		return err
	}
	zh.Name = hdr.Name
	switch hdr.Typeflag {
	case tar.TypeDir:
		_, err = zw.CreateHeader(zh)
		return err
	case tar.TypeSymlink:
		zh.Method = zip.Store
		out, err := zw.CreateHeader(zh)
		if err != nil {
			return err
		}
		_, err = io.WriteString(out, hdr.Linkname)
		return err
	default:
		zh.Method = zip.Deflate
		out, err := zw.CreateHeader(zh)
		if err != nil {
			return err
		}
		_, err = io.Copy(out, content)
		return err
	}
}
