//go:build linux

package shell

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/internal/executor"
)

func TestScriptExitCodes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		before  []string
		script  []string
		code    int
		want    []string // in the log
		notWant []string // not in the log
	}{
		{name: "success", script: []string{"echo one", "echo two"}, code: 0, want: []string{"$ echo one\none\n$ echo two\ntwo\n"}},
		{name: "exit code", script: []string{"echo before", "exit 3", "echo after"}, code: 3, want: []string{"before"}, notWant: []string{"after\n"}},
		{name: "fail fast", script: []string{"echo a", "false", "echo not-run"}, code: 1, notWant: []string{"not-run\n"}},
		{name: "failing line mid command", script: []string{"false; echo same-line"}, code: 1, notWant: []string{"\nsame-line\n"}},
		{name: "before_script failure stops script", before: []string{"exit 4"}, script: []string{"echo script-ran"}, code: 4, notWant: []string{"script-ran\n"}},
		{name: "before_script state reaches script", before: []string{"export GREETING=hello", "cd /"}, script: []string{`echo "$GREETING from $PWD"`}, code: 0, want: []string{"hello from /\n"}},
		{name: "set +e", script: []string{"set +e", "false", "echo continued"}, code: 0, want: []string{"continued\n"}},
		{name: "or list", script: []string{"false || echo rescued", "echo next"}, code: 0, want: []string{"rescued\n", "next\n"}},
		{name: "if condition", script: []string{"if false; then echo no; fi", "echo next"}, code: 0, want: []string{"next\n"}},
		{name: "pipefail", script: []string{"false | cat", "echo not-run"}, code: 1, notWant: []string{"not-run\n"}},
		{name: "command not found", script: []string{"no-such-command-gantry"}, code: 127},
		{name: "syntax error", script: []string{"echo ok", "fi", "echo not-run"}, code: 2, want: []string{"ok\n"}, notWant: []string{"not-run\n"}},
		{name: "multi-line block", script: []string{"for i in 1 2 3; do\n  echo item$i\ndone\n", "echo after"}, code: 0,
			want: []string{"$ for i in 1 2 3; do # collapsed multi-line command\nitem1\nitem2\nitem3\n$ echo after\n"}},
		{name: "heredoc", script: []string{"cat <<EOF\nline 'one'\n\"two\" $((1+1))\nEOF\n"}, code: 0, want: []string{"line 'one'\n\"two\" 2\n"}},
		{name: "multi-line failure stops block", script: []string{"echo x\nfalse\necho not-run\n"}, code: 1, notWant: []string{"not-run\n"}},
		{name: "quotes and percents echoed verbatim", script: []string{`echo '100%s' "it's" \$HOME`}, code: 0,
			want: []string{`$ echo '100%s' "it's" \$HOME` + "\n100%s it's $HOME\n"}},
		{name: "stdin is empty", script: []string{"cat", "read x || echo eof", "echo still-here"}, code: 0, want: []string{"eof\n$ echo still-here\nstill-here\n"}},
		{name: "user printf function does not break echo", script: []string{"printf() { echo hijacked; }", "echo fine"}, code: 0, want: []string{"$ echo fine\nfine\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, log := runJob(t, t.Context(), Options{}, &executor.Job{BeforeScript: tt.before, Script: tt.script})
			if res.ExitCode != tt.code || res.Signal != "" || res.TimedOut || res.Canceled {
				t.Errorf("result = %+v, want exit code %d\nlog:\n%s", res, tt.code, log)
			}
			for _, w := range tt.want {
				if !strings.Contains(log, w) {
					t.Errorf("log lacks %q\nlog:\n%s", w, log)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(log, w) {
					t.Errorf("log has %q\nlog:\n%s", w, log)
				}
			}
			if res.AfterScriptExitCode != -1 {
				t.Errorf("AfterScriptExitCode = %d without after_script, want -1", res.AfterScriptExitCode)
			}
		})
	}
}

