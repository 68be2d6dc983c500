package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRetry checks retry: a job that fails twice and then passes succeeds
// with retry: 2, fails with retry: 1, and is not retried when its exit
// code is not one of retry:exit_codes. The attempt counter lives outside
// the workspace, since each attempt gets a fresh one.
func TestRetry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		retry    string
		code     int
		status   string
		attempts int
	}{
		{"enough retries", "2", 0, "success", 3},
		{"too few retries", "1", 1, "failed", 2},
		{"matching exit code", "{max: 2, exit_codes: [3]}", 0, "success", 3},
		{"other exit code", "{max: 2, exit_codes: [4]}", 1, "failed", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			counter := filepath.Join(t.TempDir(), "count")
			r := newRepo(t, map[string]string{".gitlab-ci.yml": `
flaky:
  retry: ` + tc.retry + `
  script:
    - n=$(( $(cat "$COUNTER" 2>/dev/null || echo 0) + 1 )); echo $n > "$COUNTER"
    - echo "attempt $n"
    - test $n -ge 3 || exit 3
`})
			res := r.mustRun(tc.code, "run", "--json", "--var", "COUNTER="+counter)
			evs := events(t, res.stdout)
			var started []int
			retrying := 0
			for _, e := range evs {
				switch {
				case e.Type == "job_started":
					started = append(started, e.Attempt)
				case e.Type == "job_finished" && e.WillRetry:
					retrying++
					if e.Status != "failed" {
						t.Errorf("an attempt followed by a retry ended %s", e.Status)
					}
				}
			}
			if len(started) != tc.attempts || started[len(started)-1] != tc.attempts || retrying != tc.attempts-1 {
				t.Errorf("attempts started %v with %d retries, want %d attempts", started, retrying, tc.attempts)
			}
			if got := finals(evs)["flaky"].Status; got != tc.status {
				t.Errorf("flaky ended %s, want %s", got, tc.status)
			}
			if got := strings.TrimSpace(readFile(t, counter)); got != strconv.Itoa(tc.attempts) {
				t.Errorf("the script ran %s times, want %d", got, tc.attempts)
			}
			if tc.attempts < 2 {
				return
			}
			plain := r.mustRun(tc.code, "run", "--var", "COUNTER="+filepath.Join(t.TempDir(), "count"))
			if !hasLine(linesOf(plain.stdout, "flaky"), "started (attempt 2)") {
				t.Errorf("the plain view does not show the second attempt:\n%s", plain.stdout)
			}
			if row := strings.Join(summaryRow(plain.stdout, "flaky"), " "); !strings.Contains(row, fmt.Sprintf("after %d attempts", tc.attempts)) {
				t.Errorf("summary row of flaky = %q, want the number of attempts", row)
			}
		})
	}
}

// TestTimeout checks that a job over its timeout (its own or the cap of
// --timeout) is stopped long before its sleep ends, fails with GitLab's
// job_execution_timeout, and still runs its after_script.
func TestTimeout(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ci   string
		args []string
	}{
		{"job timeout", "slow:\n  timeout: 2s\n  script: [sleep 30]\n  after_script: [echo after-script-ran]\n", nil},
		{"--timeout cap", "slow:\n  timeout: 1h\n  script: [sleep 30]\n  after_script: [echo after-script-ran]\n", []string{"--timeout", "2s"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRepo(t, map[string]string{".gitlab-ci.yml": tc.ci})
			start := time.Now()
			res := r.mustRun(1, append([]string{"run", "--json"}, tc.args...)...)
			// A bound far below the 30 s sleep, not a performance figure.
			if d := time.Since(start); d > 20*time.Second {
				t.Errorf("the run took %v; the job was not stopped at its timeout", d)
			}
			evs := events(t, res.stdout)
			fin := finals(evs)["slow"]
			if fin.Status != "failed" || fin.Failure != "job_execution_timeout" {
				t.Errorf("slow ended %s (%s), want failed (job_execution_timeout)", fin.Status, fin.Failure)
			}
			log := jobLogText(evs, "slow")
			if !strings.Contains(log, "after-script-ran") {
				t.Errorf("after_script did not run after the timeout:\n%s", log)
			}
			if !strings.Contains(log, "execution took longer than") {
				t.Errorf("the log does not say the job timed out:\n%s", log)
			}
		})
	}
}

