//go:build !unix

package mirror

import (
	"context"
	"os/exec"
)

// detach is a no-op where sessions do not exist.
func detach(cmd *exec.Cmd) {}

// lockFile is a no-op where flock does not exist; the in-process mutex and
// git's own ref locks still apply.
func lockFile(ctx context.Context, path string) (unlock func(), err error) {
	return func() {}, nil
}
