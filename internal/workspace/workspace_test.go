package workspace

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

func TestSnapshotContent(t *testing.T) {
	repo := newTestRepo(t)
	cases := []struct {
		name       string
		fromCommit bool
		files      map[string]string // path -> content the job must see
		absent     []string
		tracked    map[string]bool
	}{
		{
			name:       "working tree",
			fromCommit: false,
			files: map[string]string{
				"README.md": "edited\n", "notes.txt": "untracked\n", "staged.txt": "staged\n",
				"src/main.go": "package main\n", "src/sub/deep.txt": "deep\n",
			},
			absent:  []string{"debug.log", "build", "deleted.txt"},
			tracked: map[string]bool{"README.md": true, "staged.txt": true, "src/main.go": true, "notes.txt": false, "./link": true, "debug.log": false},
		},
		{
			name:       "from commit",
			fromCommit: true,
			files: map[string]string{
				"README.md": "original\n", "deleted.txt": "gone soon\n", "src/main.go": "package main\n",
			},
			absent:  []string{"notes.txt", "staged.txt", "debug.log", "build"},
			tracked: map[string]bool{"README.md": true, "deleted.txt": true, "notes.txt": false, "staged.txt": false},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			forEachMode(t, func(t *testing.T, want Mode) {
				s, runDir := snapshotFor(t, repo, tc.fromCommit, want)
				w := newWorkspace(t, s, filepath.Join(runDir, "jobs", "job1"))
				if got := filepath.Base(w.Dir()); got != "myproject" {
					t.Errorf("project folder is named %q, want the repository's name", got)
				}
				// One script checks everything the job sees: each sandboxed
				// command costs a re-exec of the test binary.
				var script, wantOut strings.Builder
				for _, p := range slices.Sorted(maps.Keys(tc.files)) {
					fmt.Fprintf(&script, "echo '== %s'; cat %s; ", p, p)
					fmt.Fprintf(&wantOut, "== %s\n%s", p, tc.files[p])
					if got, err := fs.ReadFile(w.FS(), p); err != nil || string(got) != tc.files[p] {
						t.Errorf("FS reads %s = %q, %v; want %q", p, got, err, tc.files[p])
					}
				}
				for _, p := range tc.absent {
					fmt.Fprintf(&script, "test -e %s && echo 'unexpected %s'; ", p, p)
				}
				script.WriteString("readlink link; test -x script.sh && ./script.sh")
				wantOut.WriteString("README.md\nhi\n")
				if got := mustRunIn(t, w, script.String()); got != wantOut.String() {
					t.Errorf("the job saw\n%s\nwant\n%s", got, wantOut.String())
				}
				for p, want := range tc.tracked {
					if got := s.Tracked(p); got != want {
						t.Errorf("Tracked(%q) = %v, want %v", p, got, want)
					}
				}
				if got := readFile(t, filepath.Join(repo, "README.md")); got != "edited\n" {
					t.Errorf("user's working tree changed: README.md = %q", got)
				}
			})
		})
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestJobWritesStayPrivate(t *testing.T) {
	repo := newTestRepo(t)
	forEachMode(t, func(t *testing.T, want Mode) {
		s, runDir := snapshotFor(t, repo, false, want)
		a := newWorkspace(t, s, filepath.Join(runDir, "jobs", "a"))
		b := newWorkspace(t, s, filepath.Join(runDir, "jobs", "b"))
		mustRunIn(t, a, `set -e
			echo new > new.txt
			rm README.md
			echo more >> src/main.go
			echo rewritten > script.sh
			chmod 600 notes.txt
			rm -r src/sub && mkdir src/sub && echo fresh > src/sub/only.txt
			mkdir -p out/dir && echo artifact > out/dir/a.txt`)
		// A later command of the same job sees the job's own changes.
		if out := mustRunIn(t, a, "cat new.txt src/main.go; test ! -e README.md && ls src/sub"); out != "new\npackage main\nmore\nonly.txt\n" {
			t.Errorf("second command of job a sees %q", out)
		}
		for _, view := range []struct {
			name string
			read func(p string) (string, error)
		}{
			{"workspace b", func(p string) (string, error) { return runIn(t, b, "cat "+p) }},
			{"snapshot", func(p string) (string, error) {
				d, err := os.ReadFile(filepath.Join(s.Dir(), p))
				return string(d), err
			}},
			{"user's working tree", func(p string) (string, error) {
				d, err := os.ReadFile(filepath.Join(repo, p))
				return string(d), err
			}},
		} {
			for p, want := range map[string]string{"README.md": "edited\n", "src/main.go": "package main\n", "script.sh": "#!/bin/sh\necho hi\n", "src/sub/deep.txt": "deep\n"} {
				if got, err := view.read(p); err != nil || got != want {
					t.Errorf("%s: %s = %q, %v; want %q", view.name, p, got, err, want)
				}
			}
		}
		if info, err := os.Stat(filepath.Join(repo, "notes.txt")); err != nil || info.Mode().Perm() != 0o644 {
			t.Errorf("chmod in a job reached the user's file: %v %v", info.Mode(), err)
		}
		fsys := a.FS()
		for p, want := range map[string]string{"new.txt": "new\n", "src/main.go": "package main\nmore\n", "out/dir/a.txt": "artifact\n", "src/sub/only.txt": "fresh\n"} {
			if got, err := fs.ReadFile(fsys, p); err != nil || string(got) != want {
				t.Errorf("FS: %s = %q, %v; want %q", p, got, err, want)
			}
		}
		for _, p := range []string{"README.md", "src/sub/deep.txt"} {
			if _, err := fs.Stat(fsys, p); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("FS: deleted %s still visible: %v", p, err)
			}
		}
		assertNothingMounted(t, runDir)
	})
}