func TestLogFormat(t *testing.T) {
	t.Parallel()
	job := func() *executor.Job {
		return &executor.Job{BeforeScript: []string{"echo b"}, Script: []string{"echo s"}, AfterScript: []string{"echo a"}}
	}
	t.Run("plain", func(t *testing.T) {
		t.Parallel()
		_, log := runJob(t, t.Context(), Options{}, job())
		if want := "$ echo b\nb\n$ echo s\ns\n$ echo a\na\n"; log != want {
			t.Errorf("log = %q, want %q", log, want)
		}
	})
	t.Run("color", func(t *testing.T) {
		t.Parallel()
		_, log := runJob(t, t.Context(), Options{Color: true}, job())
		if want := "\x1b[32;1m$ echo s\x1b[0;m\ns\n"; !strings.Contains(log, want) {
			t.Errorf("log lacks %q\nlog: %q", want, log)
		}
	})
	t.Run("sections", func(t *testing.T) {
		t.Parallel()
		_, log := runJob(t, t.Context(), Options{Sections: true}, job())
		want := []string{
			"section_start:", ":before_script\r\x1b[0KExecuting before_script\n", "$ echo b\nb\n",
			"\x1b[0Ksection_end:", ":before_script\r\x1b[0K\n",
			"\x1b[0Ksection_start:", ":script\r\x1b[0KExecuting script\n", "$ echo s\ns\n",
			"\x1b[0Ksection_end:", ":script\r\x1b[0K\n",
			"\x1b[0Ksection_start:", ":after_script\r\x1b[0KRunning after_script\n", "$ echo a\na\n",
			"\x1b[0Ksection_end:", ":after_script\r\x1b[0K\n",
		}
		assertInOrder(t, log, want)
	})
	t.Run("sections close the failed section", func(t *testing.T) {
		t.Parallel()
		_, log := runJob(t, t.Context(), Options{Sections: true}, &executor.Job{BeforeScript: []string{"exit 1"}, Script: []string{"echo s"}})
		assertInOrder(t, log, []string{"section_start:", ":before_script\r", "section_end:", ":before_script\r\x1b[0K\n"})
		if strings.Contains(log, ":script\r") {
			t.Errorf("script section appears though script never ran: %q", log)
		}
	})
}

func assertInOrder(t *testing.T, log string, parts []string) {
	t.Helper()
	rest := log
	for _, p := range parts {
		i := strings.Index(rest, p)
		if i < 0 {
			t.Fatalf("log lacks %q (in order)\nlog: %q", p, log)
		}
		rest = rest[i+len(p):]
	}
}

func TestAfterScript(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		script   []string
		timeout  time.Duration
		cancel   bool
		code     int
		timedOut bool
	}{
		{name: "after success", script: []string{"true"}, code: 0},
		{name: "after failure", script: []string{"exit 5"}, code: 5},
		{name: "after timeout", script: []string{"touch started", "sleep 1000"}, timeout: 300 * time.Millisecond, code: -1, timedOut: true},
		{name: "after cancel", script: []string{"touch started", "sleep 1000"}, cancel: true, code: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			if tt.cancel {
				go func() {
					waitFile(t, filepath.Join(dir, "started"))
					cancel()
				}()
			}
			res, log := runJob(t, ctx, Options{}, &executor.Job{
				Dir:         dir,
				Env:         []string{"JOB_VAR=from-job"},
				Script:      append([]string{"export SCRIPT_VAR=lost"}, tt.script...),
				AfterScript: []string{`echo "after $JOB_VAR ${SCRIPT_VAR:-unset} $PWD" > after.txt`},
				Timeout:     tt.timeout,
				Grace:       time.Second,
			})
			if res.ExitCode != tt.code || res.TimedOut != tt.timedOut || res.Canceled != tt.cancel {
				t.Errorf("result = %+v, want code %d timedOut %v canceled %v", res, tt.code, tt.timedOut, tt.cancel)
			}
			if res.AfterScriptExitCode != 0 || res.AfterScriptTimedOut {
				t.Errorf("after_script result = %d/%v, want 0/false\nlog:\n%s", res.AfterScriptExitCode, res.AfterScriptTimedOut, log)
			}
			got, err := os.ReadFile(filepath.Join(dir, "after.txt"))
			if err != nil {
				t.Fatalf("after_script did not run: %v\nlog:\n%s", err, log)
			}
			if want := "after from-job unset " + dir + "\n"; string(got) != want {
				t.Errorf("after_script saw %q, want %q", got, want)
			}
		})
	}
}

