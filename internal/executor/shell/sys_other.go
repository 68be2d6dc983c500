//go:build unix && !linux

package shell

import (
	"os"
	"os/exec"
	"time"
)

// scriptInput returns bash's stdin holding script.
func scriptInput(script []byte) (*os.File, error) {
	return tempScriptInput(script)
}

// watchExit reaps the process as soon as it exits: without waitid's
// WNOWAIT the group is killed after the reap, which leaves a small window
// for pgid reuse that Linux does not have.
func watchExit(cmd *exec.Cmd) (exited <-chan struct{}, reap func() error) {
	ch := make(chan struct{})
	var err error
	go func() {
		defer close(ch)
		err = cmd.Wait()
	}()
	return ch, func() error {
		<-ch
		return err
	}
}

// groupAlive cannot list a group's members without /proc; the group kill
// is trusted instead.
func groupAlive(int) bool { return false }

// killPipeHolders has no portable way to find who holds a pipe.
func killPipeHolders(*os.File) []int { return nil }

// awaitDead has nothing to wait for, as killPipeHolders kills nobody.
func awaitDead([]int, time.Duration) {}
