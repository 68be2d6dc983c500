package workspace

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSnapshotLayouts covers repository layouts beyond the plain one. The
// snapshot's content does not depend on the mode, so copies keep it quick.
func TestSnapshotLayouts(t *testing.T) {
	cases := []struct {
		name       string
		setup      func(t *testing.T) (repo, runDir string)
		fromCommit bool
		wantErr    bool
		files      map[string]string
		absent     []string
		tracked    []string
		script     string // runs in the job, must succeed
	}{
		{
			name:    "checked-out submodule is included",
			setup:   withSubmodule,
			files:   map[string]string{"lib/lib.txt": "library\n", "lib/local.txt": "sub untracked\n", "main.txt": "main\n"},
			tracked: []string{"lib/lib.txt", "lib"},
			script:  "git status --porcelain >/dev/null",
		},
		{
			name:       "submodule from commit is an empty folder",
			setup:      withSubmodule,
			fromCommit: true,
			files:      map[string]string{"main.txt": "main\n"},
			absent:     []string{"lib/lib.txt"},
			script:     "test -d lib && git status --porcelain >/dev/null",
		},
		{
			name: "run folder inside the repository is left out",
			setup: func(t *testing.T) (string, string) {
				repo := newTestRepo(t)
				return repo, filepath.Join(repo, ".gantry", "run")
			},
			files:  map[string]string{"notes.txt": "untracked\n"},
			absent: []string{".gantry"},
		},
		{
			name: "repository without commits",
			setup: func(t *testing.T) (string, string) {
				repo := t.TempDir()
				runGitT(t, repo, "init", "-q", "-b", "trunk")
				writeFile(t, filepath.Join(repo, "a.txt"), "a\n", 0o644)
				return repo, t.TempDir()
			},
			files:  map[string]string{"a.txt": "a\n"},
			script: `test "$(git status --porcelain)" = "?? a.txt" && test "$(git symbolic-ref HEAD)" = refs/heads/trunk`,
		},
		{
			name: "repository without commits from commit",
			setup: func(t *testing.T) (string, string) {
				repo := t.TempDir()
				runGitT(t, repo, "init", "-q")
				return repo, t.TempDir()
			},
			fromCommit: true,
			wantErr:    true,
		},
		{
			name: "linked worktree",
			setup: func(t *testing.T) (string, string) {
				repo := newTestRepo(t)
				wt := filepath.Join(t.TempDir(), "wt")
				runGitT(t, repo, "worktree", "add", "-q", "-b", "feature", wt)
				writeFile(t, filepath.Join(wt, "wt-only.txt"), "worktree\n", 0o644)
				return wt, t.TempDir()
			},
			files:  map[string]string{"README.md": "original\n", "wt-only.txt": "worktree\n", "deleted.txt": "gone soon\n"},
			absent: []string{"notes.txt"},
			script: `test "$(git status --porcelain)" = "?? wt-only.txt" && git rev-parse --verify -q feature >/dev/null`,
		},
		{
			name: "not a repository",
			setup: func(t *testing.T) (string, string) {
				return t.TempDir(), t.TempDir()
			},
			wantErr: true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(ModeEnv, string(ModeCopy))
			repo, runDir := tc.setup(t)
			s, err := TakeSnapshot(context.Background(), repo, runDir, tc.fromCommit)
			if tc.wantErr {
				if err == nil {
					t.Fatal("TakeSnapshot succeeded")
				}
				return
			}
			if err != nil {
				t.Fatalf("TakeSnapshot: %v", err)
			}
			w := newWorkspace(t, s, filepath.Join(t.TempDir(), "jobs", "job"))
			for p, want := range tc.files {
				if got, err := fs.ReadFile(w.FS(), p); err != nil || string(got) != want {
					t.Errorf("%s = %q, %v; want %q", p, got, err, want)
				}
			}
			for _, p := range tc.absent {
				if _, err := fs.Stat(w.FS(), p); err == nil {
					t.Errorf("%s should be absent", p)
				}
			}
			for _, p := range tc.tracked {
				if !s.Tracked(p) {
					t.Errorf("Tracked(%q) = false", p)
				}
			}
			if tc.script != "" {
				mustRunIn(t, w, tc.script)
			}
		})
	}
}

