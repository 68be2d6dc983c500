// Package filesettest holds test helpers shared by the packages that move
// trees of files around (cache, artifact).
package filesettest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Describe describes every entry below root in a form tests can compare:
// type, permissions, content digest or link target, and file mtimes.
func Describe(tb testing.TB, root string) map[string]string {
	tb.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		info, err := os.Lstat(p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			out[rel] = "link -> " + target
		case info.IsDir():
			out[rel] = fmt.Sprintf("dir %v", info.Mode().Perm())
		default:
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(data)
			out[rel] = fmt.Sprintf("file %v %s %s", info.Mode().Perm(), hex.EncodeToString(sum[:6]), info.ModTime().UTC().Format(time.RFC3339))
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}
