package e2eserver

import (
	"bufio"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestManualJobPlayedFromTheCLI(t *testing.T) {
	s := startServer(t, "--runners", "2")
	r := newRepo(t, map[string]string{".gitlab-ci.yml": `
stages: [build, deploy]
build:
  stage: build
  script: echo built
deploy:
  stage: deploy
  when: manual
  script: echo "deployed by $GITLAB_USER_LOGIN"
`})
	s.addProject("app", r.dir)
	out, err := s.gantry("pipeline", "run", "app", "--ref", "main", "--json")
	if err != nil {
		t.Fatalf("pipeline run: %v\n%s", err, out)
	}
	list := s.listPipelines("app")
	if len(list) != 1 || list[0].Source != "api" {
		t.Fatalf("pipelines: %+v", list)
	}
	// A manual job may fail by default (GitLab), so the pipeline passes
	// with deploy waiting to be played.
	p := s.waitPipeline(list[0].ID, 60*time.Second, "success", "failed")
	if p.job("deploy").Status != "manual" {
		t.Fatalf("want deploy waiting to be played, got %s %+v", p.Status, p.Jobs)
	}
	if out, err := s.gantry("job", "play", fmt.Sprint(p.job("deploy").ID)); err != nil {
		t.Fatalf("job play: %v\n%s", err, out)
	}
	p = s.waitFor(p.ID, 60*time.Second, "deploy to end", func(p *pipelineJSON) bool {
		st := p.job("deploy").Status
		return st == "success" || st == "failed"
	})
	if p.Status != "success" || p.job("deploy").Status != "success" {
		t.Fatalf("after play: %s %+v", p.Status, p.Jobs)
	}
	if out, _ := s.gantry("pipeline", "list", "app", "--json"); !strings.Contains(out, `"status": "success"`) {
		t.Errorf("pipeline list --json:\n%s", out)
	}
}

func TestRetryFailedJobAndCancelRunningOne(t *testing.T) {
	s := startServer(t, "--runners", "2")
	r := newRepo(t, map[string]string{".gitlab-ci.yml": `
flaky:
  script:
    - if [ "$CI_JOB_ATTEMPT" = 1 ]; then echo "failing first"; exit 3; fi
    - echo "passing on retry"
`})
	s.addProject("app", r.dir)
	var created pipelineJSON
	s.api("POST", "/api/v1/projects/app/pipelines", map[string]any{"ref": "main"}, &created)
	p := s.waitPipeline(created.ID, 60*time.Second, "failed", "success")
	if p.Status != "failed" || p.job("flaky").FailureReason != "script_failure" {
		t.Fatalf("first run: %s %+v", p.Status, p.Jobs)
	}
	var retried jobJSON
	if code := s.api("POST", fmt.Sprintf("/api/v1/jobs/%d/retry", p.job("flaky").ID), nil, &retried); code != 200 {
		t.Fatalf("retry answered %d", code)
	}
	p = s.waitPipeline(created.ID, 60*time.Second, "success", "failed")
	if p.Status != "success" || len(p.Jobs) != 2 || !p.Jobs[0].Retried {
		t.Fatalf("after retry: %s %+v", p.Status, p.Jobs)
	}
	if log := s.log(p.job("flaky").ID); !strings.Contains(log, "passing on retry") {
		t.Errorf("retry log:\n%s", log)
	}

	r.commit("slow", map[string]string{".gitlab-ci.yml": "slow:\n  script: [\"echo begin\", \"sleep 60\"]\nafter:\n  needs: [slow]\n  script: echo never\n"})
	s.api("POST", "/api/v1/projects/app/pipelines", map[string]any{"ref": "main"}, &created)
	s.waitFor(created.ID, 60*time.Second, "slow running", func(p *pipelineJSON) bool {
		j := p.job("slow")
		return j != nil && j.Status == "running" && j.LogSize > 0
	})
	start := time.Now()
	if out, err := s.gantry("pipeline", "cancel", fmt.Sprint(created.ID)); err != nil {
		t.Fatalf("cancel: %v\n%s", err, out)
	}
	p = s.waitFor(created.ID, 30*time.Second, "slow canceled", func(p *pipelineJSON) bool {
		return p.job("slow").Status == "canceled"
	})
	if p.Status != "canceled" || p.job("after").Status == "success" {
		t.Fatalf("after cancel: %s %+v", p.Status, p.Jobs)
	}
	t.Logf("the running job stopped %v after cancel", time.Since(start).Round(time.Millisecond))
}

func TestMaskedVariableStaysMaskedAndSecretsAreNotShownAgain(t *testing.T) {
	s := startServer(t, "--runners", "1")
	r := newRepo(t, map[string]string{".gitlab-ci.yml": "show:\n  script:\n    - echo \"token is $DEPLOY_TOKEN\"\n    - echo \"plain is $REGION\"\n"})
	s.addProject("app", r.dir)
	const secret = "s3cr3t-Value-42"
	if out, err := s.gantry("project", "var-set", "app", "DEPLOY_TOKEN", secret, "--masked"); err != nil {
		t.Fatalf("var-set: %v\n%s", err, out)
	}
	if out, err := s.gantry("project", "var-set", "app", "REGION", "eu-west"); err != nil {
		t.Fatalf("var-set: %v\n%s", err, out)
	}
	var vars []map[string]any
	s.api("GET", "/api/v1/projects/app/variables", nil, &vars)
	for _, v := range vars {
		if v["key"] == "DEPLOY_TOKEN" && v["value"] != nil {
			t.Errorf("a masked value was shown again: %v", v)
		}
	}
	var created pipelineJSON
	s.api("POST", "/api/v1/projects/app/pipelines", map[string]any{"ref": "main"}, &created)
	p := s.waitPipeline(created.ID, 60*time.Second, "success", "failed")
	log := s.log(p.job("show").ID)
	if strings.Contains(log, secret) || !strings.Contains(log, "token is [MASKED]") || !strings.Contains(log, "plain is eu-west") {
		t.Fatalf("log:\n%s", log)
	}
	if grepData(t, s.Data, secret) {
		t.Errorf("the secret is stored in plain text under %s", s.Data)
	}
}

func TestUnauthenticatedWritesAreRefused(t *testing.T) {
	s := startServer(t, "--runners", "-1")
	r := newRepo(t, map[string]string{".gitlab-ci.yml": twoStages})
	s.addProject("app", r.dir)
	for _, c := range []struct{ method, path string }{
		{"POST", "/api/v1/projects"},
		{"POST", "/api/v1/projects/app/pipelines"},
		{"PUT", "/api/v1/projects/app/variables/X"},
		{"POST", "/api/v1/runners"},
		{"POST", "/api/v1/runner/jobs/request"},
	} {
		if code := s.apiAs("", c.method, c.path, map[string]any{}, nil); code != http.StatusUnauthorized {
			t.Errorf("%s %s without a token answered %d, want 401", c.method, c.path, code)
		}
		if code := s.apiAs("gty_user_wrong", c.method, c.path, map[string]any{}, nil); code != http.StatusUnauthorized {
			t.Errorf("%s %s with a wrong token answered %d, want 401", c.method, c.path, code)
		}
	}
	var e map[string]string
	if code := s.apiAs("", "GET", "/api/v1/projects/app/pipelines", nil, &e); code != http.StatusUnauthorized || e["error"] == "" {
		t.Errorf("reading a private project without a token: %d %v", code, e)
	}
	big := map[string]string{"name": strings.Repeat("x", 2<<20)}
	if code := s.api("POST", "/api/v1/projects", big, &e); code != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized body answered %d %v", code, e)
	}
}

