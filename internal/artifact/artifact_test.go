package artifact_test

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"github.com/gantry-ci/gantry/internal/fileset/filesettest"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/gantry-ci/gantry/internal/artifact"
	"github.com/gantry-ci/gantry/internal/fileset"
	"github.com/gantry-ci/gantry/internal/fileset/tarzst"
)

var buildOutput = map[string]string{
	"dist/app+x":          "#!/bin/sh\necho app\n",
	"dist/lib/util.js":    "module.exports = {}",
	"dist/lib/current":    "-> util.js",
	"dist/empty/":         "",
	"dist/docs/guide.txt": strings.Repeat("guide ", 1000),
	"reports/junit.xml":   "<testsuite/>",
	"src/main.go":         "package main", // not selected
}

// collect builds buildOutput in a project, selects dist/ and reports/, and
// collects them for job "build" of run "1".
func collect(t *testing.T, runs string) (artifact.ArtifactDir, string) {
	t.Helper()
	project := t.TempDir()
	makeTree(t, project, buildOutput)
	files, err := fileset.Resolve(os.DirFS(project), fileset.Spec{Paths: []string{"dist/", "reports/*.xml"}})
	if err != nil {
		t.Fatal(err)
	}
	dir := artifact.DirFor(runs, "1", "build")
	meta := artifact.Meta{Job: "build", Created: time.Now(), ExpireIn: time.Hour}
	if err := artifact.Collect(t.Context(), os.DirFS(project), files, dir, meta); err != nil {
		t.Fatal(err)
	}
	return dir, project
}

func selected(t *testing.T, project string) map[string]string {
	t.Helper()
	all := filesettest.Describe(t, project)
	for k := range all {
		if strings.HasPrefix(k, "src") {
			delete(all, k)
		}
	}
	return all
}

func TestCollectListOpen(t *testing.T) {
	runs := t.TempDir()
	dir, _ := collect(t, runs)

	if want := filepath.Join(runs, "1", "artifacts", "build"); string(dir) != want {
		t.Errorf("artifact dir %s, want %s", dir, want)
	}
	meta, err := artifact.ReadMeta(dir)
	if err != nil {
		t.Fatal(err)
	}
	if meta.Name != "artifacts" || meta.Job != "build" || meta.Files != 5 || meta.Bytes != int64(len(buildOutput["dist/app+x"])+len(buildOutput["dist/lib/util.js"])+len(buildOutput["dist/docs/guide.txt"])+len(buildOutput["reports/junit.xml"])) {
		t.Errorf("meta = %+v", meta)
	}

	entries, err := artifact.List(dir)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, e := range entries {
		paths = append(paths, e.Path)
		if e.Path == "dist/lib/current" && e.Target != "util.js" {
			t.Errorf("symlink target %q", e.Target)
		}
		if e.Path == "dist/app" && e.Mode.Perm() != 0o755 {
			t.Errorf("dist/app mode %v, want 0755", e.Mode)
		}
	}
	// List reports directories only when they are empty.
	want := "dist/app dist/docs/guide.txt dist/empty dist/lib/current dist/lib/util.js reports/junit.xml"
	if got := strings.Join(paths, " "); got != want {
		t.Errorf("List = %s\nwant   %s", got, want)
	}

	f, err := artifact.Open(dir, "reports/junit.xml")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(f)
	f.Close()
	if string(b) != "<testsuite/>" {
		t.Errorf("Open read %q", b)
	}
}

func TestOpenRefusesPathsOutsideArtifacts(t *testing.T) {
	runs := t.TempDir()
	project := t.TempDir()
	makeTree(t, project, map[string]string{
		"out/ok.txt":   "ok",
		"out/escape":   "-> ../../meta.json",
		"out/absolute": "-> /etc/passwd",
	})
	files, _ := fileset.Resolve(os.DirFS(project), fileset.Spec{Paths: []string{"out/"}})
	dir := artifact.DirFor(runs, "1", "job")
	if err := artifact.Collect(t.Context(), os.DirFS(project), files, dir, artifact.Meta{Job: "job"}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"../meta.json", "/etc/passwd", "out/escape", "out/absolute", "out/../../meta.json"} {
		t.Run(name, func(t *testing.T) {
			if f, err := artifact.Open(dir, name); err == nil {
				f.Close()
				t.Errorf("Open(%q) succeeded", name)
			}
		})
	}
}

