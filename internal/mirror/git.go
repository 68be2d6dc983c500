package mirror

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// allowedProtocols keeps remote helpers such as ext:: (which runs
// arbitrary commands) out of reach of a URL typed into a project setting.
const allowedProtocols = "file:git:http:https:ssh"

// inheritedGitVars are dropped from the environment because they would
// point git at another repository or inject configuration, as happens when
// Gantry itself is started from a git hook.
var inheritedGitVars = []string{
	"GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
	"GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_NAMESPACE", "GIT_COMMON_DIR",
	"GIT_CONFIG_PARAMETERS", "GIT_CONFIG_COUNT", "GIT_CEILING_DIRECTORIES",
	"GIT_PREFIX", "GIT_QUARANTINE_PATH",
}

// gitEnv builds the environment of a git run in the repository gitDir.
// extra holds config pairs handed over through GIT_CONFIG_KEY_n so that
// values such as a remote URL with a password never appear in argv, which
// every local user can read.
func gitEnv(gitDir string, extra ...[2]string) []string {
	env := make([]string, 0, len(os.Environ())+8)
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if dropVar(name) {
			continue
		}
		env = append(env, kv)
	}
	env = append(env,
		"GIT_DIR="+gitDir,
		"GIT_TERMINAL_PROMPT=0",
		"GIT_ALLOW_PROTOCOL="+allowedProtocols,
		"LC_ALL=C",
	)
	return append(env, configEnv(extra...)...)
}

// configEnv passes config pairs to git as GIT_CONFIG_KEY_n/VALUE_n.
func configEnv(pairs ...[2]string) []string {
	if len(pairs) == 0 {
		return nil
	}
	env := []string{"GIT_CONFIG_COUNT=" + strconv.Itoa(len(pairs))}
	for i, kv := range pairs {
		env = append(env,
			"GIT_CONFIG_KEY_"+strconv.Itoa(i)+"="+kv[0],
			"GIT_CONFIG_VALUE_"+strconv.Itoa(i)+"="+kv[1])
	}
	return env
}

func dropVar(name string) bool {
	if strings.HasPrefix(name, "GIT_CONFIG_KEY_") || strings.HasPrefix(name, "GIT_CONFIG_VALUE_") ||
		name == "GIT_ALLOW_PROTOCOL" || name == "GIT_TERMINAL_PROMPT" || name == "LC_ALL" {
		return true
	}
	for _, v := range inheritedGitVars {
		if name == v {
			return true
		}
	}
	return false
}

// command prepares a git run in the mirror. withRemote hands git the
// remote URL for commands that talk to it.
func (m *Mirror) command(ctx context.Context, withRemote bool, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = m.dir
	if withRemote {
		cmd.Env = gitEnv(m.dir, [2]string{"remote.origin.url", m.remote})
	} else {
		cmd.Env = gitEnv(m.dir)
	}
	// A remote helper or ssh left behind by a cancelled fetch may keep the
	// pipes open; do not wait for it forever.
	cmd.WaitDelay = 5 * time.Second
	detach(cmd)
	return cmd
}

// gitError is a failed git run. Its text is redacted, so it is safe to log.
type gitError struct {
	op     string
	err    error
	stderr string
}

func (e *gitError) Error() string {
	if e.stderr == "" {
		return fmt.Sprintf("git %s: %v", e.op, e.err)
	}
	return fmt.Sprintf("git %s: %v: %s", e.op, e.err, e.stderr)
}

func (e *gitError) Unwrap() error { return e.err }

// run runs git and returns its stdout; a failure carries git's stderr with
// the remote's credentials masked.
func (m *Mirror) run(ctx context.Context, withRemote bool, args ...string) ([]byte, error) {
	cmd := m.command(ctx, withRemote, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			err = ctxErr
		}
		return nil, &gitError{
			op:     args[0],
			err:    err,
			stderr: m.redact.text(strings.TrimSpace(stderr.String())),
		}
	}
	return stdout.Bytes(), nil
}

// isLockError reports a failure caused by another git process holding a
// ref or config lock, which clears up by itself and is worth one retry.
func isLockError(err error) bool {
	var ge *gitError
	if !errors.As(err, &ge) {
		return false
	}
	s := ge.stderr
	return strings.Contains(s, ".lock") || strings.Contains(s, "cannot lock ref") ||
		strings.Contains(s, "Unable to create")
}

// exitCode returns git's exit status, or -1 when it did not exit normally.
func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}
