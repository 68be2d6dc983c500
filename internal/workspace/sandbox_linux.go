package workspace

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// sandboxArg0 is the argv[0] that makes MaybeRunSandbox take over a process.
// The marker travels in argv rather than the environment because callers
// replace Cmd.Env with the job's environment.
const sandboxArg0 = "gantry-workspace-sandbox"

// Exit statuses of a sandbox that could not start the job, following the
// conventions of shells and container runtimes.
const (
	exitSetupFailed = 125
	exitCannotExec  = 126
	exitNotFound    = 127
)

// sandboxSpec tells the re-executed binary what to mount before it becomes
// the job.
type sandboxSpec struct {
	Probe    bool     `json:"probe,omitempty"`
	UserNS   bool     `json:"userns,omitempty"`
	Lower    string   `json:"lower"`
	Layers   []string `json:"layers,omitempty"` // over Lower, top first
	Upper    string   `json:"upper"`
	Work     string   `json:"work"`
	Merged   string   `json:"merged"`
	JobDir   string   `json:"job"`
	Private  string   `json:"private"`
	ReadOnly string   `json:"ro,omitempty"`
	Path     string   `json:"path,omitempty"`
}

// sandboxCommand re-executes the running binary as a sandbox that mounts
// spec and then execs argv.
func sandboxCommand(ctx context.Context, spec sandboxSpec, argv []string) *exec.Cmd {
	data, err := json.Marshal(spec)
	cmd := exec.CommandContext(ctx, "/proc/self/exe")
	cmd.Args = append([]string{sandboxArg0, string(data)}, argv...)
	cmd.SysProcAttr = sandboxSysProcAttr(spec.UserNS)
	if err != nil {
		cmd.Err = fmt.Errorf("encode workspace sandbox: %w", err)
	}
	return cmd
}

// sandboxSysProcAttr creates the namespaces. Root needs no user namespace
// and keeps its real privileges by unsharing only the mount namespace in
// the sandbox itself. Anyone else gets a user namespace that maps their own
// uid and gid to themselves, plus ambient capabilities so the re-executed
// sandbox may mount: overlayfs keeps the mounter's credentials for its own
// work (its mode-0 work folder, copy-up preserving owners and modes), so the
// file capabilities are needed besides CAP_SYS_ADMIN. They only ever apply
// to the user's own files, and the sandbox drops them all before the job
// starts.
func sandboxSysProcAttr(userNS bool) *syscall.SysProcAttr {
	if !userNS {
		return &syscall.SysProcAttr{}
	}
	return &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: os.Getuid(), HostID: os.Getuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: os.Getgid(), HostID: os.Getgid(), Size: 1}},
		AmbientCaps: overlayCaps(),
	}
}

// overlayCaps are the capabilities an unprivileged overlay mount needs in
// its user namespace.
func overlayCaps() []uintptr {
	return []uintptr{
		unix.CAP_SYS_ADMIN, unix.CAP_DAC_OVERRIDE, unix.CAP_DAC_READ_SEARCH,
		unix.CAP_FOWNER, unix.CAP_FSETID, unix.CAP_CHOWN, unix.CAP_MKNOD,
	}
}

// MaybeRunSandbox must be called first thing in main (and in TestMain of
// tests that run workspace commands). When the process was started by
// Workspace.Command it mounts the job's overlay in the process's private
// mount namespace, hides sibling jobs' folders, and replaces itself with the
// job's command, so no extra process stays between the caller and the job;
// it never returns then. Otherwise it returns at once.
func MaybeRunSandbox() {
	if len(os.Args) < 2 || os.Args[0] != sandboxArg0 {
		return
	}
	// Mount namespace, capabilities and working directory are per thread
	// until exec; everything below must happen on this one.
	runtime.LockOSThread()
	code, err := runSandbox(os.Args[1], os.Args[2:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "gantry: prepare job workspace: %v\n", err)
	}
	os.Exit(code)
}

// onThread reports whether Start mounts the workspace on a thread of this
// process: in overlay mode as root, where a mount namespace can be made for
// one thread (a user namespace cannot, in a multithreaded process).
func (w *Workspace) onThread() bool {
	return w.upper != "" && !w.snap.userNS
}

// startOnThread makes a private mount namespace for a new OS thread, mounts
// the workspace in it and starts cmd from that thread, which the child
// inherits. The thread is never unlocked, so it ends, namespace and all,
// when the goroutine returns.
func startOnThread(spec sandboxSpec, cmd *exec.Cmd) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if unix.Gettid() == unix.Getpid() {
			// The main thread cannot be ended, so it would keep the job's
			// namespace (and be what /proc/self shows). Hold it, so that
			// the retry runs on another thread, and give it back after.
			defer runtime.UnlockOSThread()
			errc <- startOnThread(spec, cmd)
			return
		}
		if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
			errc <- fmt.Errorf("prepare job workspace: create mount namespace: %w", err)
			return
		}
		if err := mountWorkspace(spec); err != nil {
			errc <- fmt.Errorf("prepare job workspace: %w", err)
			return
		}
		errc <- cmd.Start()
	}()
	return <-errc
}

