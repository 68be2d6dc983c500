//go:build linux

package shell

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// scriptInput returns bash's stdin holding script. A memfd is seekable, so
// bash reads it in blocks rather than byte by byte as from a pipe, and it
// has no path, so it works inside whatever mount namespace Job.Command
// enters.
func scriptInput(script []byte) (*os.File, error) {
	fd, err := unix.MemfdCreate("gantry-script", unix.MFD_CLOEXEC)
	if err != nil {
		return tempScriptInput(script)
	}
	f := os.NewFile(uintptr(fd), "gantry-script")
	if _, err := f.Write(script); err != nil {
		f.Close()
		return nil, fmt.Errorf("write script memfd: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("rewind script memfd: %w", err)
	}
	return f, nil
}

// watchExit signals when the process has exited without reaping it, so its
// pid, and with it the pgid, stays reserved until the group has been
// killed; reap then collects the status.
func watchExit(cmd *exec.Cmd) (exited <-chan struct{}, reap func() error) {
	ch := make(chan struct{})
	pid := cmd.Process.Pid
	go func() {
		defer close(ch)
		var info unix.Siginfo
		for {
			err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
			if err != unix.EINTR {
				return
			}
		}
	}()
	return ch, cmd.Wait
}

// groupAlive reports whether a process of group pgid is still running
// (zombies do not count: they hold nothing but a pid).
func groupAlive(pgid int) bool {
	alive := false
	eachProcess(func(pid int) bool {
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return true
		}
		state, pgrp, ok := procStat(stat)
		if ok && pgrp == pgid && state != 'Z' && state != 'X' {
			alive = true
			return false
		}
		return true
	})
	return alive
}

// killPipeHolders kills every process other than this one that has the
// pipe r belongs to open: processes that left the job's group (setsid)
// but kept its output, and would otherwise keep Run waiting. It returns
// the pids it killed.
func killPipeHolders(r *os.File) []int {
	var st unix.Stat_t
	if err := unix.Fstat(int(r.Fd()), &st); err != nil {
		return nil
	}
	var killed []int
	target := "pipe:[" + strconv.FormatUint(st.Ino, 10) + "]"
	self := os.Getpid()
	eachProcess(func(pid int) bool {
		if pid == self {
			return true
		}
		dir := "/proc/" + strconv.Itoa(pid) + "/fd/"
		fds, err := os.ReadDir(dir)
		if err != nil {
			return true
		}
		for _, fd := range fds {
			if link, err := os.Readlink(dir + fd.Name()); err == nil && link == target {
				if syscall.Kill(pid, syscall.SIGKILL) == nil {
					killed = append(killed, pid)
				}
				break
			}
		}
		return true
	})
	return killed
}

// awaitDead returns once none of pids runs any more, or after limit. A
// process closes its files before it turns into a zombie, so the pipe
// reaching EOF does not mean its holders are gone yet.
func awaitDead(pids []int, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for _, pid := range pids {
		for running(pid) && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
	}
}

// running reports whether pid exists and is not a zombie.
func running(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	state, _, ok := procStat(stat)
	return ok && state != 'Z' && state != 'X'
}

// procStat extracts state and process group from /proc/PID/stat, whose
// command name field may itself contain spaces and parentheses.
func procStat(stat []byte) (state byte, pgrp int, ok bool) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := bytes.Fields(stat[i+1:])
	if len(f) < 3 {
		return 0, 0, false
	}
	pgrp, err := strconv.Atoi(string(f[2]))
	if err != nil {
		return 0, 0, false
	}
	return f[0][0], pgrp, true
}

// eachProcess calls fn for every pid in /proc until fn returns false.
func eachProcess(fn func(pid int) bool) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return
	}
	for _, ent := range ents {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		if !fn(pid) {
			return
		}
	}
}