// TestKilledBySignal checks that a job whose shell is killed (kill -9 $$)
// fails the pipeline instead of passing or hanging it.
func TestKilledBySignal(t *testing.T) {
	t.Parallel()
	r := newRepo(t, map[string]string{".gitlab-ci.yml": `
stages: [build, test]
victim:
  stage: build
  script: [echo before the kill, kill -9 $$, echo never printed]
later:
  stage: test
  script: [echo later]
`})
	res := r.mustRun(1, "run", "--json")
	evs := events(t, res.stdout)
	st := statusOf(evs)
	if st["victim"] != "failed" || st["later"] != "skipped" {
		t.Errorf("statuses = %v, want victim failed and later skipped", st)
	}
	log := jobLogText(evs, "victim")
	if !strings.Contains(log, "before the kill") || strings.Contains(log, "\nnever printed") {
		t.Errorf("victim's log:\n%s", log)
	}
}

// TestInterrupt sends SIGINT (Ctrl-C) or SIGTERM to gantry while a job
// waits on a background sleep: gantry must exit 130, report the run
// canceled, run the job's after_script, start nothing more, and leave no
// process of the job behind.
func TestInterrupt(t *testing.T) {
	t.Parallel()
	for _, sig := range []os.Signal{os.Interrupt, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			testInterrupt(t, sig)
		})
	}
}

func testInterrupt(t *testing.T, sig os.Signal) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	r := newRepo(t, map[string]string{".gitlab-ci.yml": `
stages: [build, test]
hang:
  stage: build
  script:
    - sleep 1000 & echo $! > "$PIDFILE"; wait
  after_script: [echo "after_script on cancel"]
queued:
  stage: build
  script: [echo queued-ran]
never:
  stage: test
  script: [echo never-ran]
`})
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	cmd := r.command(ctx, "run", "--concurrency", "1", "--var", "PIDFILE="+pidFile)
	var stdout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := waitForPID(t, pidFile, 30*time.Second)
	if err := cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	out := stdout.String()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 130 {
		t.Fatalf("gantry after %v: %v, want exit code 130\n%s", sig, err, out)
	}
	if !strings.Contains(out, "pipeline canceled") {
		t.Errorf("output does not say the pipeline was canceled:\n%s", out)
	}
	if !hasLine(linesOf(out, "hang"), "after_script on cancel") {
		t.Errorf("after_script did not run for the canceled job:\n%s", out)
	}
	if strings.Contains(out, "queued-ran") || strings.Contains(out, "never-ran") {
		t.Errorf("a job started after the interrupt:\n%s", out)
	}
	for _, job := range []string{"hang", "queued", "never"} {
		if row := summaryRow(out, job); len(row) < 3 || row[2] != "canceled" {
			t.Errorf("summary row of %s = %v, want canceled", job, row)
		}
	}
	// The job's processes are killed before gantry returns; give the
	// kernel a moment to tear the last one down.
	deadline := time.Now().Add(5 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("the job's background sleep (pid %d) outlived gantry", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitForPID waits until the job wrote its background pid.
func waitForPID(t *testing.T, path string, limit time.Duration) int {
	t.Helper()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if data, err := os.ReadFile(path); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil && pid > 0 {
				return pid
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("the job did not write %s within %v", path, limit)
	return 0
}

// alive says whether pid is a running process; a zombie waiting for a
// reaper that never comes (PID 1 of a container may not reap) counts as
// dead.
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name.
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2] != 'Z'
	}
	return true
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