func TestFSMatchesJobView(t *testing.T) {
	repo := newTestRepo(t)
	forEachMode(t, func(t *testing.T, want Mode) {
		s, runDir := snapshotFor(t, repo, false, want)
		w := newWorkspace(t, s, filepath.Join(runDir, "jobs", "job"))
		mustRunIn(t, w, `set -e
			rm -rf src/sub deleted.txt .gitignore
			mkdir src/sub && echo x > src/sub/x
			rm -rf .git && mkdir .git && echo replaced > .git/HEAD
			mv src moved-src && ln notes.txt hardlink.txt
			ln -s moved-src/main.go main-link
			ln -s "$PWD/notes.txt" absolute-link
			mkdir -p a/b && ln -s ../.. a/b/up`)
		out := mustRunIn(t, w, "find . -mindepth 1 | sort")
		var inside []string
		for l := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
			inside = append(inside, strings.TrimPrefix(l, "./"))
		}
		var outside []string
		err := fs.WalkDir(w.FS(), ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if p != "." {
				outside = append(outside, p)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(outside)
		if !slices.Equal(inside, outside) {
			t.Errorf("FS lists\n%v\nthe job saw\n%v", outside, inside)
		}
		if err := fstest.TestFS(w.FS(), "moved-src/sub/x", "moved-src/main.go", "main-link", "hardlink.txt", ".git/HEAD"); err != nil {
			t.Error(err)
		}
		if got, err := fs.ReadFile(w.FS(), "a/b/up/main-link"); err != nil || string(got) != "package main\n" {
			t.Errorf("reading through symlinks = %q, %v", got, err)
		}
		if got, err := fs.ReadFile(w.FS(), "absolute-link"); err != nil || string(got) != "untracked\n" {
			t.Errorf("absolute symlink into the workspace = %q, %v", got, err)
		}
		mustRunIn(t, w, "ln -s /etc/passwd outside-link")
		if _, err := fs.ReadFile(w.FS(), "outside-link"); !errors.Is(err, errEscapes) {
			t.Errorf("symlink out of the workspace followed: %v", err)
		}
		if target, err := w.FS().(fs.ReadLinkFS).ReadLink("outside-link"); err != nil || target != "/etc/passwd" {
			t.Errorf("ReadLink(outside-link) = %q, %v", target, err)
		}
	})
}

func TestJobsCannotSeeEachOther(t *testing.T) {
	repo := newTestRepo(t)
	s, runDir := snapshotFor(t, repo, false, ModeOverlay)
	if s.Mode() != ModeOverlay {
		t.Skip("copy mode cannot hide sibling jobs")
	}
	jobs := filepath.Join(runDir, "jobs")
	a := newWorkspace(t, s, filepath.Join(jobs, "a"))
	b := newWorkspace(t, s, filepath.Join(jobs, "b"))
	writeFile(t, filepath.Join(b.WriteDir(), "secret.txt"), "b only\n", 0o644)
	cases := []struct{ name, script, want string }{
		{"list parent", "ls -A " + jobs, "a\n"},
		{"read sibling", "cat " + filepath.Join(b.Dir(), "README.md") + " 2>/dev/null || echo denied", "denied\n"},
		{"read sibling upper", "cat " + filepath.Join(b.WriteDir(), "secret.txt") + " 2>/dev/null || echo denied", "denied\n"},
		{"overlay internals hidden", "ls -A " + filepath.Join(a.jobDir, overlayDirName), ""},
		{"snapshot read-only", "(echo x > " + filepath.Join(s.Dir(), "README.md") + ") 2>/dev/null || echo denied", "denied\n"},
		{"own job folder", "ls -A " + filepath.Join(jobs, "a", "builds"), "myproject\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := mustRunIn(t, a, tc.script); got != tc.want {
				t.Errorf("%s printed %q, want %q", tc.script, got, tc.want)
			}
		})
	}
	if got := mustRunIn(t, b, "cat secret.txt"); got != "b only\n" {
		t.Errorf("file written to WriteDir not seen by the job: %q", got)
	}
	assertNothingMounted(t, runDir)
}

