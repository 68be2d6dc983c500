package workspace

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// nobodyID is the conventional uid and gid of the unprivileged "nobody".
const nobodyID = 65534

// TestAsUnprivilegedUser re-runs the job-facing tests as an ordinary user
// when the suite runs as root, because Gantry's users are not root and their
// overlays live in a user namespace that root never needs.
func TestAsUnprivilegedUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("already unprivileged: the other tests cover this case")
	}
	self, err := os.Executable()
	if err != nil {
		t.Skipf("cannot find the test binary: %v", err)
	}
	dir, err := os.MkdirTemp("", "gantry-unprivileged-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	home := filepath.Join(dir, "home")
	bin := filepath.Join(dir, "workspace.test")
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(home, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(home, nobodyID, nobodyID); err != nil {
		t.Fatal(err)
	}
	if err := copyFile(self, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.count=1",
		"-test.run=^(TestSnapshotContent|TestJobWritesStayPrivate|TestFSMatchesJobView|TestJobsCannotSeeEachOther|TestGitWorksInWorkspace|TestCommandLikeExecCommand)$")
	cmd.Dir = home
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "TMPDIR=" + home}
	if userNamespacesAllowed() {
		cmd.Env = append(cmd.Env, requireOverlayEnv+"=1")
	} else {
		t.Log("unprivileged user namespaces are disabled here: the re-run tests copies")
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobodyID, Gid: nobodyID}}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tests as uid %d: %v\n%s", nobodyID, err, out)
	}
}

// userNamespacesAllowed reads the sysctls that commonly forbid unprivileged
// user namespaces.
func userNamespacesAllowed() bool {
	for file, forbidden := range map[string]string{
		"/proc/sys/user/max_user_namespaces":                     "0",
		"/proc/sys/kernel/unprivileged_userns_clone":             "0",
		"/proc/sys/kernel/apparmor_restrict_unprivileged_userns": "1",
	} {
		if data, err := os.ReadFile(file); err == nil && strings.TrimSpace(string(data)) == forbidden {
			return false
		}
	}
	return true
}
