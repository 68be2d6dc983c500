package analysis

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// maxJobOutput is how much of a job's output a record keeps: the end,
// where the reason for a failure usually is.
const maxJobOutput = 4 << 10

// Job measures by running a command: exit status 0 is 1.0, any other 0.0.
// The command runs in its own process group, killed whole on timeout, so a
// check script's children do not outlive it.
type Job struct{}

// Measure runs the command with {{…}} resolved in its arguments and
// environment, plus GANTRY_APP, GANTRY_ENV, GANTRY_CANARY, GANTRY_STABLE,
// GANTRY_CANARY_URL and GANTRY_STABLE_URL. A command that cannot start or
// times out is an error, not a failed check.
func (Job) Measure(ctx context.Context, m *Metric, args Args) (Measurement, error) {
	spec := m.Provider.Job
	if spec == nil {
		return Measurement{}, fmt.Errorf("metric %q: not a job metric", m.Name)
	}
	if len(spec.Command) == 0 {
		return Measurement{}, errors.New("job has no command")
	}
	argv := make([]string, len(spec.Command))
	for i, a := range spec.Command {
		v, err := expand(a, &args)
		if err != nil {
			return Measurement{}, fmt.Errorf("resolve command: %w", err)
		}
		argv[i] = v
	}
	env := append(os.Environ(),
		"GANTRY_APP="+args.App, "GANTRY_ENV="+args.Env,
		"GANTRY_CANARY="+args.Canary, "GANTRY_STABLE="+args.Stable,
		"GANTRY_CANARY_URL="+args.CanaryURL, "GANTRY_STABLE_URL="+args.StableURL)
	for k, v := range spec.Env {
		val, err := expand(v, &args)
		if err != nil {
			return Measurement{}, fmt.Errorf("resolve env %s: %w", k, err)
		}
		env = append(env, k+"="+val)
	}
	out := Measurement{Samples: -1, Query: strings.Join(argv, " ")}
	timeout := spec.Timeout
	if timeout <= 0 {
		timeout = DefaultJobTimeout
	}
	runCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(runCtx, argv[0], argv[1:]...)
	cmd.Env = env
	var output tailBuffer
	cmd.Stdout, cmd.Stderr = &output, &output
	killGroup(cmd)
	// Children that keep the output pipe open must not hold Wait forever.
	cmd.WaitDelay = 2 * time.Second
	err := cmd.Run()
	out.Raw = output.String()
	var exit *exec.ExitError
	switch {
	case runCtx.Err() != nil && ctx.Err() == nil:
		return out, fmt.Errorf("job %q timed out after %s; its process group was killed", out.Query, timeout)
	case ctx.Err() != nil:
		return out, fmt.Errorf("job %q: %w", out.Query, ctx.Err())
	case errors.As(err, &exit):
		out.Value = 0
		out.Raw = strings.TrimSpace(fmt.Sprintf("%s\n%s", exit, out.Raw))
	case err != nil && !errors.Is(err, exec.ErrWaitDelay):
		return out, fmt.Errorf("run job %q: %w", out.Query, err)
	default:
		out.Value = 1
	}
	return out, nil
}

// tailBuffer keeps the last maxJobOutput bytes written to it; stdout and
// stderr share it, so it locks.
type tailBuffer struct {
	mu      sync.Mutex
	buf     []byte
	dropped bool
}

// Write keeps the end of what it is given and never fails, so a chatty
// check cannot fill memory or block.
func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - maxJobOutput; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
		t.dropped = true
	}
	return len(p), nil
}

// String is the kept output, marked when its start was dropped.
func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := strings.TrimSpace(string(t.buf))
	if t.dropped {
		s = "…" + s
	}
	return s
}