func TestAfterScriptFailureDoesNotChangeResult(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		after    []string
		timeout  time.Duration
		code     int
		timedOut bool
		warning  string
	}{
		{name: "fails", after: []string{"exit 9", "echo not-run"}, code: 9, warning: "after_script failed with exit code 9"},
		{name: "times out", after: []string{"sleep 1000"}, timeout: 200 * time.Millisecond, code: -1, timedOut: true, warning: "after_script timed out after 200ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, log := runJob(t, t.Context(), Options{}, &executor.Job{
				Script: []string{"echo ok"}, AfterScript: tt.after, AfterScriptTimeout: tt.timeout, Grace: time.Second,
			})
			if res.ExitCode != 0 || res.TimedOut {
				t.Errorf("job result changed by after_script: %+v", res)
			}
			if res.AfterScriptExitCode != tt.code || res.AfterScriptTimedOut != tt.timedOut {
				t.Errorf("after_script = %d/%v, want %d/%v", res.AfterScriptExitCode, res.AfterScriptTimedOut, tt.code, tt.timedOut)
			}
			if strings.Contains(log, "not-run\n") {
				t.Errorf("after_script is not fail-fast:\n%s", log)
			}
			if !strings.Contains(log, "WARNING: "+tt.warning+", but job will continue unaffected\n") {
				t.Errorf("log lacks warning %q:\n%s", tt.warning, log)
			}
		})
	}
}

// TestNoOrphans checks that every process a job starts is gone when Run
// returns, however the job ended and however the process was started.
func TestNoOrphans(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		script   []string
		timeout  time.Duration
		cancel   bool
		timedOut bool
		code     int
	}{
		{name: "timeout kills foreground child", timeout: 300 * time.Millisecond, timedOut: true, code: -1,
			script: []string{`sh -c 'echo $$ > child.pid; exec sleep 1000'`}},
		{name: "timeout kills background child", timeout: 300 * time.Millisecond, timedOut: true, code: -1,
			script: []string{`sleep 1000 & echo $! > child.pid`, "wait"}},
		{name: "timeout kills double-forked child", timeout: 300 * time.Millisecond, timedOut: true, code: -1,
			script: []string{`(sleep 1000 & echo $! > child.pid)`, "sleep 1000"}},
		{name: "cancel kills child", cancel: true, code: -1,
			script: []string{`sleep 1000 & echo $! > child.pid`, "touch started", "wait"}},
		{name: "finished job leaves background child holding output", code: 0,
			script: []string{`sleep 1000 & echo $! > child.pid`, "echo done"}},
		{name: "finished job leaves double-forked child", code: 0,
			script: []string{`(sleep 1000 >/dev/null 2>&1 & echo $! > child.pid)`, "echo done"}},
		{name: "child escaped with setsid but holding output", code: 0,
			script: []string{`setsid sh -c 'echo $$ > child.pid; exec sleep 1000' &`, "while [ ! -s child.pid ]; do sleep 0.01; done"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			if tt.cancel {
				go func() {
					waitFile(t, filepath.Join(dir, "started"))
					cancel()
				}()
			}
			res, log := runJob(t, ctx, Options{DrainTimeout: 5 * time.Second}, &executor.Job{
				Dir: dir, Script: tt.script, Timeout: tt.timeout, Grace: time.Second,
			})
			if res.ExitCode != tt.code || res.TimedOut != tt.timedOut || res.Canceled != tt.cancel {
				t.Errorf("result = %+v, want code %d timedOut %v canceled %v\nlog:\n%s", res, tt.code, tt.timedOut, tt.cancel, log)
			}
			if (tt.timedOut || tt.cancel) && res.Signal != "SIGTERM" {
				t.Errorf("Signal = %q, want SIGTERM", res.Signal)
			}
			if pid := readPID(t, dir, "child.pid"); !processGone(pid) {
				t.Errorf("child %d still runs after Run returned", pid)
				_ = exec.Command("kill", "-9", fmt.Sprint(pid)).Run()
			}
		})
	}
}

