package runner

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/internal/engine"
	"github.com/gantry-ci/gantry/internal/pipeline"
	"github.com/gantry-ci/gantry/internal/runnerapi"
)

func TestJobRunsAtItsCommit(t *testing.T) {
	s := newTestServer(t)
	p := newProject(t, s)
	startRunner(t, s, t.TempDir(), 1)

	// The first commit is not the branch's tip: the runner must fetch it
	// by hash and run on it, tags included.
	j := s.enqueue(jobSpec(t, s, p.first, "show", `echo "version $(cat version.txt)"`, "git rev-parse HEAD", "git describe --tags"))
	res := s.wait(j)
	log := s.logOf(j)
	if res.Status != StatusSuccess || res.ExitCode != 0 || res.Failure != "" {
		t.Fatalf("result = %+v, want success; log:\n%s", res, log)
	}
	for _, want := range []string{"Running with gantry runner test-runner", "Fetching " + p.first, "version one\n", p.first + "\n", "v1\n", "Job succeeded"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if !regexp.MustCompile(`\x1b\[0Ksection_start:\d+:get_sources\r\x1b\[0K`).MatchString(log) || !strings.Contains(log, "section_end:") {
		t.Errorf("log lacks GitLab's section markers:\n%q", log)
	}

	// A later job of the same pipeline reuses the checkout.
	j2 := s.enqueue(jobSpec(t, s, p.first, "again", "cat version.txt"))
	if res := s.wait(j2); res.Status != StatusSuccess {
		t.Fatalf("second job: %+v\n%s", res, s.logOf(j2))
	}
	if log := s.logOf(j2); !strings.Contains(log, "Reusing the checkout") || !strings.Contains(log, "one\n") {
		t.Errorf("second job did not reuse the pipeline's checkout:\n%s", log)
	}
}

func TestJobFromLocalPathAndTip(t *testing.T) {
	s := newTestServer(t)
	p := newProject(t, s)
	startRunner(t, s, t.TempDir(), 1)
	spec := jobSpec(t, s, p.second, "local", "cat version.txt")
	spec.RepoURL = p.bare // the built-in runner reads the server's mirror directly
	j := s.enqueue(spec)
	if res := s.wait(j); res.Status != StatusSuccess {
		t.Fatalf("result = %+v\n%s", res, s.logOf(j))
	}
	if log := s.logOf(j); !strings.Contains(log, "two\n") {
		t.Errorf("job did not run at the tip:\n%s", log)
	}
}

func TestFailingScriptReportsExitCode(t *testing.T) {
	s := newTestServer(t)
	p := newProject(t, s)
	startRunner(t, s, t.TempDir(), 1)
	j := s.enqueue(jobSpec(t, s, p.second, "fail", "echo before", "exit 3", "echo never"))
	res := s.wait(j)
	log := s.logOf(j)
	if res.Status != StatusFailed || res.ExitCode != 3 || res.Failure != engine.FailureScript {
		t.Fatalf("result = %+v, want failed with exit code 3; log:\n%s", res, log)
	}
	if strings.Contains(log, "never") || !strings.Contains(log, "ERROR: Job failed: exit code 3") {
		t.Errorf("log:\n%s", log)
	}
}

func TestSourceFetchFailureIsSystemFailure(t *testing.T) {
	s := newTestServer(t)
	p := newProject(t, s)
	startRunner(t, s, t.TempDir(), 1)
	spec := jobSpec(t, s, p.second, "nofetch", "echo ran")
	spec.RepoURL = s.URL + "/git/missing.git"
	j := s.enqueue(spec)
	res := s.wait(j)
	if res.Status != StatusFailed || res.Failure != engine.FailureRunnerSystem || res.Error == "" {
		t.Fatalf("result = %+v, want a runner system failure", res)
	}
	log := s.logOf(j)
	if !strings.Contains(log, "ERROR: Job failed (system failure): fetch "+p.second) || strings.Contains(log, "ran\n") {
		t.Errorf("log:\n%s", log)
	}
}

func TestSecretsNeverReachTheServer(t *testing.T) {
	s := newTestServer(t)
	p := newProject(t, s)
	startRunner(t, s, t.TempDir(), 1)
	spec := jobSpec(t, s, p.second, "leak",
		`echo "plain: $MY_SECRET"`,
		// One byte per write: the masker must catch a secret split
		// across writes.
		`for ((i=0; i<${#MY_SECRET}; i++)); do printf '%s' "${MY_SECRET:i:1}"; done; echo`,
		`echo "server secret: $OTHER"`,
		`echo "token: $CI_JOB_TOKEN"`)
	spec.Env = append(spec.Env,
		pipeline.Variable{Name: "MY_SECRET", Value: "hunter2-correct-horse", Secret: true},
		pipeline.Variable{Name: "OTHER", Value: "from-the-server-vault"})
	spec.Secrets = []string{"from-the-server-vault"}
	j := s.enqueue(spec)
	if res := s.wait(j); res.Status != StatusSuccess {
		t.Fatalf("result = %+v\n%s", res, s.logOf(j))
	}
	log := s.logOf(j)
	for _, secret := range []string{"hunter2-correct-horse", "from-the-server-vault", spec.Token} {
		if strings.Contains(log, secret) {
			t.Errorf("log shows secret %q:\n%s", secret, log)
		}
	}
	if n := strings.Count(log, "[MASKED]"); n < 4 {
		t.Errorf("want at least 4 masked values, got %d:\n%s", n, log)
	}
}

// lineNumbers returns the numbers of the "line N" lines of log, in order.
func lineNumbers(log string) []int {
	var out []int
	for l := range strings.SplitSeq(log, "\n") {
		if n, ok := strings.CutPrefix(l, "line "); ok {
			v, err := strconv.Atoi(n)
			if err != nil {
				v = -1
			}
			out = append(out, v)
		}
	}
	return out
}

func TestLogArrivesWholeAndInOrder(t *testing.T) {
	s := newTestServer(t)
	p := newProject(t, s)
	// The server loses what it held once (416 with a smaller size), and
	// once stores a chunk but fails to answer (the runner retries the same
	// offset and learns with a 416 that it was stored).
	var lost, unanswered bool
	s.logHook = func(j *testJob, offset int64, body []byte, w http.ResponseWriter) bool {
		switch {
		case !lost && offset > 4000 && offset == int64(len(j.log)):
			lost = true
			j.log = j.log[:1000]
			answer(w, http.StatusRequestedRangeNotSatisfiable, runnerapi.LogAck{Size: 1000})
			return true
		case lost && !unanswered && offset > 20000 && offset == int64(len(j.log)):
			unanswered = true
			j.log = append(j.log, body...)
			fail(w, http.StatusBadGateway, "proxy hiccup")
			return true
		}
		return false
	}
	startRunner(t, s, t.TempDir(), 1)
	const lines = 5000
	j := s.enqueue(jobSpec(t, s, p.second, "chatty",
		fmt.Sprintf(`for i in $(seq 1 %d); do echo "line $i"; if (( i %% 1000 == 0 )); then sleep 0.3; fi; done`, lines)))
	if res := s.wait(j); res.Status != StatusSuccess {
		t.Fatalf("result = %+v\n%s", res, s.logOf(j))
	}
	got := lineNumbers(s.logOf(j))
	if len(got) != lines {
		t.Fatalf("got %d lines, want %d", len(got), lines)
	}
	for i, n := range got {
		if n != i+1 {
			t.Fatalf("line %d of the log is %d", i+1, n)
		}
	}
	if !lost || !unanswered {
		t.Errorf("the log never hit the forced 416 (%v) or the unanswered append (%v)", lost, unanswered)
	}
	if !strings.HasSuffix(s.logOf(j), "Job succeeded\n") {
		t.Errorf("log does not end with the closing line:\n%s", s.logOf(j))
	}
}

func TestArtifactsReachDependentJob(t *testing.T) {
	s := newTestServer(t)
	p := newProject(t, s)
	stop := startRunner(t, s, t.TempDir(), 1)
	build := jobSpec(t, s, p.second, "build", "mkdir -p out", "echo built-by-$CI_JOB_ID > out/a.txt")
	build.Job.Def.Artifacts = &pipeline.Artifacts{Paths: []string{"out/"}, ExpireIn: "1 day"}
	bj := s.enqueue(build)
	res := s.wait(bj)
	if res.Status != StatusSuccess {
		t.Fatalf("build: %+v\n%s", res, s.logOf(bj))
	}
	for _, f := range artifactFiles {
		if _, err := os.Stat(s.artifactPath(build.ID, f)); err != nil {
			t.Errorf("server lacks artifact file %s: %v", f, err)
		}
	}
	info, err := os.Stat(s.artifactPath(build.ID, archiveFile))
	if err != nil || res.ArtifactsSize != info.Size() {
		t.Errorf("ArtifactsSize = %d, archive on the server: %v %v", res.ArtifactsSize, info, err)
	}
	if d := time.Until(res.ArtifactsExpireAt); d < 23*time.Hour || d > 25*time.Hour {
		t.Errorf("ArtifactsExpireAt = %v, want a day from now", res.ArtifactsExpireAt)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	s.waitNoPolls()

	// Another runner has never seen the build job: it downloads.
	startRunner(t, s, t.TempDir(), 1)
	test := jobSpec(t, s, p.second, "test", "cat out/a.txt")
	test.Dependencies = []runnerapi.Dependency{{Name: "build", JobID: build.ID}}
	tj := s.enqueue(test)
	if res := s.wait(tj); res.Status != StatusSuccess {
		t.Fatalf("test: %+v\n%s", res, s.logOf(tj))
	}
	if log := s.logOf(tj); !strings.Contains(log, fmt.Sprintf("built-by-%d\n", build.ID)) {
		t.Errorf("dependent job did not get the artifacts:\n%s", log)
	}
}

func TestCachesFollowTheProjectAcrossRunners(t *testing.T) {
	s := newTestServer(t)
	p := newProject(t, s)
	caches := []pipeline.Cache{{Key: "deps", Paths: []string{"vendor/"}}}
	stop := startRunner(t, s, t.TempDir(), 1)
	fill := jobSpec(t, s, p.second, "fill", "test ! -e vendor/x", "mkdir -p vendor", "echo cached-by-$CI_JOB_ID > vendor/x")
	fill.Job.Def.Cache = caches
	fj := s.enqueue(fill)
	if res := s.wait(fj); res.Status != StatusSuccess {
		t.Fatalf("fill: %+v\n%s", res, s.logOf(fj))
	}
	if _, err := os.Stat(s.cachePath(1, "deps")); err != nil {
		t.Fatalf("cache not uploaded: %v\n%s", err, s.logOf(fj))
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	s.waitNoPolls()

	dir := t.TempDir()
	startRunner(t, s, dir, 1)
	for i := range 2 {
		use := jobSpec(t, s, p.second, "use", "cat vendor/x")
		use.PipelineID = int64(2 + i)
		use.Job.Def.Cache = caches
		uj := s.enqueue(use)
		if res := s.wait(uj); res.Status != StatusSuccess {
			t.Fatalf("use: %+v\n%s", res, s.logOf(uj))
		}
		log := s.logOf(uj)
		if !strings.Contains(log, fmt.Sprintf("cached-by-%d\n", fill.ID)) {
			t.Errorf("second runner did not restore the cache:\n%s", log)
		}
		// The first use downloads; the second finds its copy current.
		if downloaded := strings.Contains(log, "Downloaded cache deps"); downloaded != (i == 0) {
			t.Errorf("use %d: downloaded = %v:\n%s", i, downloaded, log)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "cache", "1", "deps", "cache.tar.zst")); err != nil {
		t.Errorf("no local copy of the cache: %v", err)
	}
}

func TestCancelFromLeaseStopsJob(t *testing.T) {
	s := newTestServer(t)
	p := newProject(t, s)
	startRunner(t, s, t.TempDir(), 1)
	spec := jobSpec(t, s, p.second, "sleepy", "echo started", "sleep 120", "echo woke")
	spec.Job.Def.AfterScript = []string{"echo after-script-ran"}
	j := s.enqueue(spec)
	s.waitLog(j, "started")
	s.cancelJob(j)
	start := time.Now()
	res := s.wait(j)
	log := s.logOf(j)
	if res.Status != StatusCanceled {
		t.Fatalf("result = %+v, want canceled:\n%s", res, log)
	}
	// Far below the sleep, whatever the machine's load.
	if d := time.Since(start); d > 60*time.Second {
		t.Errorf("cancel took %v", d)
	}
	if strings.Contains(log, "woke") || !strings.Contains(log, "after-script-ran") || !strings.Contains(log, "ERROR: Job failed: canceled") {
		t.Errorf("log:\n%s", log)
	}
}

func TestTimeout(t *testing.T) {
	s := newTestServer(t)
	p := newProject(t, s)
	startRunner(t, s, t.TempDir(), 1)
	spec := jobSpec(t, s, p.second, "slow", "sleep 120")
	spec.Timeout = 2 * time.Second
	j := s.enqueue(spec)
	res := s.wait(j)
	if res.Status != StatusFailed || res.Failure != engine.FailureTimeout {
		t.Fatalf("result = %+v, want a timeout:\n%s", res, s.logOf(j))
	}
	if log := s.logOf(j); !strings.Contains(log, "execution took longer than 2s") {
		t.Errorf("log:\n%s", log)
	}
}

func TestConcurrentJobs(t *testing.T) {
	s := newTestServer(t)
	p := newProject(t, s)
	startRunner(t, s, t.TempDir(), 2)
	// Each job waits for the other to have started: they can only both
	// succeed if they run at the same time.
	meet := t.TempDir()
	rendezvous := func(mine, theirs string) string {
		return fmt.Sprintf(`touch %s/%s; for i in $(seq 1 1200); do [ -e %s/%s ] && exit 0; sleep 0.05; done; exit 1`, meet, mine, meet, theirs)
	}
	a := s.enqueue(jobSpec(t, s, p.second, "a", rendezvous("a", "b")))
	b := s.enqueue(jobSpec(t, s, p.second, "b", rendezvous("b", "a")))
	for _, j := range []*testJob{a, b} {
		if res := s.wait(j); res.Status != StatusSuccess {
			t.Errorf("job %s: %+v\n%s", j.spec.Job.Name, res, s.logOf(j))
		}
	}
}

func TestStoppingRunnerCancelsRunningJobs(t *testing.T) {
	s := newTestServer(t)
	p := newProject(t, s)
	stop := startRunner(t, s, t.TempDir(), 2)
	var jobs []*testJob
	for _, name := range []string{"x", "y"} {
		spec := jobSpec(t, s, p.second, name, "echo started", "sleep 120")
		spec.Job.Def.AfterScript = []string{"echo cleaned-up"}
		jobs = append(jobs, s.enqueue(spec))
	}
	for _, j := range jobs {
		s.waitLog(j, "started")
	}
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	// Run has returned: every result must be on the server already.
	for _, j := range jobs {
		select {
		case <-j.done:
		default:
			t.Fatalf("job %d not reported when Run returned", j.spec.ID)
		}
		res := s.wait(j)
		if res.Status != StatusCanceled {
			t.Errorf("result = %+v, want canceled", res)
		}
		if log := s.logOf(j); !strings.Contains(log, "cleaned-up") {
			t.Errorf("after_script did not run:\n%s", log)
		}
	}
}

func TestLeaseLostStopsJob(t *testing.T) {
	s := newTestServer(t)
	p := newProject(t, s)
	startRunner(t, s, t.TempDir(), 1)
	j := s.enqueue(jobSpec(t, s, p.second, "orphan", "echo started", "sleep 600"))
	s.waitLog(j, "started")
	// The server gives the job up: renewals, log appends and the finish
	// now get 409. The runner must stop the job and report (in vain).
	s.mu.Lock()
	j.result = &runnerapi.Result{Status: StatusFailed, Failure: engine.FailureStuck}
	s.mu.Unlock()
	deadline := time.Now().Add(2 * time.Minute)
	for s.finishes(j) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("job kept running after its lease was lost")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestMalformedSpecFailsCleanly(t *testing.T) {
	s := newTestServer(t)
	p := newProject(t, s)
	startRunner(t, s, t.TempDir(), 1)
	spec := jobSpec(t, s, p.second, "bad", "echo ran")
	spec.SHA = "--upload-pack=touch /tmp/pwned"
	j := s.enqueue(spec)
	res := s.wait(j)
	if res.Status != StatusFailed || res.Failure != engine.FailureRunnerSystem {
		t.Fatalf("result = %+v", res)
	}
	spec2 := jobSpec(t, s, p.second, "nodef")
	spec2.Job.Def = nil
	j2 := s.enqueue(spec2)
	if res := s.wait(j2); res.Status != StatusFailed || res.Failure != engine.FailureRunnerSystem {
		t.Fatalf("result = %+v", res)
	}
}
