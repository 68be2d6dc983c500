package cache_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/gantry-ci/gantry/internal/cache"
)

const versionFiles = 40

// versionTree is a cache whose every file names the version that wrote it,
// so a torn or mixed archive is visible after restore.
func versionTree(v int) map[string]entry {
	tree := map[string]entry{}
	for i := range versionFiles {
		tree[fmt.Sprintf("dir%d/f%03d", i%4, i)] = entry{content: fmt.Sprintf("v%d|%s", v, strings.Repeat("x", 2000+v*97))}
	}
	return tree
}

// checkWholeVersion fails unless dest holds exactly one complete version.
func checkWholeVersion(t *testing.T, dest string) {
	t.Helper()
	version := ""
	for i := range versionFiles {
		b, err := os.ReadFile(filepath.Join(dest, fmt.Sprintf("dir%d/f%03d", i%4, i)))
		if err != nil {
			t.Errorf("restored cache is missing a file: %v", err)
			return
		}
		v, _, _ := strings.Cut(string(b), "|")
		if version == "" {
			version = v
		}
		if v != version {
			t.Errorf("restored cache mixes %s and %s", version, v)
			return
		}
	}
}

func TestConcurrentSavesAndRestoresOfOneKey(t *testing.T) {
	store, _ := cache.NewStore(t.TempDir())
	saveTree(t, store, "shared", versionTree(0))

	var wg sync.WaitGroup
	for v := 1; v <= 6; v++ {
		wg.Go(func() {
			for range 3 {
				saveTree(t, store, "shared", versionTree(v))
			}
		})
	}
	for range 4 {
		wg.Go(func() {
			for range 6 {
				dest := t.TempDir()
				hit, err := store.Restore(t.Context(), []string{"shared"}, dest)
				if err != nil || hit != "shared" {
					t.Errorf("restore during saves: hit %q, err %v", hit, err)
					return
				}
				checkWholeVersion(t, dest)
			}
		})
	}
	wg.Wait()
	assertNoTempFiles(t, store, "shared")
}

// TestConcurrentSavesFromProcesses runs saves in separate processes (this
// test binary re-executed) while this process restores, as happens when two
// `gantry run` invocations share a cache directory.
func TestConcurrentSavesFromProcesses(t *testing.T) {
	store, _ := cache.NewStore(t.TempDir())
	saveTree(t, store, "shared", versionTree(0))

	var procs []*exec.Cmd
	for v := 1; v <= 3; v++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperSaveProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), "GANTRY_CACHE_HELPER_STORE="+store.Dir(), "GANTRY_CACHE_HELPER_VERSION="+strconv.Itoa(v))
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		procs = append(procs, cmd)
	}
	done := make(chan error, len(procs))
	for _, p := range procs {
		go func() { done <- p.Wait() }()
	}
	finished := 0
	for finished < len(procs) {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("saving process failed: %v", err)
			}
			finished++
		default:
			dest := t.TempDir()
			if _, err := store.Restore(t.Context(), []string{"shared"}, dest); err != nil {
				t.Fatalf("restore while other processes save: %v", err)
			}
			checkWholeVersion(t, dest)
		}
	}
	assertNoTempFiles(t, store, "shared")
}

// TestHelperSaveProcess is the body of the processes started above; run
// directly it has nothing to do.
func TestHelperSaveProcess(t *testing.T) {
	dir := os.Getenv("GANTRY_CACHE_HELPER_STORE")
	if dir == "" {
		t.Skip("helper process for TestConcurrentSavesFromProcesses")
	}
	v, _ := strconv.Atoi(os.Getenv("GANTRY_CACHE_HELPER_VERSION"))
	store, err := cache.NewStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		saveTree(t, store, "shared", versionTree(v))
	}
}

func assertNoTempFiles(t *testing.T, store *cache.Store, key string) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Dir(store.Path(key)))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("key directory should hold only the archive, has %q", names)
	}
}
