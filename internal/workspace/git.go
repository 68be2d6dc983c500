package workspace

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// repoInfo locates the parts of the user's repository a snapshot needs.
type repoInfo struct {
	top       string // working tree root
	gitDir    string // per-worktree git dir (HEAD, index)
	commonDir string // shared git dir (objects, refs, config)
	head      string // HEAD commit, "" on an unborn branch
}

// gitLocationVars would point git at another repository than the one in its
// working directory; they are dropped so that a Gantry started from a git
// hook still inspects the right repository.
func gitLocationVars() []string {
	return []string{
		"GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
		"GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_COMMON_DIR", "GIT_PREFIX", "GIT_NAMESPACE",
	}
}

// runGit runs git in dir and returns its standard output; the error carries
// git's own message.
func runGit(ctx context.Context, dir string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	cmd.Env = gitEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg != "" {
			return out, fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, msg)
		}
		return out, fmt.Errorf("git %s: %w", strings.Join(args, " "), err)
	}
	return out, nil
}

func gitEnv() []string {
	drop := gitLocationVars()
	var out []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(drop, name) {
			out = append(out, kv)
		}
	}
	return out
}

// inspectRepo finds the working tree, git dirs and HEAD commit of the
// repository containing dir.
func inspectRepo(ctx context.Context, dir string) (repoInfo, error) {
	out, err := runGit(ctx, dir, "rev-parse", "--path-format=absolute",
		"--show-toplevel", "--git-dir", "--git-common-dir")
	if err != nil {
		return repoInfo{}, fmt.Errorf("locate git repository of %s: %w", dir, err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 3 {
		return repoInfo{}, fmt.Errorf("locate git repository of %s: unexpected rev-parse output %q", dir, out)
	}
	info := repoInfo{top: lines[0], gitDir: lines[1], commonDir: lines[2]}
	head, err := runGit(ctx, info.top, "rev-parse", "-q", "--verify", "HEAD^{commit}")
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		info.head = strings.TrimSpace(string(head))
	case errors.As(err, &exitErr):
		// Unborn branch: a repository without commits still has files to test.
	default:
		return repoInfo{}, fmt.Errorf("resolve HEAD of %s: %w", info.top, err)
	}
	return info, nil
}

// configKeysToDrop name settings of the user's repository that would break or
// surprise git inside a job: paths relative to the original layout, hooks and
// background daemons.
func configKeysToDrop() []string {
	return []string{
		"core.worktree", "core.bare", "core.hookspath", "core.fsmonitor",
		"extensions.worktreeconfig",
	}
}

// writeGitDir gives the snapshot at dst a .git folder of its own that borrows
// the user's object store through objects/info/alternates. Jobs can run
// git log, describe, status or even commit there: new objects and refs go to
// the job's copy-on-write layer, never to the user's repository. HEAD is
// detached at the current commit as in a GitLab checkout, and every ref is
// copied as a packed ref so that branches and tags resolve. With withIndex
// the user's index is kept, so staged changes look staged in the job.
func writeGitDir(ctx context.Context, repo repoInfo, dst string, withIndex bool) error {
	gitDir := filepath.Join(dst, ".git")
	for _, d := range []string{"objects/info", "refs/heads", "refs/tags", "info"} {
		if err := os.MkdirAll(filepath.Join(gitDir, d), 0o777); err != nil {
			return fmt.Errorf("create snapshot git dir: %w", err)
		}
	}
	alternates := filepath.Join(repo.commonDir, "objects") + "\n"
	if err := os.WriteFile(filepath.Join(gitDir, "objects/info/alternates"), []byte(alternates), 0o666); err != nil {
		return fmt.Errorf("write snapshot alternates: %w", err)
	}
	head := []byte(repo.head + "\n")
	if repo.head == "" {
		raw, err := os.ReadFile(filepath.Join(repo.gitDir, "HEAD"))
		if err != nil {
			return fmt.Errorf("read HEAD of %s: %w", repo.top, err)
		}
		head = raw
	}
	if err := os.WriteFile(filepath.Join(gitDir, "HEAD"), head, 0o666); err != nil {
		return fmt.Errorf("write snapshot HEAD: %w", err)
	}
	refs, err := runGit(ctx, repo.top, "for-each-ref", "--format=%(objectname) %(refname)")
	if err != nil {
		return fmt.Errorf("list refs: %w", err)
	}
	packed := append([]byte("# pack-refs with: sorted \n"), refs...)
	if err := os.WriteFile(filepath.Join(gitDir, "packed-refs"), packed, 0o666); err != nil {
		return fmt.Errorf("write snapshot refs: %w", err)
	}
	optional := []struct{ from, to string }{
		{filepath.Join(repo.commonDir, "config"), "config"},
		{filepath.Join(repo.commonDir, "shallow"), "shallow"},
		{filepath.Join(repo.commonDir, "info", "exclude"), "info/exclude"},
	}
	if withIndex {
		optional = append(optional, struct{ from, to string }{filepath.Join(repo.gitDir, "index"), "index"})
		shared, _ := filepath.Glob(filepath.Join(repo.gitDir, "sharedindex.*"))
		for _, s := range shared {
			optional = append(optional, struct{ from, to string }{s, filepath.Base(s)})
		}
	}
	for _, f := range optional {
		err := copyFile(f.from, filepath.Join(gitDir, f.to), 0o644)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("copy %s into snapshot: %w", f.from, err)
		}
	}
	return fixGitConfig(ctx, dst)
}

// fixGitConfig drops settings that only make sense in the user's own
// checkout and tells git not to trust ctime: hard-linking the snapshot bumps
// every file's ctime, which would otherwise make the first `git status` of
// each job re-read the whole tree.
func fixGitConfig(ctx context.Context, dst string) error {
	cfg := filepath.Join(dst, ".git", "config")
	out, err := runGit(ctx, dst, "config", "-f", cfg, "--name-only", "--list", "-z")
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) {
			return fmt.Errorf("read snapshot git config: %w", err)
		}
	}
	present := make(map[string]bool)
	for k := range bytes.SplitSeq(out, []byte{0}) {
		present[strings.ToLower(string(k))] = true
	}
	for _, k := range configKeysToDrop() {
		if present[k] {
			if _, err := runGit(ctx, dst, "config", "-f", cfg, "--unset-all", k); err != nil {
				return fmt.Errorf("clean snapshot git config: %w", err)
			}
		}
	}
	for _, kv := range [][2]string{{"core.bare", "false"}, {"core.trustctime", "false"}} {
		if _, err := runGit(ctx, dst, "config", "-f", cfg, kv[0], kv[1]); err != nil {
			return fmt.Errorf("set snapshot git config: %w", err)
		}
	}
	return nil
}
