package e2eserver

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/internal/notify"
)

// A failed pipeline and the next passing one on its ref reach a signed
// webhook once each; the receiver checks the signature as a user would.
func TestPipelineFailedAndFixedNotifications(t *testing.T) {
	const key = "hook-signing-key"
	var (
		mu    sync.Mutex
		kinds []string
	)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !notify.VerifySignature(key, body, r.Header.Get(notify.HeaderSignature)) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var e struct {
			Kind string `json:"kind"`
		}
		_ = json.Unmarshal(body, &e)
		mu.Lock()
		kinds = append(kinds, e.Kind)
		mu.Unlock()
	}))
	defer recv.Close()

	s := startServer(t, "--runners", "1")
	r := newRepo(t, map[string]string{".gitlab-ci.yml": "job:\n  script: exit 1\n"})
	s.addProject("app", r.dir)
	channels := []map[string]any{{"type": "webhook", "url": recv.URL, "secret": key}}
	if code := s.api("PUT", "/api/v1/projects/app/notifications", channels, nil); code != http.StatusNoContent {
		t.Fatalf("set notifications: %d", code)
	}
	var shown []map[string]any
	s.api("GET", "/api/v1/projects/app/notifications", nil, &shown)
	if len(shown) != 1 || shown[0]["secret"] != "[MASKED]" {
		t.Errorf("channels shown as %v", shown)
	}
	run := func(want string) {
		var p pipelineJSON
		s.api("POST", "/api/v1/projects/app/pipelines", map[string]any{"ref": "main"}, &p)
		if got := s.waitPipeline(p.ID, 60*time.Second, "success", "failed"); got.Status != want {
			t.Fatalf("pipeline %s, want %s", got.Status, want)
		}
	}
	run("failed")
	r.commit("fix", map[string]string{".gitlab-ci.yml": "job:\n  script: exit 0\n"})
	run("success")
	run("success") // still passing: nothing to say
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		n := len(kinds)
		mu.Unlock()
		if n >= 2 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if len(kinds) != 2 || kinds[0] != notify.KindPipelineFailed || kinds[1] != notify.KindPipelineFixed {
		t.Fatalf("received %v, want [pipeline_failed pipeline_fixed]", kinds)
	}
}
