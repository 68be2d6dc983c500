package fileset

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path"
)

// GitTracked lists the files git tracks under dir (paths relative to dir)
// and returns a Tracked function for Spec. GitLab Runner derives `untracked`
// from `git ls-files -o`, so ignored files count as untracked; asking git
// for the tracked side gives the same answer with one command. Paths inside
// a submodule count as tracked, because the superproject tracks the
// submodule as a whole.
func GitTracked(ctx context.Context, dir string) (func(string) bool, error) {
	cmd := exec.CommandContext(ctx, "git", "-C", dir, "ls-files", "-z", "--cached")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("list tracked files in %s: %w: %s", dir, err, bytes.TrimSpace(stderr.Bytes()))
	}
	set := map[string]bool{}
	for _, name := range bytes.Split(out, []byte{0}) {
		if len(name) > 0 {
			set[string(name)] = true
		}
	}
	return func(p string) bool {
		for q := p; q != "." && q != "/" && q != ""; q = path.Dir(q) {
			if set[q] {
				return true
			}
		}
		return false
	}, nil
}