// runSandbox only returns when the job could not be started, or after a
// probe.
func runSandbox(rawSpec string, argv []string) (int, error) {
	var spec sandboxSpec
	if err := json.Unmarshal([]byte(rawSpec), &spec); err != nil {
		return exitSetupFailed, fmt.Errorf("decode sandbox spec: %w", err)
	}
	cwd, err := os.Getwd()
	if err != nil {
		return exitSetupFailed, fmt.Errorf("read working directory: %w", err)
	}
	if !spec.UserNS {
		if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
			return exitSetupFailed, fmt.Errorf("create mount namespace: %w", err)
		}
	}
	if err := mountWorkspace(spec); err != nil {
		return exitSetupFailed, err
	}
	if spec.Probe {
		if err := checkProbe(spec); err != nil {
			return exitSetupFailed, err
		}
		return 0, nil
	}
	// Re-resolve the working directory so that it is the overlay, not the
	// empty folder underneath it.
	if err := os.Chdir(cwd); err != nil {
		return exitSetupFailed, fmt.Errorf("enter workspace: %w", err)
	}
	if spec.UserNS {
		if err := dropCapabilities(); err != nil {
			return exitSetupFailed, err
		}
	}
	if len(argv) == 0 || spec.Path == "" {
		return exitSetupFailed, errors.New("no command to run")
	}
	err = syscall.Exec(spec.Path, argv, os.Environ())
	if errors.Is(err, fs.ErrNotExist) {
		return exitNotFound, fmt.Errorf("run %s: %w", argv[0], err)
	}
	return exitCannotExec, fmt.Errorf("run %s: %w", argv[0], err)
}

// dropCapabilities clears the ambient and inheritable sets of this thread so
// that the job, which runs under the user's own non-zero uid, starts with no
// capabilities at all.
func dropCapabilities() error {
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return fmt.Errorf("drop ambient capabilities: %w", err)
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("read capabilities: %w", err)
	}
	data[0].Inheritable, data[1].Inheritable = 0, 0
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("drop inheritable capabilities: %w", err)
	}
	return nil
}

// mountWorkspace does the mounting, in the current mount namespace, which
// must be a private one.
func mountWorkspace(spec sandboxSpec) error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		if spec.UserNS && errors.Is(err, unix.EPERM) {
			return fmt.Errorf("make mounts private: %w (no user namespace: was Cmd.SysProcAttr replaced instead of modified?)", err)
		}
		return fmt.Errorf("make mounts private: %w", err)
	}
	if err := mountOverlay(spec); err != nil {
		return err
	}
	if spec.ReadOnly != "" {
		// The snapshot's files are hard links to the user's working tree:
		// nothing in the job may write to them directly.
		if err := bindReadOnly(spec.ReadOnly); err != nil {
			return err
		}
	}
	// Layers are shared with other jobs (a cache, a job's artifacts): a job
	// may not change them through their own paths either.
	for _, dir := range spec.Layers {
		if err := bindReadOnly(dir); err != nil {
			return err
		}
	}
	return hideSiblings(spec)
}

// mountOverlay passes the layers as /proc/self/fd paths so that folder names
// containing commas or colons need no escaping in the mount options.
func mountOverlay(spec sandboxSpec) error {
	dirs := append(append([]string{spec.Upper, spec.Work}, spec.Layers...), spec.Lower)
	fds := make([]string, len(dirs))
	for i, dir := range dirs {
		fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open overlay layer %s: %w", dir, err)
		}
		defer unix.Close(fd)
		fds[i] = fmt.Sprintf("/proc/self/fd/%d", fd)
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", strings.Join(fds[2:], ":"), fds[0], fds[1])
	if spec.UserNS {
		// Unprivileged overlays keep their metadata in user.* xattrs and never
		// create redirects or metacopy files.
		opts += ",userxattr"
	} else {
		// Keep the upper layer plain (no redirects, no metadata-only copies)
		// so that Workspace.FS can read it without mounting.
		opts += ",redirect_dir=nofollow,metacopy=off"
	}
	if err := unix.Mount("overlay", spec.Merged, "overlay", 0, opts); err != nil {
		return fmt.Errorf("mount overlay on %s: %w", spec.Merged, err)
	}
	return nil
}

// bindReadOnly puts a read-only bind mount of dir over itself.
func bindReadOnly(dir string) error {
	fd, err := unix.OpenTree(unix.AT_FDCWD, dir, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE)
	if err != nil {
		return fmt.Errorf("clone mount of %s: %w", dir, err)
	}
	defer unix.Close(fd)
	attr := &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
	if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, attr); err != nil {
		return fmt.Errorf("make %s read-only: %w", dir, err)
	}
	if err := unix.MoveMount(fd, "", unix.AT_FDCWD, dir, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("mount %s read-only: %w", dir, err)
	}
	return nil
}

