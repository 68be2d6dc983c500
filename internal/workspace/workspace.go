package workspace

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// Workspace is one job's private view of the snapshot.
type Workspace struct {
	snap   *Snapshot
	jobDir string
	dir    string // what the job sees as CI_PROJECT_DIR
	upper  string // overlay mode only
	work   string // overlay mode only
	// layers are read-only trees laid over the snapshot (top first), such
	// as restored caches: they cost nothing to restore.
	layers []string
}

// NewWorkspace prepares a workspace for one job in jobDir, which must be
// absent or empty. In overlay mode this costs a few folders; in copy mode it
// copies the snapshot. Every job of a run should get a sibling folder of
// the same parent (for example runDir/jobs/<id>): that parent is what a job
// is prevented from listing, so it must not contain the repository.
func (s *Snapshot) NewWorkspace(ctx context.Context, jobDir string) (*Workspace, error) {
	jobDir, err := filepath.Abs(jobDir)
	if err != nil {
		return nil, fmt.Errorf("resolve job folder: %w", err)
	}
	parent := filepath.Dir(jobDir)
	if s.mode == ModeOverlay {
		for _, keep := range []string{s.repo.top, s.repo.commonDir} {
			if rel, err := filepath.Rel(parent, keep); parent == "/" || err == nil && (rel == "." || filepath.IsLocal(rel)) {
				return nil, fmt.Errorf("job folder %s: its parent %s would hide %s from the job", jobDir, parent, keep)
			}
		}
	}
	if err := makeEmptyDir(jobDir); err != nil {
		return nil, err
	}
	w := &Workspace{snap: s, jobDir: jobDir, dir: filepath.Join(jobDir, "builds", s.name)}
	if s.mode == ModeCopy {
		if err := os.Mkdir(filepath.Dir(w.dir), 0o777); err != nil {
			return nil, fmt.Errorf("create job folder: %w", err)
		}
		if err := copyTree(ctx, s.dir, w.dir); err != nil {
			_ = removeTree(jobDir)
			return nil, fmt.Errorf("copy snapshot for job: %w", err)
		}
		return w, nil
	}
	w.upper = filepath.Join(jobDir, overlayDirName, "upper")
	w.work = filepath.Join(jobDir, overlayDirName, "work")
	for _, d := range []string{w.upper, w.work, w.dir} {
		if err := os.MkdirAll(d, 0o777); err != nil {
			return nil, fmt.Errorf("create job folder: %w", err)
		}
	}
	return w, nil
}

// overlayDirName holds a job's overlay upper and work folders inside its job
// folder; it is hidden from the job itself.
const overlayDirName = ".overlay"

func makeEmptyDir(dir string) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o777); err != nil {
		return fmt.Errorf("create job folder: %w", err)
	}
	err := os.Mkdir(dir, 0o777)
	if err == nil {
		return nil
	}
	if !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create job folder: %w", err)
	}
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open job folder: %w", err)
	}
	defer f.Close()
	if _, err := f.Readdirnames(1); !errors.Is(err, io.EOF) {
		if err == nil {
			err = errors.New("not empty")
		}
		return fmt.Errorf("job folder %s: %w", dir, err)
	}
	return nil
}

// Dir is the path the job sees as CI_PROJECT_DIR, the same for every
// command of the job.
func (w *Workspace) Dir() string { return w.dir }

// WriteDir is where to write files, between commands, so that the next
// command sees them in Dir(): used to restore caches and artifacts before the
// job runs. In overlay mode it is the job's upper layer, so a path the job
// deleted must be removed here (it is an overlay whiteout) before being
// written again.
func (w *Workspace) WriteDir() string {
	if w.upper != "" {
		return w.upper
	}
	return w.dir
}

