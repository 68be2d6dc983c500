package shell

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gantry-ci/gantry/internal/executor"
)

// holderGrace is how long the output pipe may stay open after the job's
// group is dead before Run looks for escaped processes holding it.
const holderGrace = 50 * time.Millisecond

// stage is one bash process: the main script or after_script.
type stage struct {
	name    string
	script  []byte
	timeout time.Duration // 0: none
	grace   time.Duration
	watch   *needleWatch // optional; fed with the output
}

// outcome is how one bash ended.
type outcome struct {
	exitCode int // -1 when killed by a signal
	signal   string
	timedOut bool
	canceled bool
}

// runStage runs one bash in its own process group and returns once the
// group is dead and the output is drained.
func (e *Executor) runStage(ctx context.Context, job *executor.Job, env []string, st stage, out io.Writer) (outcome, error) {
	oc := outcome{exitCode: -1}
	stdin, err := scriptInput(st.script)
	if err != nil {
		return oc, fmt.Errorf("prepare %s: %w", st.name, err)
	}
	defer stdin.Close()
	// One pipe for stdout and stderr keeps their interleaving.
	r, w, err := os.Pipe()
	if err != nil {
		return oc, fmt.Errorf("create output pipe for %s: %w", st.name, err)
	}
	defer r.Close()

	cmd, err := e.command(ctx, job)
	if err != nil {
		w.Close()
		return oc, fmt.Errorf("build %s command: %w", st.name, err)
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, w, w
	cmd.Env = env
	if cmd.Dir == "" {
		cmd.Dir = job.Dir
	}
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	if !cmd.SysProcAttr.Setsid { // a session leader already leads its own group
		cmd.SysProcAttr.Setpgid, cmd.SysProcAttr.Pgid = true, 0
	}
	if job.Start != nil {
		err = job.Start(cmd)
	} else {
		err = cmd.Start()
	}
	w.Close() // from here on only the job holds the write end
	if err != nil {
		return oc, fmt.Errorf("start bash for %s: %w", st.name, err)
	}
	pgid := cmd.Process.Pid

	p := &pump{r: r, out: out, watch: st.watch, done: make(chan struct{})}
	go p.run()

	exited, reap := watchExit(cmd)
	oc.timedOut, oc.canceled = supervise(ctx, pgid, exited, st.timeout, st.grace)
	// The main shell is gone (still unreaped, so its pgid cannot be reused):
	// whatever it left in the background goes with it, as in GitLab.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	waitErr := reap()
	awaitGroup(pgid, e.opts.DrainTimeout)
	p.finish(e.opts.DrainTimeout)

	state := cmd.ProcessState
	if state == nil {
		return oc, fmt.Errorf("wait for bash of %s: %w", st.name, waitErr)
	}
	ws, ok := state.Sys().(syscall.WaitStatus)
	switch {
	case ok && ws.Signaled():
		oc.signal = unix.SignalName(ws.Signal())
		if oc.signal == "" {
			oc.signal = ws.Signal().String()
		}
	default:
		oc.exitCode = state.ExitCode()
	}
	return oc, nil
}

// command builds the bash process, through Job.Command when given. Its
// context is never cancelled: os/exec would SIGKILL bash alone, skipping
// the grace period and leaving the rest of the group running.
func (e *Executor) command(ctx context.Context, job *executor.Job) (*exec.Cmd, error) {
	args := []string{"--noprofile", "--norc"}
	if job.Command == nil {
		return exec.Command(e.opts.Bash, args...), nil
	}
	cmd := job.Command(context.WithoutCancel(ctx), e.opts.Bash, args...)
	if cmd == nil {
		return nil, errors.New("job command builder returned nil")
	}
	return cmd, nil
}

// supervise waits for the main shell to exit, stopping its group on
// timeout or cancel: SIGTERM, then SIGKILL after grace. It returns once the
// shell has exited.
func supervise(ctx context.Context, pgid int, exited <-chan struct{}, timeout, grace time.Duration) (timedOut, canceled bool) {
	var expired <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		expired = t.C
	}
	select {
	case <-exited:
		return false, false
	case <-ctx.Done():
		canceled = true
	case <-expired:
		timedOut = true
	}
	select {
	case <-exited: // finished in the same instant: it was neither stopped nor late
		return false, false
	default:
	}
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	g := time.NewTimer(grace)
	defer g.Stop()
	select {
	case <-exited:
	case <-g.C:
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-exited
	}
	return timedOut, canceled
}

// awaitGroup returns once no live process is left in group pgid, killing
// stragglers, or after limit for processes that will not die (stuck in
// uninterruptible sleep).
func awaitGroup(pgid int, limit time.Duration) {
	if syscall.Kill(-pgid, 0) != nil {
		return // empty group: the common case costs one syscall
	}
	deadline := time.Now().Add(limit)
	for groupAlive(pgid) && time.Now().Before(deadline) {
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		time.Sleep(5 * time.Millisecond)
	}
}

// pump copies the job's output to the log. It never drops output: a slow
// log slows the job down instead.
type pump struct {
	r     *os.File
	out   io.Writer
	watch *needleWatch
	done  chan struct{}
	stop  atomic.Bool
}

func (p *pump) run() {
	defer close(p.done)
	buf := make([]byte, 32*1024)
	for {
		n, err := p.r.Read(buf)
		if n > 0 {
			p.write(buf[:n])
		}
		if err == nil {
			continue
		}
		if errors.Is(err, os.ErrDeadlineExceeded) && p.stop.Load() {
			p.drainBuffered(buf)
		}
		return
	}
}

func (p *pump) write(b []byte) {
	if p.watch != nil {
		p.watch.feed(b)
	}
	_, _ = p.out.Write(b) // out is a logWriter, which keeps the error
}

// drainBuffered copies what is already in the pipe without waiting for
// more, once Run has given up on reaching EOF.
func (p *pump) drainBuffered(buf []byte) {
	rc, err := p.r.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Read(func(fd uintptr) bool {
		for {
			n, err := unix.Read(int(fd), buf)
			if n <= 0 || err != nil {
				return true
			}
			p.write(buf[:n])
		}
	})
}

// finish waits for the output to reach EOF. Processes that escaped the
// job's group but hold the pipe are killed; if the pipe still is not closed
// after limit, reading stops so that Run cannot hang.
func (p *pump) finish(limit time.Duration) {
	t := time.NewTimer(holderGrace)
	defer t.Stop()
	select {
	case <-p.done:
		return
	case <-t.C:
	}
	killed := killPipeHolders(p.r)
	defer awaitDead(killed, limit)
	t.Reset(limit)
	select {
	case <-p.done:
		return
	case <-t.C:
	}
	p.stop.Store(true)
	_ = p.r.SetReadDeadline(time.Now())
	<-p.done
}

// tempScriptInput holds the script in an unlinked temporary file: seekable,
// so bash reads it in blocks, and pathless once opened.
func tempScriptInput(script []byte) (*os.File, error) {
	f, err := os.CreateTemp("", "gantry-script-*")
	if err != nil {
		return nil, fmt.Errorf("create script file: %w", err)
	}
	_ = os.Remove(f.Name())
	if _, err := f.Write(script); err != nil {
		f.Close()
		return nil, fmt.Errorf("write script file: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("rewind script file: %w", err)
	}
	return f, nil
}