// withSubmodule makes a repository with a checked-out submodule at lib.
func withSubmodule(t *testing.T) (string, string) {
	sub := t.TempDir()
	runGitT(t, sub, "init", "-q", "-b", "main")
	writeFile(t, filepath.Join(sub, "lib.txt"), "library\n", 0o644)
	runGitT(t, sub, "add", "-A")
	runGitT(t, sub, "commit", "-q", "-m", "lib")
	repo := t.TempDir()
	runGitT(t, repo, "init", "-q", "-b", "main")
	writeFile(t, filepath.Join(repo, "main.txt"), "main\n", 0o644)
	runGitT(t, repo, "-c", "protocol.file.allow=always", "submodule", "add", "-q", sub, "lib")
	runGitT(t, repo, "add", "-A")
	runGitT(t, repo, "commit", "-q", "-m", "with submodule")
	writeFile(t, filepath.Join(repo, "lib", "local.txt"), "sub untracked\n", 0o644)
	return repo, t.TempDir()
}

func TestSnapshotLinksInsteadOfCopying(t *testing.T) {
	t.Setenv(ModeEnv, string(ModeCopy))
	repo := newTestRepo(t)
	s, err := TakeSnapshot(context.Background(), repo, t.TempDir(), false)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"README.md", "notes.txt", "src/main.go"} {
		a, errA := os.Stat(filepath.Join(repo, p))
		b, errB := os.Stat(filepath.Join(s.Dir(), p))
		if errA != nil || errB != nil || !os.SameFile(a, b) {
			t.Errorf("%s was copied into the snapshot, not hard-linked (%v, %v)", p, errA, errB)
		}
	}
	if err := s.Remove(); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(repo, "README.md")); got != "edited\n" {
		t.Errorf("removing the snapshot changed the user's file: %q", got)
	}
	if _, err := os.Stat(s.Dir()); !os.IsNotExist(err) {
		t.Errorf("snapshot folder survives Remove: %v", err)
	}
	if strings.TrimSpace(runGitT(t, repo, "status", "--porcelain", "README.md")) != "M README.md" {
		t.Error("user's repository status changed")
	}
}

func TestSnapshotAcrossFilesystems(t *testing.T) {
	repo := newTestRepo(t)
	other, err := os.MkdirTemp("/dev/shm", "gantry-test-")
	if err != nil {
		t.Skipf("no second filesystem to test on: %v", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(other) })
	if sameDevice(t, repo, other) {
		t.Skip("/dev/shm is on the repository's filesystem")
	}
	forEachMode(t, func(t *testing.T, want Mode) {
		runDir, err := os.MkdirTemp(other, "run-")
		if err != nil {
			t.Fatal(err)
		}
		s, err := TakeSnapshot(context.Background(), repo, runDir, false)
		if err != nil {
			t.Fatalf("TakeSnapshot: %v", err)
		}
		w := newWorkspace(t, s, filepath.Join(runDir, "jobs", "job"))
		if got := mustRunIn(t, w, "cat README.md notes.txt && echo changed > README.md"); got != "edited\nuntracked\n" {
			t.Errorf("job read %q", got)
		}
		if got := readFile(t, filepath.Join(repo, "README.md")); got != "edited\n" {
			t.Errorf("user's file changed to %q", got)
		}
	})
}

func sameDevice(t *testing.T, a, b string) bool {
	t.Helper()
	ia, err := os.Stat(a)
	if err != nil {
		t.Fatal(err)
	}
	ib, err := os.Stat(b)
	if err != nil {
		t.Fatal(err)
	}
	return deviceOf(ia) == deviceOf(ib)
}
