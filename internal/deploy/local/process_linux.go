//go:build linux

package local

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// processInstance is one OS process replica, leader of its own process
// group so that signals reach everything it spawned.
type processInstance struct {
	cmd  *exec.Cmd
	addr string
	done chan struct{}
	err  error
}

// startProcess starts spec.Command listening on port. Output goes to out
// (nil discards it). Pdeathsig is the backstop for a Gantry that dies
// without running Close; it fires when the forking thread ends, hence
// the forker.
func startProcess(f *forker, spec ReplicaSpec, env []string, out *os.File, port int) (*processInstance, error) {
	cmd := exec.Command(spec.Command[0], spec.Command[1:]...)
	cmd.Dir = spec.Dir
	cmd.Env = mergeEnv(os.Environ(), env, []string{"PORT=" + strconv.Itoa(port)})
	if out != nil {
		cmd.Stdout, cmd.Stderr = out, out
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := f.start(cmd); err != nil {
		return nil, fmt.Errorf("start %q: %w", spec.Command[0], err)
	}
	p := &processInstance{
		cmd:  cmd,
		addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		done: make(chan struct{}),
	}
	go p.wait()
	return p, nil
}

// wait waits for the leader to exit without reaping it, so its pid and
// with it the group id cannot be reused, kills what is left of the group
// and only then reaps. Nothing the replica spawned outlives it.
func (p *processInstance) wait() {
	defer close(p.done)
	pid := p.cmd.Process.Pid
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	err := p.cmd.Wait()
	if err == nil {
		err = errors.New("exited with status 0")
	}
	p.err = fmt.Errorf("process %d: %w", pid, err)
}

func (p *processInstance) endpoint() string        { return p.addr }
func (p *processInstance) pid() int                { return p.cmd.Process.Pid }
func (p *processInstance) exited() <-chan struct{} { return p.done }
func (p *processInstance) exitErr() error          { return p.err }

// stop sends SIGTERM to the group and SIGKILL once ctx ends.
func (p *processInstance) stop(ctx context.Context) {
	pid := p.cmd.Process.Pid
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	select {
	case <-p.done:
		return
	case <-ctx.Done():
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	<-p.done
}

// forker starts processes from one goroutine locked to its OS thread for
// the forker's whole life. The kernel sends a child its Pdeathsig when
// the thread that forked it exits, and Go ends threads whenever a
// goroutine that locked one returns (other parts of Gantry do that on
// purpose), which would kill replicas at random.
type forker struct {
	reqs chan forkRequest
}

type forkRequest struct {
	cmd   *exec.Cmd
	reply chan error
}

func newForker() *forker {
	f := &forker{reqs: make(chan forkRequest)}
	go func() {
		runtime.LockOSThread()
		// Never unlocked: when close ends this goroutine the thread
		// goes too, after every child it forked has been stopped.
		for req := range f.reqs {
			req.reply <- req.cmd.Start()
		}
	}()
	return f
}

func (f *forker) start(cmd *exec.Cmd) error {
	reply := make(chan error, 1)
	f.reqs <- forkRequest{cmd: cmd, reply: reply}
	return <-reply
}

// close ends the forker; call it only once its children are gone.
func (f *forker) close() { close(f.reqs) }
