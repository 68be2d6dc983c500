package runner

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSweepRemovesIdlePipelines(t *testing.T) {
	s := newTestServer(t)
	p := newProject(t, s)
	dir := t.TempDir()
	src := newSources(dir)
	ctx := context.Background()
	acquire := func(pipeline int64) *pipelineDir {
		t.Helper()
		spec := jobSpec(t, s, p.first, "j")
		spec.PipelineID = pipeline
		spec.RepoURL = p.bare
		pd, err := src.acquire(ctx, spec, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		return pd
	}
	idle, busy := acquire(1), acquire(2)
	src.release(idle)
	src.sweep(ctx, time.Now().Add(2*time.Hour), time.Hour)

	if _, err := os.Stat(idle.dir); !os.IsNotExist(err) {
		t.Errorf("idle pipeline folder still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(busy.dir, "src", "version.txt")); err != nil {
		t.Errorf("pipeline in use lost its snapshot: %v", err)
	}
	mirror := src.mirrorDir(1)
	refs := runGit(t, mirror, "for-each-ref", "--format=%(refname)", "refs/gantry/")
	if strings.Contains(refs, pipelineRef(1)) || !strings.Contains(refs, pipelineRef(2)) {
		t.Errorf("mirror refs after the sweep:\n%s", refs)
	}
	if trees := runGit(t, mirror, "worktree", "list"); strings.Count(trees, "\n")+1 != 2 {
		t.Errorf("want the mirror and one worktree:\n%s", trees)
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, "trash")); len(entries) != 0 {
		t.Errorf("trash not emptied: %v", entries)
	}

	// A job of the swept pipeline arriving later starts afresh.
	again := acquire(1)
	if _, err := os.Stat(filepath.Join(again.dir, "src", "version.txt")); err != nil {
		t.Errorf("pipeline not re-created: %v", err)
	}
}
