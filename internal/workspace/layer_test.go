package workspace

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAddLayer checks restored trees laid over a workspace: the job sees
// their files at once, later layers win, the job's writes never reach a
// layer, and FS() sees the same as the job.
func TestAddLayer(t *testing.T) {
	repo := newTestRepo(t)
	forEachMode(t, func(t *testing.T, want Mode) {
		s, runDir := snapshotFor(t, repo, false, want)
		w := newWorkspace(t, s, filepath.Join(runDir, "jobs", "job1"))
		older, newer := t.TempDir(), t.TempDir()
		writeFile(t, filepath.Join(older, "target", "a.txt"), "older a\n", 0o644)
		writeFile(t, filepath.Join(older, "target", "b.txt"), "older b\n", 0o644)
		writeFile(t, filepath.Join(newer, "target", "b.txt"), "newer b\n", 0o644)
		writeFile(t, filepath.Join(newer, "README.md"), "from a layer\n", 0o644)
		okOlder, okNewer := w.AddLayer(older), w.AddLayer(newer)
		if want == ModeCopy {
			if okOlder || okNewer {
				t.Fatal("copy mode must refuse layers so that the caller copies instead")
			}
			return
		}
		if !okOlder || !okNewer {
			t.Fatal("overlay mode refused a layer")
		}
		if out, err := runIn(t, w, "echo x >> "+filepath.Join(older, "target", "a.txt")); err == nil {
			t.Errorf("a job wrote to a layer through its own path:\n%s", out)
		}
		out := mustRunIn(t, w, `cat target/a.txt target/b.txt README.md; echo changed >> target/a.txt; rm target/b.txt; cat src/main.go`)
		if want := "older a\nnewer b\nfrom a layer\npackage main\n"; out != want {
			t.Errorf("job saw:\n%q\nwant:\n%q", out, want)
		}
		if got := readFile(t, filepath.Join(older, "target", "a.txt")); got != "older a\n" {
			t.Errorf("a job's append reached the layer: %q", got)
		}
		if _, err := os.Stat(filepath.Join(newer, "target", "b.txt")); err != nil {
			t.Errorf("a job's delete reached the layer: %v", err)
		}
		fsys := w.FS()
		data, err := fs.ReadFile(fsys, "target/a.txt")
		if err != nil || string(data) != "older a\nchanged\n" {
			t.Errorf("FS sees target/a.txt as %q, %v", data, err)
		}
		if _, err := fs.Stat(fsys, "target/b.txt"); err == nil {
			t.Error("FS still sees the file the job deleted")
		}
		ents, err := fs.ReadDir(fsys, "target")
		if err != nil || len(ents) != 1 || ents[0].Name() != "a.txt" {
			var names []string
			for _, e := range ents {
				names = append(names, e.Name())
			}
			t.Errorf("FS lists target/ as %s, %v", strings.Join(names, ","), err)
		}
	})
}

// TestPlainStartRefused checks that a workspace command started without
// Workspace.Start fails instead of running outside the workspace.
func TestPlainStartRefused(t *testing.T) {
	repo := newTestRepo(t)
	forEachMode(t, func(t *testing.T, want Mode) {
		s, runDir := snapshotFor(t, repo, false, want)
		w := newWorkspace(t, s, filepath.Join(runDir, "jobs", "job1"))
		err := w.Command(t.Context(), "true").Run()
		if w.onThread() && err == nil {
			t.Fatal("cmd.Run of a workspace command ran outside the workspace")
		}
		if !w.onThread() && err != nil {
			t.Fatalf("cmd.Run where the sandbox mounts itself: %v", err)
		}
	})
}
