package deploy_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/internal/deploy"
	"github.com/gantry-ci/gantry/internal/store/sqlite"
)

// childEnv makes the test binary run a controller instead of the tests:
// the crash test kills that process with SIGKILL, which is the only
// honest way to crash a controller (its replicas die with it, as they do
// with a real server).
const childEnv = "GANTRY_DEPLOY_TEST_CHILD"

// childMain serves a controller over the state folder in $GANTRY_DEPLOY_TEST_CHILD
// and prints its API address.
func childMain() int {
	dir := os.Getenv(childEnv)
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "gantry.db"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	c, err := deploy.New(deploy.Config{Records: db, DataDir: filepath.Join(dir, "data")})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	if err := c.Start(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	fmt.Printf("listening http://%s\n", ln.Addr())
	admin := func(*http.Request, string, bool) (deploy.Caller, error) {
		return deploy.Caller{Name: "admin", Admin: true}, nil
	}
	mux := http.NewServeMux()
	mux.Handle(deploy.APIPrefix, c.Handler(admin))
	_ = http.Serve(ln, mux)
	return 0
}

// child is a controller process.
type child struct {
	cmd *exec.Cmd
	url string
}

func startChild(t *testing.T, dir string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ch := &child{cmd: cmd}
	t.Cleanup(func() { ch.kill() })
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "listening "); ok {
				urls <- u
			}
		}
	}()
	select {
	case ch.url = <-urls:
	case <-time.After(60 * time.Second):
		t.Fatal("the child controller did not start")
	}
	return ch
}

// kill is the crash: SIGKILL, no Close, no chance to clean up.
func (c *child) kill() {
	if c.cmd.ProcessState != nil {
		return
	}
	_ = syscall.Kill(c.cmd.Process.Pid, syscall.SIGKILL)
	_ = c.cmd.Wait()
}
