package e2eserver

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

const deployApp = `package main

import (
	"fmt"
	"net/http"
	"os"
)

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "version %s\n", os.Getenv("GANTRY_VERSION"))
	})
	_ = http.ListenAndServe("127.0.0.1:"+os.Getenv("PORT"), nil)
}
`

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// A pipeline job deploys with its CI_JOB_TOKEN; a production-tier
// environment takes only a manual job a user played.
func TestPipelineJobsDeployAndProductionNeedsAManualGo(t *testing.T) {
	staging, production := freePort(t), freePort(t)
	deployJob := `
  script:
    - go build -o app .
    - gantry deploy --env %s --version "$CI_COMMIT_SHORT_SHA" --artifact app --wait
  environment: {name: %s%s}
`
	ci := "stages: [staging, production]\n" +
		"deploy:staging:\n  stage: staging" + fmt.Sprintf(deployJob, "staging", "staging", "") +
		"deploy:production-unapproved:\n  stage: production\n  allow_failure: true" + fmt.Sprintf(deployJob, "production", "production", ", deployment_tier: production") +
		"deploy:production:\n  stage: production\n  when: manual" + fmt.Sprintf(deployJob, "production", "production", ", deployment_tier: production")
	r := newRepo(t, map[string]string{
		".gitlab-ci.yml": ci,
		"go.mod":         "module example.com/app\n\ngo 1.26\n",
		"main.go":        deployApp,
		"gantry.deploy.yaml": fmt.Sprintf(`app: app
runtime: {kind: process, command: [./app]}
replicas: 1
healthCheck: {path: /, interval: 500ms}
environments:
  staging:
    listen: %s
    strategy: {rolling: {maxSurge: 1, maxUnavailable: 0}}
  production:
    listen: %s
    tier: production
    strategy: {rolling: {maxSurge: 1, maxUnavailable: 0}}
`, staging, production),
	})
	s := startServer(t, "--runners", "2")
	s.addProject("app", r.dir)
	sha := r.head()[:8]
	var created pipelineJSON
	s.api("POST", "/api/v1/projects/app/pipelines", map[string]any{"ref": "main"}, &created)
	p := s.waitFor(created.ID, 3*time.Minute, "the automatic deploys to end", func(p *pipelineJSON) bool {
		a, b := p.job("deploy:staging"), p.job("deploy:production-unapproved")
		return a != nil && b != nil && (a.Status == "success" || a.Status == "failed") && (b.Status == "success" || b.Status == "failed")
	})
	if j := p.job("deploy:staging"); j.Status != "success" {
		t.Fatalf("deploy:staging %s:\n%s", j.Status, s.log(j.ID))
	}
	if body := httpGet(t, "http://"+staging+"/"); body != "version "+sha+"\n" {
		t.Errorf("staging answers %q, want version %s", body, sha)
	}
	j := p.job("deploy:production-unapproved")
	if log := s.log(j.ID); j.Status != "failed" || !strings.Contains(log, "403") {
		t.Fatalf("an unapproved production deploy was not refused (%s):\n%s", j.Status, log)
	}
	if out, err := s.gantry("job", "play", fmt.Sprint(p.job("deploy:production").ID)); err != nil {
		t.Fatalf("play: %v\n%s", err, out)
	}
	p = s.waitFor(created.ID, 3*time.Minute, "the approved deploy to end", func(p *pipelineJSON) bool {
		st := p.job("deploy:production").Status
		return st == "success" || st == "failed"
	})
	if j := p.job("deploy:production"); j.Status != "success" {
		t.Fatalf("deploy:production %s:\n%s", j.Status, s.log(j.ID))
	}
	if body := httpGet(t, "http://"+production+"/"); body != "version "+sha+"\n" {
		t.Errorf("production answers %q, want version %s", body, sha)
	}
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}
