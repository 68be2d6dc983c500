package blob

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxKeyLen matches S3's limit, so a key valid here is valid there too.
const MaxKeyLen = 1024

// maxSegmentLen is NAME_MAX on common Linux filesystems; a longer segment
// would fail late with a confusing ENAMETOOLONG.
const maxSegmentLen = 255

// ValidateKey reports whether key is a safe blob key: a relative slash path
// of non-empty segments, none "." or "..", without backslashes, NUL or other
// control characters, in valid UTF-8. The rules are strict so that no key
// can step outside a store's directory or mean different things to
// different backends. The error wraps ErrInvalidKey and says what is wrong.
func ValidateKey(key string) error {
	if key == "" {
		return fmt.Errorf("%w: empty", ErrInvalidKey)
	}
	if err := checkChars(key); err != nil {
		return err
	}
	if key[0] == '/' {
		return fmt.Errorf("%w %q: must be relative, not start with /", ErrInvalidKey, key)
	}
	for seg := range strings.SplitSeq(key, "/") {
		if err := checkSegment(key, seg); err != nil {
			return err
		}
	}
	return nil
}

// validatePrefix checks a List prefix: empty, or a key with its last segment
// possibly partial or empty ("logs/" and "logs/12" are both fine).
func validatePrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	if err := checkChars(prefix); err != nil {
		return fmt.Errorf("prefix: %w", err)
	}
	if prefix[0] == '/' {
		return fmt.Errorf("prefix: %w %q: must be relative, not start with /", ErrInvalidKey, prefix)
	}
	dir, _ := splitPrefix(prefix)
	if dir == "" {
		return nil
	}
	for seg := range strings.SplitSeq(dir, "/") {
		if err := checkSegment(prefix, seg); err != nil {
			return fmt.Errorf("prefix: %w", err)
		}
	}
	return nil
}

// splitPrefix splits a prefix into its whole directory segments and the
// partial last segment: "logs/12" gives ("logs", "12"), "logs/" gives
// ("logs", ""), "lo" gives ("", "lo").
func splitPrefix(prefix string) (dir, partial string) {
	i := strings.LastIndexByte(prefix, '/')
	if i < 0 {
		return "", prefix
	}
	return prefix[:i], prefix[i+1:]
}

func checkChars(key string) error {
	if len(key) > MaxKeyLen {
		return fmt.Errorf("%w: %d bytes long, limit is %d", ErrInvalidKey, len(key), MaxKeyLen)
	}
	if !utf8.ValidString(key) {
		return fmt.Errorf("%w %q: not valid UTF-8", ErrInvalidKey, key)
	}
	for _, r := range key {
		switch {
		case r == 0:
			return fmt.Errorf("%w %q: contains NUL", ErrInvalidKey, key)
		case r == '\\':
			return fmt.Errorf("%w %q: contains a backslash; use / between segments", ErrInvalidKey, key)
		case r < 0x20 || r == 0x7f:
			return fmt.Errorf("%w %q: contains control character %U", ErrInvalidKey, key, r)
		}
	}
	return nil
}

func checkSegment(key, seg string) error {
	switch {
	case seg == "":
		return fmt.Errorf("%w %q: empty path segment (leading, trailing or double /)", ErrInvalidKey, key)
	case seg == "." || seg == "..":
		return fmt.Errorf("%w %q: segment %q is not allowed", ErrInvalidKey, key, seg)
	case len(seg) > maxSegmentLen:
		return fmt.Errorf("%w %q: segment is %d bytes long, limit is %d", ErrInvalidKey, key, len(seg), maxSegmentLen)
	}
	return nil
}