func TestGitWorksInWorkspace(t *testing.T) {
	repo := newTestRepo(t)
	userStatus := runGitT(t, repo, "status", "--porcelain")
	head := runGitT(t, repo, "rev-parse", "HEAD")
	cases := []struct {
		name       string
		fromCommit bool
		status     string
	}{
		{"working tree", false, userStatus},
		{"from commit", true, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			forEachMode(t, func(t *testing.T, want Mode) {
				s, runDir := snapshotFor(t, repo, tc.fromCommit, want)
				w := newWorkspace(t, s, filepath.Join(runDir, "jobs", "job"))
				out := mustRunIn(t, w, "git rev-parse HEAD && git describe --tags && git status --porcelain")
				wantOut := head + "\nv1.0.0\n" + tc.status
				if strings.TrimRight(out, "\n") != strings.TrimRight(wantOut, "\n") {
					t.Errorf("git in the job printed\n%s\nwant\n%s", out, wantOut)
				}
				mustRunIn(t, w, "echo job > job.txt && git add job.txt && git -c user.name=j -c user.email=j@x commit -q -m job && git branch job-branch")
				if got := runGitT(t, repo, "rev-parse", "HEAD"); got != head {
					t.Errorf("a commit in the job moved the user's HEAD to %s", got)
				}
				if out := runGitT(t, repo, "branch", "--list", "job-branch"); out != "" {
					t.Errorf("a branch made in the job appeared in the user's repository: %q", out)
				}
			})
		})
	}
}