// hideSiblings covers the parent of the job folder with an empty tmpfs and
// puts back only the job's own folder (a clone taken beforehand, the overlay
// included), then hides the overlay's internals inside it.
func hideSiblings(spec sandboxSpec) error {
	fd, err := unix.OpenTree(unix.AT_FDCWD, spec.JobDir, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE)
	if err != nil {
		return fmt.Errorf("clone mount of %s: %w", spec.JobDir, err)
	}
	defer unix.Close(fd)
	parent := filepath.Dir(spec.JobDir)
	if err := unix.Mount("tmpfs", parent, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755,size=64k"); err != nil {
		return fmt.Errorf("hide other jobs in %s: %w", parent, err)
	}
	if err := os.Mkdir(spec.JobDir, 0o755); err != nil {
		return fmt.Errorf("hide other jobs in %s: %w", parent, err)
	}
	if err := unix.MoveMount(fd, "", unix.AT_FDCWD, spec.JobDir, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("mount job folder %s: %w", spec.JobDir, err)
	}
	attr := &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
	if err := unix.MountSetattr(unix.AT_FDCWD, parent, 0, attr); err != nil {
		return fmt.Errorf("make %s read-only: %w", parent, err)
	}
	if spec.Private != "" {
		if err := unix.Mount("tmpfs", spec.Private, "tmpfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, "mode=0555,size=4k"); err != nil {
			return fmt.Errorf("hide overlay internals: %w", err)
		}
	}
	return nil
}

// checkProbe verifies, inside the probe's namespace, everything a job relies
// on: the lower layer shows through, writes land in the upper layer and the
// sibling folder is hidden.
func checkProbe(spec sandboxSpec) error {
	data, err := os.ReadFile(filepath.Join(spec.Merged, "probe"))
	if err != nil || string(data) != "ok" {
		return fmt.Errorf("overlay does not show its lower layer: %v", err)
	}
	if err := os.WriteFile(filepath.Join(spec.Merged, "written"), []byte("ok"), 0o666); err != nil {
		return fmt.Errorf("overlay is not writable: %w", err)
	}
	ents, err := os.ReadDir(filepath.Dir(spec.JobDir))
	if err != nil || len(ents) != 1 || ents[0].Name() != filepath.Base(spec.JobDir) {
		return fmt.Errorf("sibling job folders stay visible: %v", err)
	}
	return nil
}

// probeOverlay tries a complete sandbox on a tiny tree under runDir, once
// per snapshot, so that an unsupported kernel, a container without the
// needed privileges or a binary that forgot to call MaybeRunSandbox all
// lead to copy mode instead of failing jobs.
func probeOverlay(ctx context.Context, runDir string, userNS bool) error {
	dir, err := os.MkdirTemp(runDir, ".probe-")
	if err != nil {
		return fmt.Errorf("create probe folder: %w", err)
	}
	defer removeTree(dir)
	job := filepath.Join(dir, "jobs", "job")
	spec := sandboxSpec{
		Probe:   true,
		UserNS:  userNS,
		Lower:   filepath.Join(dir, "lower"),
		Upper:   filepath.Join(job, overlayDirName, "upper"),
		Work:    filepath.Join(job, overlayDirName, "work"),
		Merged:  filepath.Join(job, "builds", "p"),
		JobDir:  job,
		Private: filepath.Join(job, overlayDirName),
	}
	spec.ReadOnly = spec.Lower
	for _, d := range []string{spec.Lower, spec.Upper, spec.Work, spec.Merged, filepath.Join(dir, "jobs", "sibling")} {
		if err := os.MkdirAll(d, 0o777); err != nil {
			return fmt.Errorf("create probe folder: %w", err)
		}
	}
	if err := os.WriteFile(filepath.Join(spec.Lower, "probe"), []byte("ok"), 0o666); err != nil {
		return fmt.Errorf("create probe file: %w", err)
	}
	cmd := sandboxCommand(ctx, spec, []string{"probe"})
	cmd.Dir = spec.Merged
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("probe sandbox: %w: %s", err, out)
	}
	if _, err := os.Stat(filepath.Join(spec.Upper, "written")); err != nil {
		return fmt.Errorf("probe sandbox: write did not reach the upper layer: %w", err)
	}
	return nil
}

// isWhiteout reports whether an upper-layer entry marks a deletion: overlayfs
// records those as character devices 0/0.
func isWhiteout(info fs.FileInfo) bool {
	if info.Mode()&fs.ModeCharDevice == 0 {
		return false
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	return ok && st.Rdev == 0
}

// isOpaque reports whether an upper-layer folder hides the lower folder of
// the same name (the job deleted and recreated it). Privileged overlays mark
// that in trusted.*, unprivileged ones in user.*.
func isOpaque(dir string) bool {
	for _, name := range []string{"trusted.overlay.opaque", "user.overlay.opaque"} {
		var buf [1]byte
		n, err := unix.Lgetxattr(dir, name, buf[:])
		if err == nil && n == 1 && buf[0] == 'y' {
			return true
		}
	}
	return false
}
