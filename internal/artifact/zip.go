package artifact

import (
	"archive/zip"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// WriteZip streams the artifacts in dir to w as a zip archive, the format
// GitLab serves for "Download artifacts". It is made on demand rather than
// stored, since most local artifacts are only ever consumed by later jobs.
func WriteZip(ctx context.Context, dir ArtifactDir, w io.Writer) error {
	src := filepath.Join(string(dir), filesDir)
	zw := zip.NewWriter(w)
	err := fs.WalkDir(os.DirFS(src), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if p == "." {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		hdr, err := zip.FileInfoHeader(info)
		if err != nil {
			return err
		}
		hdr.Name = p
		full := filepath.Join(src, filepath.FromSlash(p))
		switch {
		case d.IsDir():
			hdr.Name += "/"
			_, err = zw.CreateHeader(hdr)
			return err
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(full)
			if err != nil {
				return err
			}
			hdr.Method = zip.Store
			out, err := zw.CreateHeader(hdr)
			if err != nil {
				return err
			}
			_, err = io.WriteString(out, target)
			return err
		case d.Type().IsRegular():
			hdr.Method = zip.Deflate
			out, err := zw.CreateHeader(hdr)
			if err != nil {
				return err
			}
			f, err := os.Open(full)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = io.Copy(out, f)
			return err
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("zip artifacts in %s: %w", dir, err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("zip artifacts in %s: %w", dir, err)
	}
	return nil
}