func TestCommandLikeExecCommand(t *testing.T) {
	repo := newTestRepo(t)
	forEachMode(t, func(t *testing.T, want Mode) {
		s, runDir := snapshotFor(t, repo, false, want)
		w := newWorkspace(t, s, filepath.Join(runDir, "jobs", "job"))

		t.Run("env, stdin, process group, uid", func(t *testing.T) {
			cmd := w.Command(context.Background(), "sh", "-c", `echo "$JOB_VAR"; cat; echo $$; cut -d' ' -f5 /proc/$$/stat; id -u; pwd`)
			cmd.Env = []string{"JOB_VAR=from caller", "PATH=" + os.Getenv("PATH")}
			cmd.Stdin = strings.NewReader("from stdin\n")
			cmd.SysProcAttr.Setpgid = true
			var stdout bytes.Buffer
			cmd.Stdout = &stdout
			if err := run(w, cmd); err != nil {
				t.Fatalf("run: %v", err)
			}
			out := stdout.Bytes()
			pid := strconv.Itoa(cmd.Process.Pid)
			wantOut := strings.Join([]string{"from caller", "from stdin", pid, pid, strconv.Itoa(os.Getuid()), w.Dir()}, "\n") + "\n"
			if string(out) != wantOut {
				t.Errorf("job printed\n%s\nwant\n%s", out, wantOut)
			}
		})
		t.Run("no capabilities left to an unprivileged job", func(t *testing.T) {
			if os.Geteuid() == 0 {
				t.Skip("root keeps its own capabilities")
			}
			out := mustRunIn(t, w, "grep -E '^Cap(Inh|Eff|Amb)' /proc/self/status")
			for l := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
				if _, v, _ := strings.Cut(l, "\t"); strings.Trim(v, "0") != "" {
					t.Errorf("job has capabilities: %s", l)
				}
			}
		})
		t.Run("exit status", func(t *testing.T) {
			err := run(w, w.Command(context.Background(), "sh", "-c", "exit 3"))
			var exitErr *exec.ExitError
			if !errors.As(err, &exitErr) || exitErr.ExitCode() != 3 {
				t.Errorf("exit 3 gave %v", err)
			}
		})
		t.Run("unknown command", func(t *testing.T) {
			if err := run(w, w.Command(context.Background(), "no-such-command-gantry")); !errors.Is(err, exec.ErrNotFound) {
				t.Errorf("unknown command gave %v, want exec.ErrNotFound", err)
			}
		})
		t.Run("context cancel", func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			start := time.Now()
			err := run(w, w.Command(ctx, "sleep", "30"))
			if err == nil || time.Since(start) > 20*time.Second {
				t.Errorf("cancelled job returned %v after %v", err, time.Since(start))
			}
		})
	})
}

func TestNewWorkspaceRejects(t *testing.T) {
	repo := newTestRepo(t)
	s, runDir := snapshotFor(t, repo, false, ModeOverlay)
	nonEmpty := filepath.Join(runDir, "jobs", "used")
	writeFile(t, filepath.Join(nonEmpty, "leftover"), "x", 0o644)
	cases := []struct{ name, jobDir string }{
		{"non-empty job folder", nonEmpty},
	}
	if s.Mode() == ModeOverlay {
		cases = append(cases, struct{ name, jobDir string }{"parent would hide the repository", filepath.Join(filepath.Dir(repo), "job")})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := s.NewWorkspace(context.Background(), tc.jobDir); err == nil {
				t.Errorf("NewWorkspace(%s) succeeded", tc.jobDir)
			}
		})
	}
}

func TestModeEnv(t *testing.T) {
	repo := newTestRepo(t)
	t.Setenv(ModeEnv, "bogus")
	if _, err := TakeSnapshot(context.Background(), repo, t.TempDir(), false); err == nil {
		t.Error("unknown GANTRY_WORKSPACE value accepted")
	}
	t.Setenv(ModeEnv, "copy")
	s, _ := snapshotFor(t, repo, false, ModeCopy)
	if !strings.Contains(s.ModeReason(), ModeEnv) {
		t.Errorf("ModeReason %q does not say copies were forced", s.ModeReason())
	}
}
