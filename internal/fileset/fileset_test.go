package fileset_test

import (
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gantry-ci/gantry/internal/fileset"
)

var update = flag.Bool("update", false, "rewrite golden files")

// projectTree is a small project resembling what CI jobs leave behind.
var projectTree = map[string]string{
	"README.md":                 "readme",
	"main.go":                   "package main",
	"a.rpm":                     "rpm",
	"a.deb":                     "deb",
	"notes.txt":                 "n",
	"build/app":                 "bin",
	"build/app.o":               "obj",
	"build/sub/lib.o":           "obj",
	"build/sub/lib.so":          "so",
	"build/empty/":              "",
	"build/link-to-app":         "-> app",
	"out/apk/debug/app.apk":     "apk",
	"out/apk/release/app.apk":   "apk",
	"out/apk/release/notes.txt": "n",
	"docs/guide.txt":            "g",
	"current":                   "-> build",
	"escape":                    "-> /etc",
	"up":                        "-> ..",
}

func TestResolve(t *testing.T) {
	root := t.TempDir()
	makeTree(t, root, projectTree)
	fsys := os.DirFS(root)

	tests := []struct {
		name string
		spec fileset.Spec
		want []string
	}{
		{
			name: "a directory selects everything below it, empty dirs and links included",
			spec: fileset.Spec{Paths: []string{"build/"}},
			want: []string{"build/app", "build/app.o", "build/empty", "build/link-to-app", "build/sub/lib.o", "build/sub/lib.so"},
		},
		{
			name: "leading ./ and missing trailing slash mean the same directory",
			spec: fileset.Spec{Paths: []string{"./build/sub"}},
			want: []string{"build/sub/lib.o", "build/sub/lib.so"},
		},
		{
			name: "single star stays in one directory",
			spec: fileset.Spec{Paths: []string{"*.txt"}},
			want: []string{"notes.txt"},
		},
		{
			name: "double star crosses directories",
			spec: fileset.Spec{Paths: []string{"out/**/*.apk"}},
			want: []string{"out/apk/debug/app.apk", "out/apk/release/app.apk"},
		},
		{
			name: "brace alternatives",
			spec: fileset.Spec{Paths: []string{"a.{rpm,deb}"}},
			want: []string{"a.deb", "a.rpm"},
		},
		{
			name: "exclude drops matching files",
			spec: fileset.Spec{Paths: []string{"build/"}, Exclude: []string{"build/**/*.o"}},
			want: []string{"build/app", "build/empty", "build/link-to-app", "build/sub/lib.so"},
		},
		{
			name: "exclude of a directory is not recursive, as GitLab documents",
			spec: fileset.Spec{Paths: []string{"build/"}, Exclude: []string{"build/sub"}},
			want: []string{"build/app", "build/app.o", "build/empty", "build/link-to-app", "build/sub/lib.o", "build/sub/lib.so"},
		},
		{
			name: "exclude dir/** drops the directory's contents",
			spec: fileset.Spec{Paths: []string{"build/"}, Exclude: []string{"./build/sub/**", "build/empty"}},
			want: []string{"build/app", "build/app.o", "build/link-to-app"},
		},
		{
			name: "overlapping patterns give each file once",
			spec: fileset.Spec{Paths: []string{"out/", "out/**/*.apk", "out/apk/release/app.apk"}},
			want: []string{"out/apk/debug/app.apk", "out/apk/release/app.apk", "out/apk/release/notes.txt"},
		},
		{
			name: "a symlink to a directory is kept as a link, not followed",
			spec: fileset.Spec{Paths: []string{"current", "up"}},
			want: []string{"current", "up"},
		},
		{
			name: "wildcards do not descend through symlinked directories",
			spec: fileset.Spec{Paths: []string{"**/lib.so"}},
			want: []string{"build/sub/lib.so"},
		},
		{
			name: "a literal path through a link inside the project is followed",
			spec: fileset.Spec{Paths: []string{"current/sub/*.so"}},
			want: []string{"current/sub/lib.so"},
		},
		{
			name: "nothing matching is not an error",
			spec: fileset.Spec{Paths: []string{"nope/", "*.zip", ""}},
			want: []string{},
		},
		{
			name: "dot selects the whole project",
			spec: fileset.Spec{Paths: []string{"."}, Exclude: []string{"build/**", "out/**", "docs/**", "*.{rpm,deb}"}},
			want: []string{"README.md", "current", "escape", "main.go", "notes.txt", "up"},
		},
		{
			name: "trailing slash only matches directories",
			spec: fileset.Spec{Paths: []string{"notes.txt/", "docs/"}},
			want: []string{"docs/guide.txt"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := fileset.Resolve(fsys, tt.spec)
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestResolveRefusesPathsOutsideProject(t *testing.T) {
	root := t.TempDir()
	makeTree(t, root, projectTree)
	fsys := os.DirFS(root)

	tests := []struct {
		name    string
		spec    fileset.Spec
		outside bool
	}{
		{"parent directory", fileset.Spec{Paths: []string{"../secrets"}}, true},
		{"absolute path", fileset.Spec{Paths: []string{"/etc/passwd"}}, true},
		{"dot-dot after cleaning", fileset.Spec{Paths: []string{"build/../../x"}}, true},
		{"absolute exclude", fileset.Spec{Paths: []string{"build"}, Exclude: []string{"/build"}}, true},
		{"literal path through a link leaving the project", fileset.Spec{Paths: []string{"escape/*"}}, true},
		{"malformed glob", fileset.Spec{Paths: []string{"build/[a"}}, false},
		{"untracked without a Tracked function", fileset.Spec{Untracked: true}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := fileset.Resolve(fsys, tt.spec)
			if err == nil {
				t.Fatalf("Resolve returned %q and no error", got)
			}
			if tt.outside != errors.Is(err, fileset.ErrOutsideProject) {
				t.Errorf("error %q: ErrOutsideProject=%v, want %v", err, !tt.outside, tt.outside)
			}
		})
	}
}

func git(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_GLOBAL=/dev/null")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

func TestResolveUntrackedWithGit(t *testing.T) {
	root := t.TempDir()
	makeTree(t, root, map[string]string{
		".gitignore":          "*.log\nnode_modules/\n",
		"src/main.go":         "package main",
		"src/space name.go":   "package main",
		"committed.txt":       "x",
		"new.txt":             "untracked",
		"src/generated.go":    "untracked",
		"debug.log":           "ignored but untracked",
		"node_modules/a/i.js": "ignored",
	})
	git(t, root, "init", "-q")
	git(t, root, "add", ".gitignore", "src/main.go", "src/space name.go", "committed.txt")
	git(t, root, "commit", "-q", "-m", "init")

	tracked, err := fileset.GitTracked(t.Context(), root)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		spec fileset.Spec
		want []string
	}{
		{
			name: "untracked includes ignored files and skips .git",
			spec: fileset.Spec{Untracked: true, Tracked: tracked},
			want: []string{"debug.log", "new.txt", "node_modules/a/i.js", "src/generated.go"},
		},
		{
			name: "exclude applies to untracked files too",
			spec: fileset.Spec{Untracked: true, Tracked: tracked, Exclude: []string{"node_modules/**", "*.log"}},
			want: []string{"new.txt", "src/generated.go"},
		},
		{
			name: "paths and untracked add up",
			spec: fileset.Spec{Paths: []string{"src/"}, Untracked: true, Tracked: tracked, Exclude: []string{"node_modules/**"}},
			want: []string{"debug.log", "new.txt", "src/generated.go", "src/main.go", "src/space name.go"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := fileset.Resolve(os.DirFS(root), tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestGitTrackedOutsideRepository(t *testing.T) {
	_, err := fileset.GitTracked(t.Context(), t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "list tracked files") {
		t.Fatalf("want a clear error outside a repository, got %v", err)
	}
}

// TestResolveGolden pins the selection for a realistic front-end project so
// any change in matching rules shows up as a reviewable diff.
func TestResolveGolden(t *testing.T) {
	root := t.TempDir()
	tree := map[string]string{}
	for _, pkg := range []string{"react", "react-dom", "@babel/core", ".bin"} {
		tree["node_modules/"+pkg+"/package.json"] = "{}"
		tree["node_modules/"+pkg+"/index.js"] = "x"
		tree["node_modules/"+pkg+"/index.js.map"] = "x"
	}
	tree["node_modules/.bin/react"] = "-> ../react/index.js"
	tree["dist/app.js"] = "x"
	tree["dist/app.js.map"] = "x"
	tree["dist/assets/logo.svg"] = "x"
	tree["dist/assets/fonts/"] = ""
	tree["coverage/lcov.info"] = "x"
	tree["src/index.js"] = "x"
	makeTree(t, root, tree)

	got, err := fileset.Resolve(os.DirFS(root), fileset.Spec{
		Paths:   []string{"node_modules/", "dist/**", "coverage/*.info"},
		Exclude: []string{"**/*.map", "node_modules/@babel/**"},
	})
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(got, "\n") + "\n"
	golden := filepath.Join("testdata", "frontend.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("read golden (run with -update to create): %v", err)
	}
	if text != string(want) {
		t.Errorf("selection changed:\n got:\n%s\nwant:\n%s", text, want)
	}
}
