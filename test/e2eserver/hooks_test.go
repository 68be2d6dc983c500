package e2eserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/internal/forge"
)

const zeroSHA = "0000000000000000000000000000000000000000"

// deliver posts a webhook body with headers and returns the status.
func (s *server) deliver(project string, kind forge.Kind, h http.Header, body []byte) int {
	s.T.Helper()
	req, _ := http.NewRequest("POST", s.URL+"/hooks/"+project+"/"+string(kind), bytes.NewReader(body))
	req.Header = h.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.T.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func gitlabPush(ref, before, after, msg string) []byte {
	body, _ := json.Marshal(map[string]any{
		"object_kind": "push", "event_name": "push", "ref": ref, "before": before, "after": after,
		"checkout_sha": after, "user_username": "dev",
		"commits": []map[string]any{{"id": after, "message": msg}},
		"project": map[string]any{"git_http_url": "http://example.com/p.git"},
	})
	return body
}

func gitlabHeaders(body []byte, secret string) http.Header {
	h := forge.Sign(forge.KindGitLab, body, secret)
	h.Set("X-Gitlab-Event", "Push Hook")
	return h
}

const twoStages = `
stages: [build, test]
build:
  stage: build
  script:
    - echo "building $CI_COMMIT_SHORT_SHA from $CI_PIPELINE_SOURCE"
    - mkdir -p out && echo built > out/app.txt
  artifacts:
    paths: [out/]
test:
  stage: test
  script:
    - cat out/app.txt
    - echo "tests pass"
`

func TestSignedGitLabPushRunsPipelineToSuccess(t *testing.T) {
	s := startServer(t, "--runners", "2")
	r := newRepo(t, map[string]string{".gitlab-ci.yml": twoStages})
	proj := s.addProject("app", r.dir)
	sha := r.head()

	body := gitlabPush("refs/heads/main", zeroSHA, sha, "initial")
	if code := s.deliver("app", forge.KindGitLab, gitlabHeaders(body, proj.WebhookSecret), body); code != http.StatusCreated {
		t.Fatalf("webhook answered %d, want 201\n%s", code, s.Out.String())
	}
	list := s.listPipelines("app")
	if len(list) != 1 || list[0].SHA != sha || list[0].Source != "push" || list[0].Ref != "main" {
		t.Fatalf("pipelines after one push: %+v", list)
	}
	p := s.waitPipeline(list[0].ID, 90*time.Second, "success", "failed")
	if p.Status != "success" {
		t.Fatalf("pipeline %s, jobs %+v\nbuild log:\n%s", p.Status, p.Jobs, s.log(p.job("build").ID))
	}
	if log := s.log(p.job("build").ID); !strings.Contains(log, "building "+sha[:8]+" from push") {
		t.Errorf("build log lacks its output:\n%s", log)
	}
	if log := s.log(p.job("test").ID); !strings.Contains(log, "built") || !strings.Contains(log, "tests pass") {
		t.Errorf("test log shows no artifact from build:\n%s", log)
	}
	// The same delivery again creates nothing new.
	var out []pipelineJSON
	s.api("GET", "/api/v1/projects/app/pipelines", nil, &out)
	if len(out) != 1 {
		t.Errorf("%d pipelines, want 1", len(out))
	}
}

func TestGitHubTagPushPlansTheTagsJobs(t *testing.T) {
	s := startServer(t, "--runners", "1")
	r := newRepo(t, map[string]string{".gitlab-ci.yml": `
test:
  script: echo testing
release:
  rules:
    - if: $CI_COMMIT_TAG
  script: echo "releasing $CI_COMMIT_TAG"
branch-only:
  except: [tags]
  script: echo never on tags
`})
	proj := s.addProject("lib", r.dir)
	r.git("tag", "v1.2.3")
	sha := r.head()
	body, _ := json.Marshal(map[string]any{
		"ref": "refs/tags/v1.2.3", "before": zeroSHA, "after": sha, "created": true, "deleted": false,
		"head_commit": map[string]any{"id": sha, "message": "initial"},
		"repository":  map[string]any{"clone_url": "https://example.com/lib.git"},
		"pusher":      map[string]any{"name": "dev"},
	})
	h := forge.Sign(forge.KindGitHub, body, proj.WebhookSecret)
	h.Set("X-GitHub-Event", "push")
	if code := s.deliver("lib", forge.KindGitHub, h, body); code != http.StatusCreated {
		t.Fatalf("webhook answered %d\n%s", code, s.Out.String())
	}
	list := s.listPipelines("lib")
	if len(list) != 1 || !list[0].Tag || list[0].Ref != "v1.2.3" {
		t.Fatalf("pipelines: %+v", list)
	}
	p := s.waitPipeline(list[0].ID, 90*time.Second, "success", "failed")
	var names []string
	for _, j := range p.Jobs {
		names = append(names, j.Name)
	}
	if fmt.Sprint(names) != "[test release]" {
		t.Fatalf("tag pipeline jobs %v, want [test release]", names)
	}
	if log := s.log(p.job("release").ID); !strings.Contains(log, "releasing v1.2.3") {
		t.Errorf("release log:\n%s", log)
	}
}

func TestBadSignatureCreatesNothing(t *testing.T) {
	s := startServer(t, "--runners", "-1")
	r := newRepo(t, map[string]string{".gitlab-ci.yml": twoStages})
	proj := s.addProject("app", r.dir)
	body := gitlabPush("refs/heads/main", zeroSHA, r.head(), "initial")

	cases := map[string]http.Header{
		"wrong token":   gitlabHeaders(body, "not-the-secret"),
		"missing token": func() http.Header { h := gitlabHeaders(body, ""); h.Del("X-Gitlab-Token"); return h }(),
	}
	gh := forge.Sign(forge.KindGitHub, body, proj.WebhookSecret+"x")
	gh.Set("X-GitHub-Event", "push")
	for name, h := range cases {
		if code := s.deliver("app", forge.KindGitLab, h, body); code != http.StatusUnauthorized {
			t.Errorf("%s: answered %d, want 401", name, code)
		}
	}
	if code := s.deliver("app", forge.KindGitHub, gh, body); code != http.StatusUnauthorized {
		t.Errorf("GitHub wrong secret: answered %d, want 401", code)
	}
	if code := s.deliver("nosuch", forge.KindGitLab, gitlabHeaders(body, proj.WebhookSecret), body); code != http.StatusUnauthorized {
		t.Errorf("unknown project: answered %d, want 401", code)
	}
	if list := s.listPipelines("app"); len(list) != 0 {
		t.Fatalf("bad signatures created pipelines: %+v", list)
	}
}

func TestConcurrentDeliveriesWithDuplicatesCreateOnePipelineEach(t *testing.T) {
	s := startServer(t, "--runners", "-1")
	r := newRepo(t, map[string]string{".gitlab-ci.yml": twoStages})
	proj := s.addProject("app", r.dir)
	body := gitlabPush("refs/heads/main", zeroSHA, r.head(), "initial")

	var deliveries []http.Header
	for i := 0; i < 40; i++ {
		deliveries = append(deliveries, gitlabHeaders(body, proj.WebhookSecret))
	}
	for i := 0; i < 10; i++ {
		deliveries = append(deliveries, deliveries[i*3]) // the forge retried these
	}
	codes := make([]int, len(deliveries))
	var wg sync.WaitGroup
	for i, h := range deliveries {
		wg.Go(func() { codes[i] = s.deliver("app", forge.KindGitLab, h, body) })
	}
	wg.Wait()
	for i, c := range codes {
		if c != http.StatusCreated {
			t.Errorf("delivery %d answered %d", i, c)
		}
	}
	if list := s.listPipelines("app"); len(list) != 40 {
		t.Fatalf("%d pipelines, want 40", len(list))
	}
}

func TestSkipCIInCommitMessageCreatesNoPipeline(t *testing.T) {
	s := startServer(t, "--runners", "-1")
	r := newRepo(t, map[string]string{".gitlab-ci.yml": twoStages})
	proj := s.addProject("app", r.dir)
	sha := r.commit("docs only [skip ci]", map[string]string{"README": "x"})
	body := gitlabPush("refs/heads/main", zeroSHA, sha, "docs only [skip ci]")
	if code := s.deliver("app", forge.KindGitLab, gitlabHeaders(body, proj.WebhookSecret), body); code != http.StatusOK {
		t.Fatalf("answered %d, want 200 (skipped)", code)
	}
	if list := s.listPipelines("app"); len(list) != 0 {
		t.Fatalf("[skip ci] created %+v", list)
	}
}
