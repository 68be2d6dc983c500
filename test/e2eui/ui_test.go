package e2eui

import (
	"fmt"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// shopPipeline has a job that logs slowly (to watch its log grow), a
// junit report, a job that fails on its first attempt, a deployment to
// staging and a manual deployment to production.
const shopPipeline = `
stages: [build, test, deploy]
build:
  stage: build
  script:
    - printf '\033[32;1mcompiling the shop\033[0m\n'
    - for i in $(seq 1 30); do echo "build step $i"; sleep 0.3; done
    - echo "key is $DEPLOY_KEY"
    - mkdir -p dist && echo "hello" > dist/index.html
  artifacts:
    paths: [dist/]
unit:
  stage: test
  needs: [build]
  script:
    - printf '<testsuite tests="3" failures="1"><testcase name="cart adds"/><testcase name="cart removes"/><testcase name="checkout pays"><failure message="declined"/></testcase></testsuite>' > report.xml
    - echo "coverage 87.5%"
  coverage: '/coverage (\d+\.\d+)%/'
  allow_failure: true
  artifacts:
    reports:
      junit: report.xml
flaky:
  stage: test
  needs: [build]
  script:
    - if [ "$CI_JOB_ATTEMPT" = 1 ]; then echo "the first attempt fails"; exit 3; fi
    - echo "passing on retry"
deploy-staging:
  stage: deploy
  needs: [unit]
  environment: staging
  script: echo "deploying to staging"
deploy-prod:
  stage: deploy
  needs: [build]
  when: manual
  environment:
    name: production
    url: https://shop.example.com
  script: echo "deploying to production"
`

const secretValue = "s3cr3t-deploy-key-42"

// TestWebUI walks the UI as a person would, in one browser against one
// server; the steps build on each other.
func TestWebUI(t *testing.T) {
	s := startServer(t, "--runners", "3")
	b := newBrowser(t, s.URL)
	repo := newRepo(t, map[string]string{".gitlab-ci.yml": shopPipeline})
	if code := s.api("POST", "/api/v1/projects", map[string]any{"name": "shop", "repo": repo}, nil); code != 201 {
		t.Fatalf("create project: %d", code)
	}

	// Unauthenticated: the login page.
	b.open("/")
	b.wait("the login page", `location.pathname === "/login" && document.querySelector("#token")`, 20*time.Second)
	b.screenshot("login")

	// Sign in with the admin token.
	b.do("sign in",
		chromedp.SendKeys(chromedp.ID("token"), s.Token),
		chromedp.Submit(chromedp.ID("token")),
	)
	b.wait("the projects page", `location.pathname === "/" && document.body.innerText.includes("shop")`, 20*time.Second)

	// A masked variable, set in the settings: its value never comes back.
	b.open("/shop/-/settings")
	b.do("add a masked variable",
		chromedp.SendKeys(chromedp.ID("var-key"), "DEPLOY_KEY"),
		chromedp.SetValue(chromedp.ID("var-value"), secretValue),
		chromedp.Click(chromedp.ID("var-masked")),
		chromedp.Click(chromedp.ID("var-save")),
	)
	b.wait("the variable listed", `document.querySelector("table.vars") && document.querySelector("table.vars").innerText.includes("DEPLOY_KEY")`, 20*time.Second)
	if html := b.str("document.documentElement.outerHTML"); contains(html, secretValue) {
		t.Fatalf("the settings page shows the masked value")
	}

	// Trigger a pipeline from the UI.
	b.open("/shop/-/pipelines")
	b.do("run a pipeline",
		chromedp.Click(chromedp.CSS("details.runbox > summary")),
		chromedp.WaitVisible(chromedp.ID("run-submit")),
		chromedp.Click(chromedp.ID("run-submit")),
	)
	b.wait("the new pipeline's page", `/^\/shop\/-\/pipelines\/\d+$/.test(location.pathname)`, 60*time.Second)
	pipeID, _ := strconv.ParseInt(regexp.MustCompile(`\d+$`).FindString(b.path()), 10, 64)
	b.wait("the build card", `document.querySelector('article.card[data-job="build"] a.job-link')`, 20*time.Second)

	// Watch the build job's log grow while it runs, without reloading.
	b.do("open the build job", chromedp.Click(chromedp.CSS(`article.card[data-job="build"] a.job-link`)))
	b.wait("the job page", `/^\/shop\/-\/jobs\/\d+$/.test(location.pathname) && document.querySelector("#log")`, 20*time.Second)
	b.str(`window.gantryMarker = "same page"`)
	b.wait("the job running with log lines", `document.querySelector("h1 .badge").dataset.status === "running" && document.querySelector("#log").innerText.includes("build step 2")`, 60*time.Second)
	first := b.str(`document.querySelector("#log").dataset.lines`)
	b.wait("more log lines while it runs", `Number(document.querySelector("#log").dataset.lines) >= `+first+` + 5 && document.querySelector("h1 .badge").dataset.status === "running"`, 60*time.Second)
	b.wait("the job to pass, live", `document.querySelector("h1 .badge").dataset.status === "success" && document.querySelector("#log").innerText.includes("build step 30")`, 90*time.Second)
	if b.str(`window.gantryMarker || ""`) != "same page" {
		t.Fatalf("the job page reloaded instead of streaming")
	}
	if n := b.str(`String(document.querySelectorAll("#log span.fg2.b").length)`); n == "0" {
		t.Errorf("the green bold ANSI text is not rendered as a coloured span")
	}
	b.wait("the masked secret", `document.querySelector("#log").innerText.includes("key is [MASKED]")`, 20*time.Second)
	if html := b.str("document.documentElement.outerHTML"); contains(html, secretValue) {
		t.Fatalf("the job page shows the masked secret")
	}
	if b.str(`String(document.querySelectorAll("#log details.sec").length)`) == "0" {
		t.Errorf("the log's sections are not collapsible")
	}

	// The pipeline: needs edges, the failed job retried.
	b.open(fmt.Sprintf("/shop/-/pipelines/%d", pipeID))
	b.wait("flaky to fail", cardStatus("flaky")+` === "failed"`, 90*time.Second)
	b.wait("deploy-prod waiting to be played", cardStatus("deploy-prod")+` === "manual"`, 60*time.Second)
	b.screenshot("pipeline")
	if n := b.str(`String(document.querySelectorAll("svg.edges path").length)`); n != "4" {
		t.Errorf("needs edges drawn: %s, want 4 (unit, flaky, deploy-prod after build; deploy-staging after unit)", n)
	}
	b.do("retry flaky", chromedp.Click(chromedp.CSS(`article.card[data-job="flaky"] button.retry`)))
	b.wait("flaky to pass on retry", cardStatus("flaky")+` === "success"`, 90*time.Second)

	// Play the production deployment: a confirmation first.
	b.wait("deploy-prod waiting to be played", cardStatus("deploy-prod")+` === "manual"`, 60*time.Second)
	b.do("play deploy-prod", chromedp.Click(chromedp.CSS(`article.card[data-job="deploy-prod"] button.play`)))
	b.wait("the confirmation dialog", `document.querySelector("#confirm-dialog").open && document.querySelector("#confirm-text").textContent.includes("production")`, 20*time.Second)
	b.do("confirm", chromedp.Click(chromedp.ID("confirm-ok")))
	b.wait("deploy-prod to pass", cardStatus("deploy-prod")+` === "success"`, 90*time.Second)
	s.waitFor(pipeID, 60*time.Second, "the pipeline to end", func(p *pipelineJSON) bool { return p.Status == "success" })
	b.wait("the pipeline passed, live", `document.querySelector("h1 .badge").dataset.status === "success"`, 30*time.Second)

	// The unit job: junit summary and coverage.
	b.do("open unit", chromedp.Click(chromedp.CSS(`article.card[data-job="unit"] a.job-link`)))
	b.wait("the test summary", `document.querySelector("#tests-summary") && document.querySelector("#tests-summary").innerText.includes("1 failed") && document.body.innerText.includes("checkout pays")`, 30*time.Second)
	b.wait("the coverage", `document.querySelector("#coverage") && document.querySelector("#coverage").innerText === "87.5%"`, 10*time.Second)

	// Screenshots of the other pages, and what they must show.
	b.open(fmt.Sprintf("/shop/-/pipelines/%d", pipeID))
	b.do("open build", chromedp.Click(chromedp.CSS(`article.card[data-job="build"] a.job-link`)))
	b.wait("the build log", `document.querySelector("#log") && document.querySelector("#log").innerText.includes("Job succeeded")`, 30*time.Second)
	b.screenshot("job-log")
	b.open("/shop/-/environments")
	b.wait("production deployed", `document.body.innerText.includes("production") && document.body.innerText.includes("deploy-prod #")`, 20*time.Second)
	b.screenshot("environments")
	b.open("/")
	b.wait("the last pipeline's status", `document.querySelector("table.list .badge").dataset.status === "success"`, 20*time.Second)
	b.screenshot("projects")
	b.open("/shop/-/settings")
	b.screenshot("settings")
	// A second pipeline, running while the list is shown.
	s.api("POST", "/api/v1/projects/shop/pipelines", map[string]any{"ref": "main"}, nil)
	b.open("/shop/-/pipelines")
	b.wait("two pipelines listed", `document.querySelectorAll("table.pipelines tbody tr").length === 2`, 20*time.Second)
	b.screenshot("pipelines")

	// A log of 100,000 lines opens without freezing the page: it is
	// rendered a slice per frame. The main thread's CPU time is logged as
	// a figure, not asserted.
	logsRepo := newRepo(t, map[string]string{".gitlab-ci.yml": "huge:\n  script: seq 1 100000 | sed 's/^/log line /'\n"})
	if code := s.api("POST", "/api/v1/projects", map[string]any{"name": "logs", "repo": logsRepo}, nil); code != 201 {
		t.Fatalf("create project logs: %d", code)
	}
	var huge pipelineJSON
	s.api("POST", "/api/v1/projects/logs/pipelines", map[string]any{"ref": "main"}, &huge)
	huge = s.waitFor(huge.ID, 120*time.Second, "the huge log", func(p *pipelineJSON) bool { return p.Status == "success" })
	b.measureThreadTime()
	before := b.metrics()
	started := time.Now()
	b.open(fmt.Sprintf("/logs/-/jobs/%d", huge.job("huge").ID))
	b.wait("all 100,000 lines", `document.querySelector("#log").dataset.done && Number(document.querySelector("#log").dataset.lines) >= 100000`, 120*time.Second)
	after := b.metrics()
	t.Logf("100,000-line log: shown in %s; main thread CPU %.0f ms (script %.0f ms, layout %.0f ms, style %.0f ms)",
		time.Since(started).Round(time.Millisecond), 1000*(after["TaskDuration"]-before["TaskDuration"]),
		1000*(after["ScriptDuration"]-before["ScriptDuration"]), 1000*(after["LayoutDuration"]-before["LayoutDuration"]),
		1000*(after["RecalcStyleDuration"]-before["RecalcStyleDuration"]))
	if got := b.str(`document.querySelector("#log").textContent.includes("\nlog line 100000\n") ? "found" : "missing"`); got != "found" {
		t.Errorf("the last line of the huge log is %s", got)
	}

	// A form post without the CSRF token is refused.
	code := b.await(`fetch("/shop/-/pipelines", {method: "POST", body: new URLSearchParams({ref: "main"})}).then(r => String(r.status))`)
	if code != "403" {
		t.Errorf("POST without CSRF token answered %s, want 403", code)
	}
}
