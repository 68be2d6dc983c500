//go:build !linux

package workspace

import (
	"context"
	"errors"
	"io/fs"
	"os/exec"
)

var errNoOverlay = errors.New("overlay workspaces need Linux")

// MaybeRunSandbox returns at once: overlay workspaces exist only on Linux,
// elsewhere every job gets a copy.
func MaybeRunSandbox() {}

type sandboxSpec struct {
	UserNS, Probe                                               bool
	Lower, Upper, Work, Merged, JobDir, Private, ReadOnly, Path string
	Layers                                                      []string
}

func sandboxCommand(ctx context.Context, _ sandboxSpec, argv []string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Err = errNoOverlay
	return cmd
}

func probeOverlay(context.Context, string, bool) error { return errNoOverlay }

func isWhiteout(fs.FileInfo) bool { return false }

func isOpaque(string) bool { return false }

func (w *Workspace) onThread() bool { return false }

func startOnThread(_ sandboxSpec, cmd *exec.Cmd) error { return cmd.Start() }