func TestTermIgnoredGetsKilledAfterGrace(t *testing.T) {
	t.Parallel()
	res, log := runJob(t, t.Context(), Options{}, &executor.Job{
		Script:  []string{"trap '' TERM", "touch started", "while :; do sleep 0.05; done"},
		Timeout: 200 * time.Millisecond,
		Grace:   200 * time.Millisecond,
	})
	if !res.TimedOut || res.Signal != "SIGKILL" || res.ExitCode != -1 {
		t.Errorf("result = %+v, want timed out with SIGKILL\nlog:\n%s", res, log)
	}
}

func TestGraceLetsTrapRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() {
		waitFile(t, filepath.Join(dir, "started"))
		cancel()
	}()
	// Job.Command builds with exec.CommandContext: if the job's ctx reached
	// it, os/exec would SIGKILL bash at cancel and the trap would not run.
	command := func(ctx context.Context, name string, args ...string) *exec.Cmd {
		return exec.CommandContext(ctx, "/usr/bin/env", append([]string{name}, args...)...)
	}
	res, log := runJob(t, ctx, Options{}, &executor.Job{
		Dir:     dir,
		Script:  []string{"trap 'echo cleaning up; exit 7' TERM", "sleep 1000 & touch started; wait"},
		Grace:   5 * time.Second,
		Command: command,
	})
	if !res.Canceled || res.ExitCode != 7 || !strings.Contains(log, "cleaning up\n") {
		t.Errorf("result = %+v, want canceled with exit code 7 from the trap\nlog:\n%s", res, log)
	}
}

func TestKilledBySignal(t *testing.T) {
	t.Parallel()
	res, log := runJob(t, t.Context(), Options{}, &executor.Job{Script: []string{"echo hi", "kill -9 $$", "echo not-run"}})
	if res.ExitCode != -1 || res.Signal != "SIGKILL" || res.TimedOut || res.Canceled {
		t.Errorf("result = %+v, want signal SIGKILL\nlog:\n%s", res, log)
	}
	if strings.Contains(log, "not-run\n") {
		t.Errorf("script went on after being killed:\n%s", log)
	}
}

func TestCanceledBeforeStart(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	dir := t.TempDir()
	res, _ := runJob(t, ctx, Options{}, &executor.Job{Dir: dir, Script: []string{"touch ran"}, AfterScript: []string{"touch after"}})
	if !res.Canceled || res.ExitCode != -1 || res.AfterScriptExitCode != 0 {
		t.Errorf("result = %+v, want canceled, not run, after_script run", res)
	}
	if _, err := os.Stat(filepath.Join(dir, "ran")); err == nil {
		t.Error("script ran although ctx was already cancelled")
	}
}

func TestOutputInterleaving(t *testing.T) {
	t.Parallel()
	res, log := runJob(t, t.Context(), Options{}, &executor.Job{
		Script: []string{"for i in $(seq 1 500); do echo out$i; echo err$i >&2; done"},
	})
	if res.ExitCode != 0 {
		t.Fatalf("result = %+v", res)
	}
	var want strings.Builder
	for i := 1; i <= 500; i++ {
		fmt.Fprintf(&want, "out%d\nerr%d\n", i, i)
	}
	if got := strings.SplitN(log, "\n", 2)[1]; got != want.String() {
		t.Errorf("stdout and stderr lost their order; log starts %q", log[:min(len(log), 200)])
	}
}

