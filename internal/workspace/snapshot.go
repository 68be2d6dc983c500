package workspace

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Mode says how a snapshot gives each job its own workspace.
type Mode string

const (
	// ModeOverlay mounts a copy-on-write overlay of the snapshot per command.
	ModeOverlay Mode = "overlay"
	// ModeCopy copies the snapshot into each job's folder.
	ModeCopy Mode = "copy"
)

// ModeEnv is the environment variable that picks the mode: "copy" forces
// copies, "overlay" makes TakeSnapshot fail when overlays do not work, and
// "" or "auto" probes once and falls back to copies.
const ModeEnv = "GANTRY_WORKSPACE"

// Snapshot is the repository content shared, read-only, by every job of a
// run.
type Snapshot struct {
	repo    repoInfo
	dir     string
	name    string
	tracked map[string]struct{}
	mode    Mode
	reason  string
	userNS  bool
}

// TakeSnapshot captures repoDir once for a run into runDir/src. Without
// fromCommit it holds the working tree's tracked and untracked-but-not-
// ignored files as they are now, uncommitted edits included, and the user's
// index; with fromCommit it is a clean checkout of HEAD. Files are hard links
// to the working tree where the filesystem allows it, copies otherwise.
// Submodules that are checked out are included file by file in working-tree
// mode; with fromCommit they are empty folders, as with GitLab's default
// GIT_SUBMODULE_STRATEGY of none. It also decides, once, whether jobs get
// overlays or copies (see ModeEnv).
func TakeSnapshot(ctx context.Context, repoDir, runDir string, fromCommit bool) (*Snapshot, error) {
	forced, err := modeFromEnv()
	if err != nil {
		return nil, err
	}
	repo, err := inspectRepo(ctx, repoDir)
	if err != nil {
		return nil, err
	}
	if fromCommit && repo.head == "" {
		return nil, fmt.Errorf("snapshot HEAD of %s: the repository has no commit yet", repo.top)
	}
	runDir, err = filepath.Abs(runDir)
	if err != nil {
		return nil, fmt.Errorf("resolve run folder: %w", err)
	}
	if err := os.MkdirAll(runDir, 0o777); err != nil {
		return nil, fmt.Errorf("create run folder: %w", err)
	}
	s := &Snapshot{repo: repo, dir: filepath.Join(runDir, "src"), name: projectName(repo.top), userNS: os.Geteuid() != 0}
	if err := os.Mkdir(s.dir, 0o777); err != nil {
		return nil, fmt.Errorf("create snapshot folder: %w", err)
	}
	if err := s.fill(ctx, runDir, fromCommit); err != nil {
		_ = removeTree(s.dir)
		return nil, err
	}
	s.mode, s.reason = ModeCopy, "forced by "+ModeEnv+"=copy"
	if forced != ModeCopy {
		perr := probeOverlay(ctx, runDir, s.userNS)
		switch {
		case perr == nil:
			s.mode, s.reason = ModeOverlay, "overlayfs in a private mount namespace works"
		case forced == ModeOverlay:
			_ = removeTree(s.dir)
			return nil, fmt.Errorf("%s=overlay but overlays do not work here: %w", ModeEnv, perr)
		default:
			s.reason = "overlays unavailable: " + perr.Error()
		}
	}
	return s, nil
}

func modeFromEnv() (Mode, error) {
	switch v := os.Getenv(ModeEnv); v {
	case "", "auto":
		return "", nil
	case string(ModeCopy), string(ModeOverlay):
		return Mode(v), nil
	default:
		return "", fmt.Errorf("%s=%q: want auto, overlay or copy", ModeEnv, v)
	}
}

// projectName is the folder name jobs see their project in, like the last
// element of GitLab's /builds/group/project.
func projectName(top string) string {
	name := filepath.Base(top)
	if name == "." || name == "/" || name == "" || strings.HasPrefix(name, ".") {
		return "project"
	}
	return name
}