func TestCollectReplacesEarlierArtifacts(t *testing.T) {
	runs := t.TempDir()
	dir, _ := collect(t, runs)
	project := t.TempDir()
	makeTree(t, project, map[string]string{"only.txt": "second run"})
	if err := artifact.Collect(t.Context(), os.DirFS(project), []string{"only.txt"}, dir, artifact.Meta{Job: "build"}); err != nil {
		t.Fatal(err)
	}
	entries, err := artifact.List(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Path != "only.txt" {
		t.Errorf("after re-collect List = %+v", entries)
	}
	siblings, _ := os.ReadDir(filepath.Dir(string(dir)))
	if len(siblings) != 1 {
		t.Errorf("leftovers beside the artifact dir: %v", siblings)
	}
}

func TestExtractIntoLaterJob(t *testing.T) {
	runs := t.TempDir()
	dir, project := collect(t, runs)

	outside := filepath.Join(t.TempDir(), "victim")
	os.WriteFile(outside, []byte("untouched"), 0o644)
	dest := t.TempDir()
	makeTree(t, dest, map[string]string{
		"dist/app":          "stale build output",
		"reports/junit.xml": "-> " + outside, // planted link must be replaced, not followed
		"keep.me":           "job's own file",
	})

	if err := artifact.Extract(t.Context(), dir, dest); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(outside); string(b) != "untouched" {
		t.Fatalf("extract wrote through a symlink: %q", b)
	}
	got := filesettest.Describe(t, dest)
	if got["keep.me"] == "" {
		t.Error("extract removed a file it had no business with")
	}
	delete(got, "keep.me")
	if d := diff(selected(t, project), got); d != "" {
		t.Errorf("extracted tree differs:\n%s", d)
	}
}

func TestExtractMissingArtifacts(t *testing.T) {
	err := artifact.Extract(t.Context(), artifact.DirFor(t.TempDir(), "1", "nope"), t.TempDir())
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("want ErrNotExist, got %v", err)
	}
}

func TestConcurrentConsumers(t *testing.T) {
	runs := t.TempDir()
	dir, project := collect(t, runs)
	want := selected(t, project)
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			dest := t.TempDir()
			if err := artifact.Extract(t.Context(), dir, dest); err != nil {
				t.Error(err)
				return
			}
			if d := diff(want, filesettest.Describe(t, dest)); d != "" {
				t.Errorf("consumer got a different tree:\n%s", d)
			}
		})
	}
	wg.Wait()
}

func TestDirForKeepsJobNamesApart(t *testing.T) {
	names := []string{"build", "build: [linux, amd64]", "build: [linux, arm64]", "a/b", "a%2Fb", ".", "..", "", "tests 1/3", strings.Repeat("x", 400), strings.Repeat("x", 399) + "y"}
	seen := map[string]string{}
	for _, n := range names {
		dir := string(artifact.DirFor("/runs", "7", n))
		rel, err := filepath.Rel("/runs/7/artifacts", dir)
		if err != nil || strings.Contains(rel, "/") || rel == "." || rel == ".." || len(rel) > 255 {
			t.Errorf("job %q -> %q is not one safe path segment", n, rel)
		}
		if other, ok := seen[rel]; ok {
			t.Errorf("jobs %q and %q share folder %q", n, other, rel)
		}
		seen[rel] = n
	}
}

func TestExpire(t *testing.T) {
	runs := t.TempDir()
	created := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	now := created.Add(48 * time.Hour)
	jobs := []struct {
		job      string
		expireIn time.Duration
		kept     bool
	}{
		{"one-day", 24 * time.Hour, false},
		{"exactly-now", 48 * time.Hour, false},
		{"one-week", 7 * 24 * time.Hour, true},
		{"never", artifact.Never, true},
		{"unset", 0, true},
	}
	project := t.TempDir()
	makeTree(t, project, map[string]string{"f": "x"})
	for i, j := range jobs {
		dir := artifact.DirFor(runs, []string{"100", "101"}[i%2], j.job)
		meta := artifact.Meta{Job: j.job, Created: created, ExpireIn: j.expireIn}
		if err := artifact.Collect(t.Context(), os.DirFS(project), []string{"f"}, dir, meta); err != nil {
			t.Fatal(err)
		}
	}
	// A damaged folder is reported without stopping the sweep.
	broken := artifact.DirFor(runs, "102", "broken")
	os.MkdirAll(string(broken), 0o755)
	os.WriteFile(filepath.Join(string(broken), "meta.json"), []byte("{not json"), 0o644)

	removed, err := artifact.Expire(t.Context(), runs, now)
	if err == nil || !strings.Contains(err.Error(), "broken") {
		t.Errorf("want an error naming the broken folder, got %v", err)
	}
	if removed != 2 {
		t.Errorf("removed %d, want 2", removed)
	}
	for i, j := range jobs {
		_, statErr := os.Stat(string(artifact.DirFor(runs, []string{"100", "101"}[i%2], j.job)))
		if kept := statErr == nil; kept != j.kept {
			t.Errorf("%s: kept=%v, want %v", j.job, kept, j.kept)
		}
	}
	if again, _ := artifact.Expire(t.Context(), runs, now); again != 0 {
		t.Errorf("second sweep removed %d more", again)
	}
}