// slowWriter is a log consumer that takes its time.
type slowWriter struct {
	syncBuffer
	delay time.Duration
}

func (w *slowWriter) Write(p []byte) (int, error) {
	time.Sleep(w.delay)
	return w.syncBuffer.Write(p)
}

func TestHugeOutputArrivesComplete(t *testing.T) {
	t.Parallel()
	const lines = 200000
	tests := []struct {
		name  string
		delay time.Duration
		lines int
	}{
		{name: "fast log", lines: lines},
		// Bash exits with a full pipe buffer long before the log catches up.
		{name: "slow log", delay: 2 * time.Millisecond, lines: 20000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			log := &slowWriter{delay: tt.delay}
			res, err := New(Options{DrainTimeout: 50 * time.Millisecond}).Run(t.Context(), &executor.Job{
				Dir: t.TempDir(), Script: []string{fmt.Sprintf("seq 1 %d", tt.lines)},
			}, log)
			if err != nil || res.ExitCode != 0 {
				t.Fatalf("Run = %+v, %v", res, err)
			}
			var want strings.Builder
			fmt.Fprintf(&want, "$ seq 1 %d\n", tt.lines)
			for i := 1; i <= tt.lines; i++ {
				fmt.Fprintf(&want, "%d\n", i)
			}
			if got := log.String(); got != want.String() {
				t.Errorf("log has %d bytes, want %d; ends %q", len(got), want.Len(), got[max(0, len(got)-40):])
			}
		})
	}
}

// failingWriter is a log consumer that breaks after the first write.
type failingWriter struct{ writes int }

func (w *failingWriter) Write(p []byte) (int, error) {
	w.writes++
	if w.writes > 1 {
		return 0, os.ErrClosed
	}
	return len(p), nil
}

func TestLogWriteErrorIsReportedWithoutBlockingJob(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	res, err := New(Options{}).Run(t.Context(), &executor.Job{
		Dir: dir, Script: []string{"echo one", "seq 1 100000", "touch finished"},
	}, &failingWriter{})
	if err == nil {
		t.Error("Run hid the log write error")
	}
	if res.ExitCode != 0 {
		t.Errorf("result = %+v, want the job to have finished", res)
	}
	if _, statErr := os.Stat(filepath.Join(dir, "finished")); statErr != nil {
		t.Error("job blocked on the broken log and never finished")
	}
}

func TestEnvironment(t *testing.T) {
	t.Setenv("GANTRY_CALLER_SECRET", "leaked")
	tests := []struct {
		name string
		env  []string
		want []string
	}{
		{name: "defaults added", env: []string{"A=1"}, want: []string{"A=1", "PATH=/opt/bin:/usr/bin:/bin", "HOME=/home/ci", "SHELL="}},
		{name: "job values kept", env: []string{"PATH=/usr/bin:/bin", "HOME=/tmp", "SHELL=/bin/sh"}, want: []string{"PATH=/usr/bin:/bin", "HOME=/tmp", "SHELL=/bin/sh"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := Options{Path: "/opt/bin:/usr/bin:/bin", Home: "/home/ci"}
			res, log := runJob(t, t.Context(), opts, &executor.Job{Env: tt.env, Script: []string{"env"}})
			if res.ExitCode != 0 {
				t.Fatalf("result = %+v\n%s", res, log)
			}
			if strings.Contains(log, "GANTRY_CALLER_SECRET") {
				t.Error("caller's environment leaked into the job")
			}
			for _, w := range tt.want {
				if !strings.Contains(log, "\n"+w) {
					t.Errorf("env lacks %q:\n%s", w, log)
				}
			}
		})
	}
}

