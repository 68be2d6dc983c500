package e2eserver

import (
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// SIGTERM cancels what the built-in runner is running, cleanly: the job
// runs its after_script, and job and pipeline are recorded canceled.
func TestGracefulShutdownRecordsRunningJobsCanceled(t *testing.T) {
	s := startServer(t, "--runners", "1")
	r := newRepo(t, map[string]string{".gitlab-ci.yml": `
long:
  script:
    - echo begin
    - sleep 120
  after_script:
    - echo "after_script saw $CI_JOB_STATUS"
`})
	s.addProject("app", r.dir)
	var created pipelineJSON
	s.api("POST", "/api/v1/projects/app/pipelines", map[string]any{"ref": "main"}, &created)
	s.waitFor(created.ID, 60*time.Second, "long running", func(p *pipelineJSON) bool {
		j := p.job("long")
		return j != nil && j.Status == "running" && strings.Contains(s.log(j.ID), "begin")
	})
	start := time.Now()
	s.Stop(syscall.SIGTERM)
	t.Logf("the server stopped %v after SIGTERM", time.Since(start).Round(time.Millisecond))
	s.Start()
	p := s.pipeline(created.ID)
	if p.Status != "canceled" || p.job("long").Status != "canceled" {
		t.Fatalf("after a graceful shutdown: %s %+v", p.Status, p.Jobs)
	}
	if log := s.log(p.job("long").ID); !strings.Contains(log, "after_script saw canceled") {
		t.Errorf("log of the canceled job:\n%s", log)
	}
}

// A job calls the API with its CI_JOB_TOKEN; once the job has ended the
// token is refused.
func TestJobTokenReachesItsProjectWhileTheJobRuns(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed")
	}
	s := startServer(t, "--runners", "1")
	r := newRepo(t, map[string]string{".gitlab-ci.yml": `
call:
  script:
    - |
      curl -sf -H "JOB-TOKEN: $CI_JOB_TOKEN" "$CI_API_V1_URL/projects/$CI_PROJECT_NAME" > project.json
      grep -o '"name":"app"' project.json
      curl -s -o /dev/null -w "other project: %{http_code}\n" -H "JOB-TOKEN: $CI_JOB_TOKEN" "$CI_API_V1_URL/projects/other"
      echo "$CI_JOB_TOKEN" > token.txt
      echo "server $CI_SERVER_URL job $CI_JOB_URL"
  artifacts:
    paths: [token.txt]
`})
	s.addProject("app", r.dir)
	other := newRepo(t, map[string]string{".gitlab-ci.yml": twoStages})
	s.addProject("other", other.dir)
	var created pipelineJSON
	s.api("POST", "/api/v1/projects/app/pipelines", map[string]any{"ref": "main"}, &created)
	p := s.waitPipeline(created.ID, 60*time.Second, "success", "failed")
	j := p.job("call")
	if j == nil {
		t.Fatalf("pipeline %s: %s", p.Status, p.Error)
	}
	log := s.log(j.ID)
	if p.Status != "success" || !strings.Contains(log, `"name":"app"`) || !strings.Contains(log, "other project: 404") {
		t.Fatalf("pipeline %s, log:\n%s", p.Status, log)
	}
	if strings.Contains(log, "gty_job_") {
		t.Errorf("the job token appears in the log:\n%s", log)
	}
	if want := fmt.Sprintf("job %s/app/-/jobs/%d", s.URL, j.ID); !strings.Contains(log, want) {
		t.Errorf("log lacks %q:\n%s", want, log)
	}
	req, _ := http.NewRequest("GET", fmt.Sprintf("%s/api/v1/jobs/%d/artifacts?file=token.txt", s.URL, j.ID), nil)
	req.Header.Set("Authorization", "Bearer "+s.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var tok strings.Builder
	_, _ = fmt.Fprint(&tok, readAll(resp))
	token := strings.TrimSpace(tok.String())
	if !strings.HasPrefix(token, "gty_job_") {
		t.Fatalf("artifact token.txt holds %q", token)
	}
	if code := s.apiAs(token, "GET", "/api/v1/projects/app", nil, nil); code != http.StatusUnauthorized {
		t.Errorf("the job token of an ended job answered %d, want 401", code)
	}
}

// Artifacts with expire_in are deleted once it has passed; the job and
// its log stay.
func TestExpiredArtifactsAreDeleted(t *testing.T) {
	s := startServer(t, "--runners", "1", "--gc-interval", "1s")
	r := newRepo(t, map[string]string{".gitlab-ci.yml": `
short:
  script: echo short > short.txt
  artifacts:
    paths: [short.txt]
    expire_in: 2 seconds
kept:
  script: echo kept > kept.txt
  artifacts:
    paths: [kept.txt]
`})
	s.addProject("app", r.dir)
	var created pipelineJSON
	s.api("POST", "/api/v1/projects/app/pipelines", map[string]any{"ref": "main"}, &created)
	p := s.waitPipeline(created.ID, 60*time.Second, "success", "failed")
	artifact := func(job string) int {
		return s.api("GET", fmt.Sprintf("/api/v1/jobs/%d/artifacts?file=%s.txt", p.job(job).ID, job), nil, nil)
	}
	deadline := time.Now().Add(30 * time.Second)
	for artifact("short") != http.StatusNotFound && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	if code := artifact("short"); code != http.StatusNotFound {
		t.Fatalf("expired artifacts still answer %d", code)
	}
	if code := artifact("kept"); code != http.StatusOK {
		t.Errorf("artifacts without expire_in answer %d", code)
	}
	if log := s.log(p.job("short").ID); !strings.Contains(log, "short") {
		t.Errorf("the job's log went with its artifacts:\n%s", log)
	}
}
