package secret

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// LoadOrCreateKey returns a Box for the key stored at path, creating the file
// with fresh random bytes on the server's first start.
//
// The key is written to a temporary file, synced, and then hard-linked into
// place, so a crash never leaves a half-written key and two servers starting
// at once agree on a single key instead of one silently overwriting the
// other's. An existing file of the wrong size is refused rather than
// replaced: replacing it would make every stored secret unreadable.
func LoadOrCreateKey(path string) (*Box, error) {
	key, err := readKey(path)
	if errors.Is(err, fs.ErrNotExist) {
		key, err = createKey(path)
	}
	if err != nil {
		return nil, err
	}
	box, err := NewBox(key)
	if err != nil {
		return nil, fmt.Errorf("load key %s: %w", path, err)
	}
	return box, nil
}

// readKey returns the key at path. A missing file yields an error wrapping
// fs.ErrNotExist, which is the caller's cue to create one.
func readKey(path string) ([]byte, error) {
	key, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read key %s: %w", path, err)
	}
	if len(key) != KeySize {
		return nil, fmt.Errorf("read key %s: file is %d bytes, want %d; refusing to replace it because secrets sealed with the old key would be lost (restore it from backup, or delete it only if no secrets exist)", path, len(key), KeySize)
	}
	return key, nil
}

func createKey(path string) ([]byte, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create key %s: %w", path, err)
	}
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("create key %s: %w", path, err)
	}
	// CreateTemp makes the file 0600, so the key is never readable by others
	// even for a moment.
	tmp, err := os.CreateTemp(dir, ".key-*.tmp")
	if err != nil {
		return nil, fmt.Errorf("create key %s: %w", path, err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName)
	_, err = tmp.Write(key)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("create key %s: write temp file: %w", path, err)
	}
	// Link fails if path appeared meanwhile, unlike Rename which would
	// replace a key another process just created and may already be using.
	if err := os.Link(tmpName, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return readKey(path)
		}
		return nil, fmt.Errorf("create key %s: %w", path, err)
	}
	if err := syncDir(dir); err != nil {
		return nil, fmt.Errorf("create key %s: %w", path, err)
	}
	return key, nil
}

// syncDir makes a new directory entry durable, so the key survives a power
// cut right after the first start.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