// fill populates the snapshot folder and records which paths git tracks.
func (s *Snapshot) fill(ctx context.Context, runDir string, fromCommit bool) error {
	if err := writeGitDir(ctx, s.repo, s.dir, !fromCommit); err != nil {
		return err
	}
	if fromCommit {
		if _, err := runGit(ctx, s.dir, "read-tree", "--reset", "-u", "HEAD"); err != nil {
			return fmt.Errorf("check out HEAD into snapshot: %w", err)
		}
		out, err := runGit(ctx, s.dir, "ls-files", "-z", "--stage")
		if err != nil {
			return fmt.Errorf("list snapshot files: %w", err)
		}
		entries, err := parseStageEntries(out)
		if err != nil {
			return err
		}
		s.tracked = make(map[string]struct{}, len(entries))
		for _, e := range entries {
			s.tracked[e.path] = struct{}{}
		}
		return nil
	}
	skip := ""
	if rel, err := filepath.Rel(s.repo.top, runDir); err == nil && filepath.IsLocal(rel) {
		skip = filepath.ToSlash(rel)
	}
	l := &listing{skip: skip, tracked: make(map[string]struct{})}
	if err := l.add(ctx, s.repo.top, ""); err != nil {
		return err
	}
	if err := materialize(ctx, s.repo.top, s.dir, l.files, l.emptyDirs); err != nil {
		return err
	}
	s.tracked = l.tracked
	// Refreshing once here saves every job's first `git status` from
	// re-reading files whose stat data differs from the user's index.
	// Its exit status is ignored: uncommitted edits make it exit 1 although
	// the index was refreshed, and a stale index only costs time.
	_, _ = runGit(ctx, s.dir, "update-index", "-q", "--refresh")
	return nil
}

// listing gathers the files of a working tree, descending into checked-out
// submodules.
type listing struct {
	skip      string // run folder inside the repository, never snapshotted
	files     []string
	emptyDirs []string
	tracked   map[string]struct{}
}

func (l *listing) add(ctx context.Context, root, prefix string) error {
	out, err := runGit(ctx, root, "ls-files", "-z", "--stage")
	if err != nil {
		return fmt.Errorf("list tracked files of %s: %w", root, err)
	}
	entries, err := parseStageEntries(out)
	if err != nil {
		return fmt.Errorf("list tracked files of %s: %w", root, err)
	}
	out, err = runGit(ctx, root, "ls-files", "-z", "--others", "--exclude-standard")
	if err != nil {
		return fmt.Errorf("list untracked files of %s: %w", root, err)
	}
	others, err := parseOtherFiles(out)
	if err != nil {
		return fmt.Errorf("list untracked files of %s: %w", root, err)
	}
	for _, e := range entries {
		p := prefix + e.path
		if l.skipped(p) {
			continue
		}
		l.tracked[p] = struct{}{}
		if e.mode != modeGitlink {
			l.files = append(l.files, p)
			continue
		}
		sub := filepath.Join(root, filepath.FromSlash(e.path))
		if _, err := os.Lstat(filepath.Join(sub, ".git")); err != nil {
			l.emptyDirs = append(l.emptyDirs, p)
			continue
		}
		if err := l.add(ctx, sub, p+"/"); err != nil {
			return err
		}
	}
	for _, o := range others {
		if p := prefix + o; !l.skipped(p) {
			l.files = append(l.files, p)
		}
	}
	return nil
}

func (l *listing) skipped(p string) bool {
	return l.skip != "" && (p == l.skip || strings.HasPrefix(p, l.skip+"/"))
}

// Dir is the snapshot folder (the overlays' read-only lower layer).
func (s *Snapshot) Dir() string { return s.dir }

// Mode says whether jobs get overlays or copies of the snapshot.
func (s *Snapshot) Mode() Mode { return s.mode }

// ModeReason explains why Mode was chosen, for the run log.
func (s *Snapshot) ModeReason() string { return s.reason }

// Tracked reports whether git tracks the file at p (slash-separated,
// relative to the project root) in the snapshot, which is what GitLab's
// `untracked: true` for artifacts and caches is defined against. Files inside
// checked-out submodules count as tracked.
func (s *Snapshot) Tracked(p string) bool {
	_, ok := s.tracked[path.Clean(strings.TrimPrefix(p, "./"))]
	return ok
}

// Remove deletes the snapshot folder. Workspaces made from it must be removed
// first.
func (s *Snapshot) Remove() error {
	if err := removeTree(s.dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove snapshot: %w", err)
	}
	return nil
}
