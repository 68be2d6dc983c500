//go:build linux

package shell

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/internal/executor"
)

// hangGuard fails a test whose Run does not return: Run hanging is the bug
// several tests look for, and it should fail the test, not the whole binary.
const hangGuard = 30 * time.Second

// syncBuffer is a log that tests may read while nothing writes to it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// runJob runs job with a fresh executor and returns the result and log.
func runJob(t *testing.T, ctx context.Context, opts Options, job *executor.Job) (executor.Result, string) {
	t.Helper()
	if job.Dir == "" {
		job.Dir = t.TempDir()
	}
	var log syncBuffer
	type ret struct {
		res executor.Result
		err error
	}
	done := make(chan ret, 1)
	go func() {
		res, err := New(opts).Run(ctx, job, &log)
		done <- ret{res, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatalf("Run: %v\nlog:\n%s", r.err, log.String())
		}
		return r.res, log.String()
	case <-time.After(hangGuard):
		t.Fatalf("Run did not return within %s\nlog so far:\n%s", hangGuard, log.String())
		return executor.Result{}, ""
	}
}

// readPID reads a pid a script wrote to dir/name.
func readPID(t *testing.T, dir, name string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatalf("read pid file %s: %v", name, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("pid file %s: %v", name, err)
	}
	return pid
}

// processGone reports whether pid no longer runs; a zombie left for an
// init that does not reap counts as gone.
func processGone(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 || i+2 >= len(stat) {
		return false
	}
	state := stat[i+2]
	return state == 'Z' || state == 'X'
}

// waitFile waits until a script has created path, so a test can cancel a
// job at a known point.
func waitFile(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(path); err == nil {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%s never appeared", path)
}
