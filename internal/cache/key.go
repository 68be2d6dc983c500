package cache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
)

// DefaultKey is the key GitLab uses when a job names none, and when none of
// the files listed in `cache:key:files` exists.
const DefaultKey = "default"

// MaxKeyLen bounds a sanitised key so it fits in one file name.
const MaxKeyLen = 255

// maxKeyFiles is GitLab's limit on `cache:key:files` entries.
const maxKeyFiles = 2

// KeySpec is the plain-value form of `cache:key`.
type KeySpec struct {
	// Key is the string form of `cache:key`, variables already expanded.
	Key string
	// Files is `cache:key:files`: up to two paths or doublestar patterns
	// relative to the project directory.
	Files []string
	// Prefix is `cache:key:prefix`, only valid together with Files.
	Prefix string
}

// Key computes the sanitised cache key for spec.
//
// With Files, GitLab derives the key from the SHA of the last commit that
// touched each file. Gantry hashes the files' contents instead (SHA-256 over
// each matched path and its bytes): a local run usually has uncommitted
// edits, and a lock file changed but not yet committed must still give a new
// cache. When no listed file exists the key is "default", and Prefix, if
// set, is joined in front with "-", as GitLab does.
func Key(ctx context.Context, spec KeySpec, projectDir string) (string, error) {
	if len(spec.Files) == 0 {
		if spec.Prefix != "" {
			return "", errors.New("cache key: prefix is only allowed together with key:files")
		}
		if spec.Key == "" {
			return DefaultKey, nil
		}
		return SanitizeKey(spec.Key), nil
	}
	if spec.Key != "" {
		return "", errors.New("cache key: key and key:files cannot both be set")
	}
	if len(spec.Files) > maxKeyFiles {
		return "", fmt.Errorf("cache key: key:files lists %d entries, GitLab allows at most %d", len(spec.Files), maxKeyFiles)
	}
	digest, err := hashFiles(ctx, os.DirFS(projectDir), spec.Files)
	if err != nil {
		return "", fmt.Errorf("cache key: %w", err)
	}
	if digest == "" {
		digest = DefaultKey
	}
	if spec.Prefix != "" {
		digest = spec.Prefix + "-" + digest
	}
	return SanitizeKey(digest), nil
}

// hashFiles returns the hex digest of every file matched by patterns, or ""
// when nothing matched. A matched directory contributes all files below it.
func hashFiles(ctx context.Context, fsys fs.FS, patterns []string) (string, error) {
	var names []string
	for _, raw := range patterns {
		pat := path.Clean(strings.TrimSpace(raw))
		if raw == "" || path.IsAbs(pat) || pat == ".." || strings.HasPrefix(pat, "../") {
			return "", fmt.Errorf("key:files entry %q must be a path inside the project", raw)
		}
		matches, err := doublestar.Glob(fsys, pat, doublestar.WithNoFollow())
		if err != nil {
			return "", fmt.Errorf("key:files entry %q: %w", raw, err)
		}
		for _, m := range matches {
			err := fs.WalkDir(fsys, m, func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				if d.Type().IsRegular() {
					names = append(names, p)
				}
				return nil
			})
			if err != nil {
				return "", fmt.Errorf("key:files entry %q: %w", raw, err)
			}
		}
	}
	if len(names) == 0 {
		return "", nil
	}
	slices.Sort(names)
	names = slices.Compact(names)
	h := sha256.New()
	for _, n := range names {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s\x00", n)
		f, err := fsys.Open(n)
		if err != nil {
			return "", fmt.Errorf("hash %s: %w", n, err)
		}
		size, err := io.Copy(h, f)
		f.Close()
		if err != nil {
			return "", fmt.Errorf("hash %s: %w", n, err)
		}
		fmt.Fprintf(h, "\x00%d\x00", size)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// SanitizeKey turns any key into one safe file name: bytes other than
// letters, digits, '.', '_' and '-' are percent-escaped (so "/" can never
// split a path), "." and ".." are escaped, an empty key becomes "default",
// and keys longer than MaxKeyLen are cut and suffixed with a hash of the
// original so distinct long keys stay distinct. Existing %XX escapes are kept,
// which makes SanitizeKey idempotent: the Store can sanitise keys that Key
// already sanitised without changing them.
func SanitizeKey(key string) string {
	if key == "" {
		return DefaultKey
	}
	var b strings.Builder
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == '-':
			b.WriteByte(c)
		case c == '%' && i+2 < len(key) && isHex(key[i+1]) && isHex(key[i+2]):
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	s := b.String()
	switch s {
	case ".":
		return "%2E"
	case "..":
		return "%2E%2E"
	}
	if len(s) <= MaxKeyLen {
		return s
	}
	sum := sha256.Sum256([]byte(key))
	suffix := "-" + hex.EncodeToString(sum[:8])
	cut := MaxKeyLen - len(suffix)
	// Never cut through a %XX escape: a dangling '%' would be re-escaped on
	// a second pass and break idempotence.
	if i := strings.LastIndexByte(s[:cut], '%'); i >= 0 && i > cut-3 {
		cut = i
	}
	return s[:cut] + suffix
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
