package cli

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Main(context.Background(), args, &out, &errOut)
	return out.String(), errOut.String(), code
}

func TestRemoteIncludeAndInputs(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/templates/deploy.yml" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte("remote-deploy:\n  stage: deploy\n  script: [echo deploy]\n"))
	}))
	defer srv.Close()
	dir := t.TempDir()
	file := filepath.Join(dir, ".gitlab-ci.yml")
	src := `spec:
  inputs:
    target: {default: staging}
    replicas: {type: number}
---
include:
  - remote: ` + srv.URL + `/templates/deploy.yml
build-$[[ inputs.target ]]:
  stage: build
  script:
    - echo $[[ inputs.replicas ]]
`
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runCLI(t, "plan", file, "--branch", "main", "--input", "replicas=3", "--input", "target=production", "--json")
	if code != 0 {
		t.Fatalf("plan exit %d: %s %s", code, out, errOut)
	}
	for _, want := range []string{`"name": "build-production"`, `"name": "remote-deploy"`} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %s:\n%s", want, out)
		}
	}

	out, _, code = runCLI(t, "lint", file)
	if code != 1 || !strings.Contains(out, "spec:inputs:replicas is required but no value was given") {
		t.Errorf("lint without the required input: exit %d\n%s", code, out)
	}
	out, _, code = runCLI(t, "lint", file, "--input", "replicas=three")
	if code != 1 || !strings.Contains(out, "spec:inputs:replicas should be a number") {
		t.Errorf("lint with a string for a number input: exit %d\n%s", code, out)
	}

	bad := strings.Replace(src, "/templates/deploy.yml", "/missing.yml", 1)
	if err := os.WriteFile(file, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, code = runCLI(t, "lint", file, "--input", "replicas=1")
	if code != 1 || !strings.Contains(out, "include:remote fetch "+srv.URL+"/missing.yml: HTTP 404 Not Found") {
		t.Errorf("a missing remote include must be a located error: exit %d\n%s", code, out)
	}
}

func TestUsageErrorsExitTwo(t *testing.T) {
	for _, args := range [][]string{
		{"lint", "a", "b"},
		{"plan", "--source", "nightly", filepath.Join("..", "..", "examples", "hello", ".gitlab-ci.yml")},
		{"lint", filepath.Join(t.TempDir(), "missing.yml")},
		{"plan", "--bogus"},
	} {
		if _, _, code := runCLI(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}