func TestJobCommandIsUsed(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	calls := 0
	command := func(ctx context.Context, name string, args ...string) *exec.Cmd {
		mu.Lock()
		calls++
		mu.Unlock()
		// A wrapper that execs bash in place, as the sandbox helper does.
		cmd := exec.CommandContext(ctx, "/usr/bin/env", append([]string{"-u", "NOPE", name}, args...)...)
		cmd.Dir = "/" // the wrapper's own choice wins; the script still cd's
		return cmd
	}
	dir := t.TempDir()
	res, log := runJob(t, t.Context(), Options{}, &executor.Job{
		Dir: dir, Script: []string{"pwd"}, AfterScript: []string{"pwd"}, Command: command,
	})
	if res.ExitCode != 0 || res.AfterScriptExitCode != 0 {
		t.Fatalf("result = %+v\n%s", res, log)
	}
	if calls != 2 {
		t.Errorf("Job.Command called %d times, want 2 (script, after_script)", calls)
	}
	if strings.Count(log, "\n"+dir+"\n") != 2 {
		t.Errorf("scripts did not run in the job dir:\n%s", log)
	}
}

func TestConcurrentRuns(t *testing.T) {
	t.Parallel()
	e := New(Options{Sections: true})
	var wg sync.WaitGroup
	for i := range 12 {
		wg.Go(func() {
			var log syncBuffer
			res, err := e.Run(t.Context(), &executor.Job{
				Dir:         t.TempDir(),
				Env:         []string{fmt.Sprintf("N=%d", i)},
				Script:      []string{`echo "job $N"`, fmt.Sprintf("exit $((N %% 3))")},
				AfterScript: []string{`echo "after $N"`},
			}, &log)
			if err != nil {
				t.Errorf("job %d: %v", i, err)
				return
			}
			if res.ExitCode != i%3 {
				t.Errorf("job %d: exit code %d, want %d", i, res.ExitCode, i%3)
			}
			if got := log.String(); !strings.Contains(got, fmt.Sprintf("\njob %d\n", i)) || !strings.Contains(got, fmt.Sprintf("\nafter %d\n", i)) {
				t.Errorf("job %d got someone else's log:\n%s", i, got)
			}
		})
	}
	wg.Wait()
}

func TestStartErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts Options
		job  executor.Job
	}{
		{name: "missing bash", opts: Options{Bash: "/nonexistent/bash"}, job: executor.Job{Script: []string{"true"}}},
		{name: "missing dir", job: executor.Job{Dir: "/nonexistent/gantry-dir", Script: []string{"true"}}},
		{name: "nil command", job: executor.Job{Script: []string{"true"}, Command: func(context.Context, string, ...string) *exec.Cmd { return nil }}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := New(tt.opts).Run(t.Context(), &tt.job, nil)
			if err == nil {
				t.Errorf("Run = %+v, want an error", res)
			}
			if res.ExitCode != -1 {
				t.Errorf("ExitCode = %d for a job that never started, want -1", res.ExitCode)
			}
		})
	}
	if _, err := New(Options{}).Run(t.Context(), nil, nil); err == nil {
		t.Error("Run(nil job) gave no error")
	}
}

// TestAfterScriptSeesJobStatus checks CI_JOB_STATUS in after_script, as
// GitLab Runner sets it: success, failed, timedout or canceled.
func TestAfterScriptSeesJobStatus(t *testing.T) {
	cases := []struct {
		name    string
		script  string
		timeout time.Duration
		want    string
	}{
		{"success", "true", 0, "status=success"},
		{"failure", "exit 3", 0, "status=failed"},
		{"timeout", "sleep 30", 200 * time.Millisecond, "status=timedout"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			job := &executor.Job{Name: c.name, Dir: t.TempDir(), Script: []string{c.script},
				AfterScript: []string{`echo "status=$CI_JOB_STATUS"`}, Timeout: c.timeout, Grace: 100 * time.Millisecond}
			_, log := runJob(t, context.Background(), Options{}, job)
			if !strings.Contains(log, "\n"+c.want+"\n") {
				t.Errorf("after_script should print %q:\n%s", c.want, log)
			}
		})
	}
}
