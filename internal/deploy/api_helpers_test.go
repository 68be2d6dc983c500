package deploy_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/internal/deploy"
)

// api is a client of the deploy API, as the CLI uses it.
type api struct {
	t    *testing.T
	base string // http://host:port
	hc   *http.Client
}

func newAPI(t *testing.T, base string) *api {
	return &api{t: t, base: strings.TrimSuffix(base, "/") + deploy.APIPrefix, hc: &http.Client{Timeout: 60 * time.Second}}
}

// deploy posts a multipart deploy and returns the status code and body.
func (a *api) deploy(project, app, env, specYAML, version string, artifact string, set ...string) (int, []byte) {
	a.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("spec", "gantry.deploy.yaml")
	fw.Write([]byte(specYAML))
	mw.WriteField("version", version)
	for _, kv := range set {
		mw.WriteField("set", kv)
	}
	if artifact != "" {
		data, err := os.ReadFile(artifact)
		if err != nil {
			a.t.Fatal(err)
		}
		fw, _ := mw.CreateFormFile("artifact", "artifact")
		fw.Write(data)
	}
	mw.Close()
	return a.do(http.MethodPost, fmt.Sprintf("%s/%s/%s", project, app, env), mw.FormDataContentType(), &buf)
}

func (a *api) do(method, path, contentType string, body io.Reader) (int, []byte) {
	a.t.Helper()
	req, err := http.NewRequest(method, a.base+path, body)
	if err != nil {
		a.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

// status returns the decoded status, or nil when the call fails.
func (a *api) status(project, app, env string) *deploy.Status {
	a.t.Helper()
	code, body := a.do(http.MethodGet, fmt.Sprintf("%s/%s/%s/status", project, app, env), "", nil)
	if code != http.StatusOK {
		return nil
	}
	var st deploy.Status
	if err := json.Unmarshal(body, &st); err != nil {
		a.t.Fatalf("status: %v: %s", err, body)
	}
	return &st
}

func (a *api) waitStatus(project, app, env, what string, ok func(*deploy.Status) bool) *deploy.Status {
	a.t.Helper()
	var st *deploy.Status
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if st = a.status(project, app, env); st != nil && ok(st) {
			return st
		}
		time.Sleep(25 * time.Millisecond)
	}
	a.t.Fatalf("timed out waiting for %s; last status: %s", what, describe(st))
	return nil
}

func (a *api) action(project, app, env, action string) (int, []byte) {
	a.t.Helper()
	return a.do(http.MethodPost, fmt.Sprintf("%s/%s/%s/%s", project, app, env, action), "", nil)
}