func TestWriteZip(t *testing.T) {
	runs := t.TempDir()
	dir, _ := collect(t, runs)
	var buf bytes.Buffer
	if err := artifact.WriteZip(t.Context(), dir, &buf); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		got[f.Name] = f.Mode().Type().String() + " " + string(b)
	}
	for name, content := range map[string]string{
		"dist/app":          "---------- #!/bin/sh\necho app\n",
		"reports/junit.xml": "---------- <testsuite/>",
		"dist/lib/current":  "L--------- util.js",
		"dist/empty/":       "d--------- ",
	} {
		if got[name] != content {
			t.Errorf("zip entry %s = %q, want %q", name, got[name], content)
		}
	}
}

func TestDamagedArtifactsGiveAClearError(t *testing.T) {
	runs := t.TempDir()
	dir, _ := collect(t, runs)
	archives, _ := filepath.Glob(filepath.Join(string(dir), "*.tar.zst"))
	if len(archives) != 1 {
		t.Fatalf("want one archive in %s, found %v", dir, archives)
	}
	data, _ := os.ReadFile(archives[0])
	if err := os.WriteFile(archives[0], data[:len(data)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	err := artifact.Extract(t.Context(), dir, t.TempDir())
	if !errors.Is(err, tarzst.ErrCorrupt) {
		t.Errorf("Extract of a truncated archive: %v, want ErrCorrupt", err)
	}
	if f, err := artifact.Open(dir, "reports/junit.xml"); err == nil {
		_, err = io.ReadAll(f)
		f.Close()
		if err == nil {
			t.Error("reading past the damage succeeded")
		}
	}
}

func TestOpenStreamsLargeFile(t *testing.T) {
	project := t.TempDir()
	big := strings.Repeat("0123456789abcdef", 1<<18) // 4 MiB
	makeTree(t, project, map[string]string{"a.txt": "a", "big.bin": big, "z.txt": "z"})
	dir := artifact.DirFor(t.TempDir(), "1", "j")
	if err := artifact.Collect(t.Context(), os.DirFS(project), []string{"a.txt", "big.bin", "z.txt"}, dir, artifact.Meta{}); err != nil {
		t.Fatal(err)
	}
	f, err := artifact.Open(dir, "big.bin")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil || info.Size() != int64(len(big)) || info.Name() != "big.bin" {
		t.Fatalf("Stat = %v, %v", info, err)
	}
	got, err := io.ReadAll(f)
	if err != nil || string(got) != big {
		t.Fatalf("read %d bytes, err %v", len(got), err)
	}
	if _, err := artifact.Open(dir, "missing.txt"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open of a missing file: %v, want ErrNotExist", err)
	}
}

func TestUnpackOnce(t *testing.T) {
	ctx := context.Background()
	src := fstest.MapFS{"dist/app": {Data: []byte("binary"), Mode: 0o755}, "dist/notes.txt": {Data: []byte("n")}}
	dir := artifact.DirFor(t.TempDir(), "1", "build")
	if err := artifact.Collect(ctx, src, []string{"dist/app", "dist/notes.txt"}, dir, artifact.Meta{Job: "build"}); err != nil {
		t.Fatal(err)
	}
	var trees []string
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			tree, err := artifact.Unpack(ctx, dir)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			trees = append(trees, tree)
			mu.Unlock()
		})
	}
	wg.Wait()
	for _, tree := range trees {
		if tree != trees[0] {
			t.Fatalf("concurrent unpacks gave different trees: %v", trees)
		}
	}
	got, err := os.ReadFile(filepath.Join(trees[0], "dist", "app"))
	if err != nil || string(got) != "binary" {
		t.Fatalf("tree holds %q, %v", got, err)
	}
	ents, _ := os.ReadDir(string(dir))
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".tmp") {
			t.Errorf("a losing unpack left %s behind", e.Name())
		}
	}
}
