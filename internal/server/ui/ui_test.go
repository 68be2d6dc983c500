package ui_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gantry-ci/gantry/internal/secret"
	"github.com/gantry-ci/gantry/internal/store/sqlite"
)

func TestSignInSessionsAndCSRF(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	s := startServer(t, data, -1)
	c := browserClient(t)

	resp, err := c.Get(s.url + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
		t.Fatalf("GET / without a session: %d to %q, want the login page", resp.StatusCode, resp.Header.Get("Location"))
	}
	if code, page := get(t, c, s.url+"/login"); code != 200 || !strings.Contains(page, `name="token"`) {
		t.Fatalf("login page: %d\n%s", code, page)
	}
	if resp := signIn(t, c, s.url, "gty_admin_not-a-real-token"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a wrong token answered %d, want 401", resp.StatusCode)
	}
	req, _ := http.NewRequest("POST", s.url+"/login", strings.NewReader(url.Values{"token": {s.token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	if resp, err := c.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a sign-in posted from another site: %v %v, want 403", resp.StatusCode, err)
	}

	resp = signIn(t, c, s.url, s.token)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("sign in: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	cookie := resp.Header.Get("Set-Cookie")
	for _, attr := range []string{"gantry_session=", "HttpOnly", "SameSite=Lax", "Path=/"} {
		if !strings.Contains(cookie, attr) {
			t.Errorf("session cookie %q lacks %s", cookie, attr)
		}
	}
	if strings.Contains(cookie, "Secure") {
		t.Errorf("a cookie set over plain HTTP is Secure, so the browser would drop it: %q", cookie)
	}
	code, page := get(t, c, s.url+"/")
	if code != 200 || !strings.Contains(page, "<h1>Projects</h1>") {
		t.Fatalf("GET / signed in: %d\n%s", code, page)
	}

	// Over HTTPS (a proxy says so) the cookie is Secure.
	req, _ = http.NewRequest("POST", s.url+"/login", strings.NewReader(url.Values{"token": {s.token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-Proto", "https")
	if resp, err := browserClient(t).Do(req); err != nil || !strings.Contains(resp.Header.Get("Set-Cookie"), "Secure") {
		t.Fatalf("sign in over HTTPS: cookie %q, %v", resp.Header.Get("Set-Cookie"), err)
	}

	// Forms need the session's CSRF token.
	csrf := csrfOf(t, page)
	resp, err = c.PostForm(s.url+"/logout", url.Values{})
	if err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("logout without the CSRF token: %v %v, want 403", resp.StatusCode, err)
	}
	resp, err = c.PostForm(s.url+"/logout", url.Values{"csrf": {"forged"}})
	if err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("logout with a wrong CSRF token: %v %v, want 403", resp.StatusCode, err)
	}

	// The session survives a restart of the server: it lives in the cookie.
	s.stop()
	s = startServer(t, data, -1)
	if code, _ := get(t, c, s.url+"/"); code != 200 {
		t.Fatalf("after a restart the session is gone: %d", code)
	}
	resp, err = c.PostForm(s.url+"/logout", url.Values{"csrf": {csrf}})
	if err != nil || resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %v %v", resp.StatusCode, err)
	}
	if code, _ := get(t, c, s.url+"/"); code != http.StatusSeeOther {
		t.Fatalf("after logout GET / answered %d, want a redirect to the login page", code)
	}

	// A user token signs in; deleting it ends its sessions; it may not see
	// the runners.
	var created struct {
		ID    int64  `json:"id"`
		Token string `json:"token"`
	}
	if code := s.api(t, "POST", "/api/v1/tokens", map[string]string{"name": "ada"}, &created); code != 201 {
		t.Fatalf("create a user token: %d", code)
	}
	uc := browserClient(t)
	if resp := signIn(t, uc, s.url, created.Token); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("a user token signs in: %d", resp.StatusCode)
	}
	if code, _ := get(t, uc, s.url+"/-/runners"); code != http.StatusForbidden {
		t.Errorf("a user sees the runners page: %d, want 403", code)
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(data, "gantry.db"))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := st.TokenByHash(context.Background(), secret.HashToken(created.Token))
	if err == nil {
		err = st.DeleteToken(context.Background(), tok.ID)
	}
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := get(t, uc, s.url+"/"); code != http.StatusSeeOther {
		t.Fatalf("after its token was deleted the session still works: %d", code)
	}
}

const appPipeline = `
stages: [build, test, deploy]
build:
  stage: build
  script:
    - printf '\033[32mcompiled\033[0m\n'
    - mkdir -p dist && echo "hello artifact" > dist/app.txt
  artifacts:
    paths: [dist/]
test:
  stage: test
  needs: [build]
  script:
    - printf '<testsuite tests="2" failures="1"><testcase name="adds"/><testcase name="divides"><failure message="by zero"/></testcase></testsuite>' > report.xml
  artifacts:
    reports:
      junit: report.xml
  allow_failure: true
deploy:
  stage: deploy
  when: manual
  environment:
    name: production
  script: echo "deploying $CI_ENVIRONMENT_NAME"
`

func TestPagesOfARealPipeline(t *testing.T) {
	s := startServer(t, filepath.Join(t.TempDir(), "data"), 2)
	repo, _ := gitRepo(t, map[string]string{".gitlab-ci.yml": appPipeline})
	if code := s.api(t, "POST", "/api/v1/projects", map[string]any{"name": "app", "repo": repo}, nil); code != 201 {
		t.Fatalf("create project: %d", code)
	}
	c := browserClient(t)
	signIn(t, c, s.url, s.token)
	_, page := get(t, c, s.url+"/app/-/pipelines")
	csrf := csrfOf(t, page)

	// A masked variable: too short is refused, and its value never shows.
	resp, _ := c.PostForm(s.url+"/app/-/settings/variables", url.Values{"csrf": {csrf}, "key": {"TOKEN"}, "value": {"short"}, "masked": {"on"}})
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a masked value of 5 characters: %d, want 400", resp.StatusCode)
	}
	resp, _ = c.PostForm(s.url+"/app/-/settings/variables", url.Values{"csrf": {csrf}, "key": {"TOKEN"}, "value": {"long-enough-secret"}, "masked": {"on"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("set a masked variable: %d", resp.StatusCode)
	}
	if _, page := get(t, c, s.url+"/app/-/settings"); !strings.Contains(page, "TOKEN") || strings.Contains(page, "long-enough-secret") {
		t.Fatalf("settings page: the key must show, the masked value must not")
	}

	// Run the pipeline from the form.
	resp, _ = c.PostForm(s.url+"/app/-/pipelines", url.Values{"csrf": {csrf}, "ref": {"main"}, "variables": {"GREETING=hi"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/app/-/pipelines/1" {
		t.Fatalf("run pipeline: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	s.waitPipeline(t, "1", "success", "failed")

	code, page := get(t, c, s.url+"/app/-/pipelines/1")
	if code != 200 {
		t.Fatalf("pipeline page: %d", code)
	}
	for _, want := range []string{`data-from="build" data-to="test"`, `data-job="deploy" data-status="manual"`,
		`data-confirm="Run deploy? It deploys to production`, "allowed to fail", `href="/app/-/jobs/1"`} {
		if !strings.Contains(page, want) {
			t.Errorf("pipeline page lacks %s", want)
		}
	}
	if code, frag := fragment(t, c, s.url+"/app/-/pipelines/1"); code != 200 || strings.Contains(frag, "<html") || !strings.Contains(frag, `data-job="build"`) {
		t.Errorf("the live part of the pipeline page: %d\n%s", code, frag)
	}

	// The ended build job's log is rendered on the server.
	_, page = get(t, c, s.url+"/app/-/jobs/1")
	for _, want := range []string{`<details class="sec" open>`, `<span class="fg2">compiled</span>`, "Artifacts", `/app/-/jobs/1/artifacts/download`} {
		if !strings.Contains(page, want) {
			t.Errorf("build job page lacks %s", want)
		}
	}
	if strings.Contains(page, "data-stream=") {
		t.Errorf("an ended small log is streamed instead of rendered")
	}
	if _, page = get(t, c, s.url+"/app/-/jobs/2"); !strings.Contains(page, "1 failed") || !strings.Contains(page, "divides") {
		t.Errorf("test job page lacks the junit summary")
	}
	if _, page = get(t, c, s.url+"/app/-/jobs/1/artifacts"); !strings.Contains(page, "dist/app.txt") {
		t.Errorf("artifacts page lacks dist/app.txt:\n%s", page)
	}
	if code, body := get(t, c, s.url+"/app/-/jobs/1/artifacts/download?file=dist/app.txt"); code != 200 || body != "hello artifact\n" {
		t.Errorf("download one artifact: %d %q", code, body)
	}
	if code, body := get(t, c, s.url+"/app/-/jobs/1/raw"); code != 200 || !strings.Contains(body, "\x1b[32mcompiled") {
		t.Errorf("raw log: %d %q", code, body)
	}

	// Playing a production job asks first, then runs it.
	resp, _ = c.PostForm(s.url+"/app/-/jobs/3/play", url.Values{"csrf": {csrf}})
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "Deploy to production?") {
		t.Fatalf("play without confirmation: %d\n%s", resp.StatusCode, body)
	}
	resp, _ = c.PostForm(s.url+"/app/-/jobs/3/play", url.Values{"csrf": {csrf}, "confirm": {"yes"}, "back": {"/app/-/pipelines/1"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/app/-/pipelines/1" {
		t.Fatalf("play: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	s.waitPipeline(t, "1", "success")
	resp, _ = c.PostForm(s.url+"/app/-/jobs/3/play", url.Values{"csrf": {csrf}, "confirm": {"yes"}})
	if resp.StatusCode != http.StatusConflict {
		t.Errorf("playing a played job: %d, want 409", resp.StatusCode)
	}
	_, page = get(t, c, s.url+"/app/-/environments")
	if !strings.Contains(page, "production") || !strings.Contains(page, `href="/app/-/jobs/3">deploy #3</a>`) || !strings.Contains(page, "No rollout in progress") {
		t.Errorf("environments page lacks the production deployment:\n%s", page)
	}

	// Every page answers, with its server time.
	for _, p := range []string{"/", "/app/-/pipelines", "/app/-/pipelines?status=success&ref=main", "/app/-/pipelines?before=1",
		"/app/-/pipelines/1", "/app/-/jobs/3", "/app/-/environments", "/app/-/settings", "/-/runners"} {
		resp, err := c.Get(s.url + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Server-Timing"), "page;dur=") {
			t.Errorf("GET %s: %d, Server-Timing %q", p, resp.StatusCode, resp.Header.Get("Server-Timing"))
		}
	}
	for _, p := range []string{"/nope", "/app/-/pipelines/99", "/app/-/jobs/99", "/app/-/pipelines?status=bogus"} {
		if code, _ := get(t, c, s.url+p); code != 404 && code != 400 {
			t.Errorf("GET %s: %d, want 404 or 400", p, code)
		}
	}
}

// fragment asks for a page's live part, as the page's script does.
func fragment(t *testing.T, c *http.Client, u string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	req.Header.Set("X-Gantry-Fragment", "live")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, fmt.Sprint(string(data))
}
