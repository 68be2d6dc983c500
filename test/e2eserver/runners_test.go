package e2eserver

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/test/gantrytest"
)

// runnerProc is a `gantry runner` process.
type runnerProc struct {
	id  int64
	cmd *exec.Cmd
	out *gantrytest.SyncBuffer
}

// startRunner registers a runner with the server and starts it.
func (s *server) startRunner(name string) *runnerProc {
	s.T.Helper()
	out, err := s.gantry("runner", "create", name, "--json")
	if err != nil {
		s.T.Fatalf("runner create: %v\n%s", err, out)
	}
	var reg struct {
		ID    int64  `json:"id"`
		Token string `json:"token"`
	}
	if err := json.Unmarshal([]byte(out), &reg); err != nil || reg.Token == "" {
		s.T.Fatalf("runner create --json: %v\n%s", err, out)
	}
	rp := &runnerProc{id: reg.ID, out: &gantrytest.SyncBuffer{}}
	rp.cmd = exec.Command(gantryBin, "runner", "--server", s.URL, "--token", reg.Token,
		"--dir", filepath.Join(s.T.TempDir(), name), "--concurrency", "1")
	rp.cmd.Stdout, rp.cmd.Stderr = rp.out, rp.out
	rp.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	rp.cmd.Env = os.Environ()
	if err := rp.cmd.Start(); err != nil {
		s.T.Fatal(err)
	}
	s.T.Cleanup(func() { rp.kill(syscall.SIGTERM) })
	return rp
}

func (rp *runnerProc) kill(sig syscall.Signal) {
	if rp.cmd.ProcessState != nil {
		return
	}
	_ = syscall.Kill(-rp.cmd.Process.Pid, sig)
	done := make(chan struct{})
	go func() { _ = rp.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = syscall.Kill(-rp.cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

func TestRemoteRunnerKilledMidJobIsRetriedOnAnother(t *testing.T) {
	s := startServer(t, "--runners", "-1")
	r := newRepo(t, map[string]string{".gitlab-ci.yml": `
slow:
  script:
    - echo "started on attempt $CI_JOB_ATTEMPT"
    - sleep 4
    - echo finished
`})
	s.addProject("app", r.dir)
	first := s.startRunner("first")
	var created pipelineJSON
	if code := s.api("POST", "/api/v1/projects/app/pipelines", map[string]any{"ref": "main"}, &created); code != 201 {
		t.Fatalf("run pipeline: %d", code)
	}
	s.waitFor(created.ID, 60*time.Second, "slow running on the first runner", func(p *pipelineJSON) bool {
		j := p.job("slow")
		return j != nil && j.Status == "running" && j.RunnerID == first.id && strings.Contains(s.log(j.ID), "started on attempt 1")
	})
	first.kill(syscall.SIGKILL)
	second := s.startRunner("second")

	p := s.waitPipeline(created.ID, 90*time.Second, "success", "failed")
	if p.Status != "success" {
		t.Fatalf("pipeline %s after the runner was lost: %+v", p.Status, p.Jobs)
	}
	if len(p.Jobs) != 2 {
		t.Fatalf("want the lost attempt and its retry, got %+v", p.Jobs)
	}
	lost, retry := p.Jobs[0], p.Jobs[1]
	if !lost.Retried || lost.FailureReason != "runner_system_failure" || !strings.Contains(lost.Reason, "requeued") {
		t.Errorf("lost attempt: %+v", lost)
	}
	if retry.Status != "success" || retry.RunnerID != second.id || retry.Attempt != 2 {
		t.Errorf("retry: %+v (second runner is %d)", retry, second.id)
	}
	if log := s.log(lost.ID); !strings.Contains(log, "started on attempt 1") || !strings.Contains(log, "requeued as job") {
		t.Errorf("the lost attempt's log was not kept:\n%s", log)
	}
	if log := s.log(retry.ID); !strings.Contains(log, "finished") {
		t.Errorf("retry log:\n%s", log)
	}
}

func TestServerKilledMidPipelineFinishesEveryJobAfterRestart(t *testing.T) {
	s := startServer(t, "--runners", "2")
	r := newRepo(t, map[string]string{".gitlab-ci.yml": `
stages: [one, two, three]
first:
  stage: one
  script: echo "first done"
second:
  stage: two
  script:
    - for i in $(seq 1 40); do echo "line $i"; sleep 0.1; done
third:
  stage: three
  script: echo "third done"
`})
	s.addProject("app", r.dir)
	var created pipelineJSON
	s.api("POST", "/api/v1/projects/app/pipelines", map[string]any{"ref": "main"}, &created)
	before := s.waitFor(created.ID, 60*time.Second, "second running with output", func(p *pipelineJSON) bool {
		j := p.job("second")
		return j != nil && j.Status == "running" && j.LogSize > 50
	})
	firstLog := s.log(before.job("first").ID)
	s.Stop(syscall.SIGKILL)
	s.Start()

	p := s.waitPipeline(created.ID, 120*time.Second, "success", "failed", "canceled")
	for _, j := range p.Jobs {
		switch j.Status {
		case "success", "failed", "canceled", "skipped":
		default:
			t.Errorf("job %s left %s after the restart", j.Name, j.Status)
		}
	}
	if got := s.log(before.job("first").ID); got != firstLog || !strings.Contains(got, "first done") {
		t.Errorf("the finished job's log changed or was lost:\nbefore %q\nafter  %q", firstLog, got)
	}
	if p.Status == "success" {
		if log := s.log(p.job("third").ID); !strings.Contains(log, "third done") {
			t.Errorf("third log:\n%s", log)
		}
	}
	if log := s.log(before.job("second").ID); !strings.Contains(log, "line 1\n") {
		t.Errorf("the interrupted attempt's log was lost:\n%s", log)
	}
}