func TestEventStreamResumesFromLastEventID(t *testing.T) {
	s := startServer(t, "--runners", "1")
	r := newRepo(t, map[string]string{".gitlab-ci.yml": twoStages})
	s.addProject("app", r.dir)
	var created pipelineJSON
	s.api("POST", "/api/v1/projects/app/pipelines", map[string]any{"ref": "main"}, &created)
	s.waitPipeline(created.ID, 60*time.Second, "success")

	all := readEvents(t, s, "")
	if len(all) < 6 {
		t.Fatalf("only %d events: %v", len(all), all)
	}
	last := all[len(all)-1]
	if !strings.Contains(last.data, `"status":"success"`) {
		t.Errorf("last event is not the pipeline's success: %+v", last)
	}
	mid := all[len(all)/2]
	rest := readEvents(t, s, mid.id)
	if len(rest) != len(all)-len(all)/2-1 || rest[0].id != all[len(all)/2+1].id {
		t.Fatalf("resuming after %s gave %d events starting %v, want the %d after it", mid.id, len(rest), rest[0].id, len(all)-len(all)/2-1)
	}
}

type sseEvent struct{ id, event, data string }

// readEvents reads the project's event stream until it goes quiet.
func readEvents(t *testing.T, s *server, lastID string) []sseEvent {
	t.Helper()
	req, _ := http.NewRequest("GET", s.URL+"/api/v1/events?project=app", nil)
	req.Header.Set("Authorization", "Bearer "+s.Token)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	client := &http.Client{Timeout: 3 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out []sseEvent
	var cur sseEvent
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "id: "):
			cur.id = line[4:]
		case strings.HasPrefix(line, "event: "):
			cur.event = line[7:]
		case strings.HasPrefix(line, "data: "):
			cur.data = line[6:]
		case line == "" && cur.id != "":
			out = append(out, cur)
			cur = sseEvent{}
		}
	}
	return out
}