// FS is the job's view of Dir() read from outside the job's namespace, for
// collecting artifacts and caches after the job: in overlay mode the job's
// changes over the snapshot, deletions included. It implements fs.StatFS,
// fs.ReadDirFS and fs.ReadLinkFS. Symlinks are followed only while they stay
// inside the workspace (absolute ones naming Dir() included), in both modes.
func (w *Workspace) FS() fs.FS {
	if w.upper != "" {
		return &mergedFS{upper: w.upper, lowers: append(w.layers[:len(w.layers):len(w.layers)], w.snap.dir), mount: w.dir}
	}
	return &mergedFS{upper: w.dir, mount: w.dir}
}

// Command returns a command, to be started with Start, that runs name with Dir() as its working
// directory and, in overlay mode, with the overlay mounted there inside a
// mount namespace of its own where sibling jobs' folders are hidden. The
// caller may set Env, Stdin, Stdout, Stderr, Cancel, WaitDelay and fields of
// SysProcAttr (such as Setpgid), which reach the job because the sandbox
// replaces itself with it; SysProcAttr must not be replaced as a whole, and
// Path, Args and Dir belong to the workspace. A workspace that cannot be set
// up makes the command exit with status 125 and a message on its stderr.
func (w *Workspace) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	if w.upper == "" {
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Dir = w.dir
		cmd.SysProcAttr = &syscall.SysProcAttr{}
		return cmd
	}
	if w.onThread() {
		// Start mounts the workspace on the thread that starts the command;
		// a plain cmd.Start would run it outside the workspace, so it fails.
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Dir = w.dir
		cmd.SysProcAttr = &syscall.SysProcAttr{}
		if cmd.Err == nil {
			cmd.Err = errUseStart
		}
		return cmd
	}
	resolved, lookErr := name, error(nil)
	if !strings.ContainsRune(name, '/') {
		resolved, lookErr = exec.LookPath(name)
	}
	spec := w.spec()
	spec.Path = resolved
	cmd := sandboxCommand(ctx, spec, append([]string{name}, args...))
	cmd.Dir = w.dir
	if lookErr != nil && cmd.Err == nil {
		cmd.Err = lookErr
	}
	return cmd
}

func (w *Workspace) spec() sandboxSpec {
	return sandboxSpec{
		UserNS:   w.snap.userNS,
		Lower:    w.snap.dir,
		Layers:   w.layers,
		Upper:    w.upper,
		Work:     w.work,
		Merged:   w.dir,
		JobDir:   w.jobDir,
		Private:  filepath.Join(w.jobDir, overlayDirName),
		ReadOnly: w.snap.dir,
	}
}

// Start starts a command made by Command; use it instead of cmd.Start. As
// root in overlay mode the workspace is mounted in a private mount namespace
// of a thread of this process made for the purpose, and the command is
// started from that thread, so it inherits the namespace: no re-executed
// sandbox process, which saves a few milliseconds per job. Elsewhere it is
// cmd.Start (the re-executed sandbox mounts the workspace itself).
func (w *Workspace) Start(cmd *exec.Cmd) error {
	if !w.onThread() {
		return cmd.Start()
	}
	if cmd.Err == errUseStart {
		cmd.Err = nil
	}
	return startOnThread(w.spec(), cmd)
}

var errUseStart = errors.New("start a workspace command with Workspace.Start")

// AddLayer lays the read-only tree dir over the workspace, above the
// snapshot and the layers added before it, so that the job sees its files
// at once without any being copied: a restored cache costs nothing. The
// job's writes still go to its own upper layer, so dir is never changed,
// and it must not change while the job runs. Call it before the first
// Command. It reports false in copy mode, where the caller must copy dir's
// files into WriteDir() instead.
func (w *Workspace) AddLayer(dir string) bool {
	if w.upper == "" || len(w.layers) >= maxLayers {
		return false
	}
	w.layers = append([]string{dir}, w.layers...)
	return true
}

// maxLayers keeps the overlay's mount options well inside one page: each
// layer costs a /proc/self/fd path there.
const maxLayers = 64

// Remove deletes the job folder with everything the job wrote.
func (w *Workspace) Remove() error {
	if err := removeTree(w.jobDir); err != nil {
		return fmt.Errorf("remove job workspace: %w", err)
	}
	return nil
}
