package secret_test

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gantry-ci/gantry/internal/secret"
)

func TestLoadOrCreateKeyCreatesPrivateFileAndReusesIt(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state", "secret.key")

	box1, err := secret.LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode = %v, want 0600", fi.Mode().Perm())
	}
	if fi.Size() != secret.KeySize {
		t.Errorf("key file size = %d, want %d", fi.Size(), secret.KeySize)
	}
	key1, _ := os.ReadFile(path)

	sealed, err := box1.Seal([]byte("hunter2"), "a")
	if err != nil {
		t.Fatal(err)
	}
	// A restart must read the same key, or every stored secret is lost.
	box2, err := secret.LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := box2.Open(sealed, "a"); err != nil || string(got) != "hunter2" {
		t.Fatalf("second load cannot open first box's secret: %q, %v", got, err)
	}
	key2, _ := os.ReadFile(path)
	if string(key1) != string(key2) {
		t.Error("key file changed on second load")
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the key (temp files left behind?)", len(entries))
	}
}

func TestLoadOrCreateKeyRefusesCorruptFile(t *testing.T) {
	for _, content := range []string{"", "short", strings.Repeat("x", 33)} {
		path := filepath.Join(t.TempDir(), "secret.key")
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := secret.LoadOrCreateKey(path)
		if err == nil {
			t.Fatalf("accepted a %d-byte key file", len(content))
		}
		if !strings.Contains(err.Error(), path) {
			t.Errorf("error %q does not name the key file", err)
		}
		got, _ := os.ReadFile(path)
		if string(got) != content {
			t.Errorf("corrupt key file was replaced")
		}
	}
}

func TestLoadOrCreateKeyConcurrentStartsAgree(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret.key")
	const n = 8
	boxes := make([]*secret.Box, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { boxes[i], errs[i] = secret.LoadOrCreateKey(path) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	sealed, _ := boxes[0].Seal([]byte("s"), "a")
	for i, b := range boxes {
		if _, err := b.Open(sealed, "a"); err != nil {
			t.Errorf("box %d uses a different key: %v", i, err)
		}
	}
}

func TestLoadOrCreateKeyUnreadablePath(t *testing.T) {
	dir := t.TempDir()
	// A directory where the key should be is an error, not a new key.
	path := filepath.Join(dir, "secret.key")
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := secret.LoadOrCreateKey(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("LoadOrCreateKey on a directory: %v", err)
	}
}
