// Package gitrepo reads what a pipeline needs to know about a local git
// repository (the current commit, branch, default branch, author) with the
// system git, so that Gantry sees exactly what the user's git sees.
package gitrepo

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Info describes the commit a local pipeline runs on.
type Info struct {
	Root          string // top of the work tree
	SHA           string
	BeforeSHA     string
	Branch        string // "" when HEAD is detached
	Tag           string // a tag pointing at HEAD, if any
	DefaultBranch string
	Message       string
	Author        string
	Timestamp     time.Time
	RemoteURL     string
}

// Inspect reads Info for the repository holding dir. A folder that is not a
// git repository, or one without commits, is an error that says so.
func Inspect(ctx context.Context, dir string) (*Info, error) {
	root, err := git(ctx, dir, "rev-parse", "--show-toplevel")
	if err != nil {
		return nil, fmt.Errorf("find git repository of %s: %w", dir, err)
	}
	info := &Info{Root: filepath.Clean(root)}
	out, err := git(ctx, root, "log", "-1", "--format=%H%x00%P%x00%an <%ae>%x00%cI%x00%B")
	if err != nil {
		return nil, fmt.Errorf("read HEAD commit of %s (does it have a commit yet?): %w", root, err)
	}
	parts := strings.SplitN(out, "\x00", 5)
	if len(parts) == 5 {
		info.SHA = parts[0]
		if parents := strings.Fields(parts[1]); len(parents) > 0 {
			info.BeforeSHA = parents[0]
		}
		info.Author = parts[2]
		info.Timestamp, _ = time.Parse(time.RFC3339, parts[3])
		info.Message = strings.TrimRight(parts[4], "\n")
	}
	if b, err := git(ctx, root, "symbolic-ref", "--quiet", "--short", "HEAD"); err == nil {
		info.Branch = b
	}
	if t, err := git(ctx, root, "describe", "--tags", "--exact-match", "HEAD"); err == nil {
		info.Tag = t
	}
	info.DefaultBranch = defaultBranch(ctx, root, info.Branch)
	info.RemoteURL, _ = git(ctx, root, "remote", "get-url", "origin")
	return info, nil
}

// defaultBranch follows origin/HEAD, then init.defaultBranch, then main or
// master if they exist, then the current branch.
func defaultBranch(ctx context.Context, root, current string) string {
	if ref, err := git(ctx, root, "symbolic-ref", "--quiet", "--short", "refs/remotes/origin/HEAD"); err == nil {
		return strings.TrimPrefix(ref, "origin/")
	}
	for _, b := range []string{"main", "master"} {
		if _, err := git(ctx, root, "rev-parse", "--verify", "--quiet", "refs/heads/"+b); err == nil {
			return b
		}
	}
	if b, err := git(ctx, root, "config", "init.defaultBranch"); err == nil && b != "" {
		return b
	}
	if current != "" {
		return current
	}
	return "main"
}

// ChangedFiles lists the paths that differ between base and HEAD, plus
// uncommitted changes in the work tree.
func ChangedFiles(ctx context.Context, root, base string) ([]string, error) {
	args := []string{"diff", "--name-only", "-z"}
	if base != "" {
		args = append(args, base)
	} else {
		args = append(args, "HEAD")
	}
	out, err := gitRaw(ctx, root, args...)
	if err != nil {
		return nil, fmt.Errorf("list changed files against %s: %w", base, err)
	}
	var files []string
	for _, f := range strings.Split(out, "\x00") {
		if f != "" {
			files = append(files, f)
		}
	}
	return files, nil
}

func git(ctx context.Context, dir string, args ...string) (string, error) {
	out, err := gitRaw(ctx, dir, args...)
	return strings.TrimSpace(out), err
}

func gitRaw(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return "", fmt.Errorf("git %s: %s", strings.Join(args, " "), msg)
	}
	return stdout.String(), nil
}
