package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// gantryBin is the binary built once by TestMain.
var gantryBin string

// runTimeout bounds every gantry invocation so a hang fails one test
// instead of the whole package.
const runTimeout = 90 * time.Second

func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	dir, err := os.MkdirTemp("", "gantry-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: create temp dir:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	gantryBin = filepath.Join(dir, "gantry")
	// Tests run in their package folder; the module root is two levels up.
	build := exec.Command("go", "build", "-o", gantryBin, "./cmd/gantry")
	build.Dir = filepath.Join("..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: build gantry: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// repo is a git repository made for one test, with a private home and
// cache folder so that runs never share caches with other tests.
type repo struct {
	t     *testing.T
	dir   string
	home  string
	extra []string // more environment for gantry, KEY=VALUE
}

// newRepo makes a git repository on branch main holding files (path →
// content), all committed.
func newRepo(t *testing.T, files map[string]string) *repo {
	t.Helper()
	base := t.TempDir()
	r := &repo{t: t, dir: filepath.Join(base, "project"), home: filepath.Join(base, "home")}
	for _, d := range []string{r.dir, r.home} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	r.git("init", "-q", "-b", "main")
	r.git("config", "user.email", "e2e@example.com")
	r.git("config", "user.name", "e2e")
	r.git("config", "commit.gpgsign", "false")
	for name, content := range files {
		r.write(name, content)
	}
	r.git("add", "-A")
	r.git("commit", "-q", "-m", "initial")
	return r
}

// sharedHome makes r use other's home and cache folders.
func (r *repo) sharedHome(other *repo) { r.home = other.home }

func (r *repo) env() []string {
	env := []string{
		"HOME=" + r.home,
		"XDG_CACHE_HOME=" + filepath.Join(r.home, ".cache"),
		"PATH=" + os.Getenv("PATH"),
		"LANG=C",
		"GIT_CONFIG_NOSYSTEM=1",
	}
	return append(env, r.extra...)
}

func (r *repo) git(args ...string) string {
	r.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = r.dir
	cmd.Env = append(r.env(), "GIT_AUTHOR_DATE=2024-01-01T00:00:00Z", "GIT_COMMITTER_DATE=2024-01-01T00:00:00Z")
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (r *repo) path(name string) string { return filepath.Join(r.dir, filepath.FromSlash(name)) }

func (r *repo) write(name, content string) {
	r.t.Helper()
	p := r.path(name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		r.t.Fatal(err)
	}
}

func (r *repo) read(name string) string {
	r.t.Helper()
	data, err := os.ReadFile(r.path(name))
	if err != nil {
		r.t.Fatal(err)
	}
	return string(data)
}

// result is what one gantry invocation showed.
type result struct {
	code     int // -1: gantry could not be started
	stdout   string
	stderr   string
	timedOut bool // killed after runTimeout
}

// command builds a gantry process in the repository.
func (r *repo) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, gantryBin, args...)
	cmd.Dir = r.dir
	cmd.Env = r.env()
	return cmd
}

// run runs gantry with args and returns what it printed and its exit code.
func (r *repo) run(args ...string) result {
	r.t.Helper()
	res := r.runQuiet(args...)
	switch {
	case res.timedOut:
		r.t.Fatalf("gantry %s did not finish within %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), runTimeout, res.stdout, res.stderr)
	case res.code < 0:
		r.t.Fatalf("gantry %s: %s", strings.Join(args, " "), res.stderr)
	}
	return res
}

// runQuiet is run for goroutines other than the test's: it reports
// problems in the result instead of stopping the test.
func (r *repo) runQuiet(args ...string) result {
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	cmd := r.command(ctx, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := result{stdout: stdout.String(), stderr: stderr.String(), timedOut: ctx.Err() != nil}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		res.code = exit.ExitCode()
	default:
		res.code, res.stderr = -1, res.stderr+err.Error()
	}
	return res
}

// mustRun runs gantry and fails the test unless it exits with want.
func (r *repo) mustRun(want int, args ...string) result {
	r.t.Helper()
	res := r.run(args...)
	if res.code != want {
		r.t.Fatalf("gantry %s: exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), res.code, want, res.stdout, res.stderr)
	}
	return res
}

// runDir is .gantry/runs/<n> of the n-th run.
func (r *repo) runDir(n int) string {
	return filepath.Join(r.dir, ".gantry", "runs", fmt.Sprint(n))
}

// logName is the file name of job's log: the job's name with "/" (and
// "%") percent-encoded.
func logName(job string) string {
	return strings.NewReplacer("%", "%25", "/", "%2F").Replace(job) + ".log"
}

// jobLog reads the log file of job in run n.
func (r *repo) jobLog(n int, job string) string {
	r.t.Helper()
	data, err := os.ReadFile(filepath.Join(r.runDir(n), "logs", logName(job)))
	if err != nil {
		r.t.Fatalf("log of %s in run %d: %v", job, n, err)
	}
	return string(data)
}

// event is one line of `gantry run --json`, with the fields the tests read.
type event struct {
	Type           string   `json:"type"`
	Job            string   `json:"job"`
	Status         string   `json:"status"`
	Attempt        int      `json:"attempt"`
	ExitCode       int      `json:"exit_code"`
	Failure        string   `json:"failure_reason"`
	Reason         string   `json:"reason"`
	AllowedFailure bool     `json:"allowed_failure"`
	WillRetry      bool     `json:"will_retry"`
	Chunk          string   `json:"chunk"`
	Coverage       *float64 `json:"coverage"`
}

// events parses --json output; every line must be one JSON object.
func events(t *testing.T, stdout string) []event {
	t.Helper()
	var out []event
	sc := bufio.NewScanner(strings.NewReader(stdout))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("--json printed a line that is not JSON: %q: %v", sc.Text(), err)
		}
		out = append(out, e)
	}
	if len(out) == 0 {
		t.Fatal("--json printed no events")
	}
	return out
}

// finals maps each job to its last job_finished event (the one without
// will_retry).
func finals(evs []event) map[string]event {
	out := map[string]event{}
	for _, e := range evs {
		if e.Type == "job_finished" && !e.WillRetry {
			out[e.Job] = e
		}
	}
	return out
}

// jobLogText joins the job_log chunks of job.
func jobLogText(evs []event, job string) string {
	var b strings.Builder
	for _, e := range evs {
		if e.Type == "job_log" && e.Job == job {
			b.WriteString(e.Chunk)
		}
	}
	return b.String()
}

// linesOf returns the stdout lines printed for job, without the prefix
// "[job] " (the name padded with spaces to the longest job name).
func linesOf(stdout, job string) []string {
	var out []string
	for _, line := range strings.Split(stdout, "\n") {
		rest, ok := strings.CutPrefix(line, "["+job)
		if !ok {
			continue
		}
		rest = strings.TrimLeft(rest, " ")
		if text, ok := strings.CutPrefix(rest, "] "); ok {
			out = append(out, text)
		}
	}
	return out
}

func hasLine(lines []string, want string) bool {
	for _, l := range lines {
		if l == want {
			return true
		}
	}
	return false
}

// statusOf maps each job to its final status.
func statusOf(evs []event) map[string]string {
	out := map[string]string{}
	for name, e := range finals(evs) {
		out[name] = e.Status
	}
	return out
}
