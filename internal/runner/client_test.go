package runner

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gantry-ci/gantry/internal/runnerapi"
)

// flakyServer answers every request with fails[i] for its i-th request,
// then 200 with body.
func flakyServer(t *testing.T, body string, fails ...int) (*Client, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(n.Add(1)) - 1
		if r.Header.Get("Authorization") != "Bearer tok" {
			fail(w, http.StatusUnauthorized, "bad token")
			return
		}
		if i < len(fails) {
			fail(w, fails[i], "try later")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	c, err := NewClient(srv.URL+"/prefix/", "tok", nil)
	if err != nil {
		t.Fatal(err)
	}
	c.RetryFor = 30 * time.Second
	return c, &n
}

func TestClientRetriesIdempotentCalls(t *testing.T) {
	c, n := flakyServer(t, `{"until":"2030-01-01T00:00:00Z","cancel":true}`, 503, 502)
	lease, err := c.RenewLease(context.Background(), 7)
	if err != nil || !lease.Cancel {
		t.Fatalf("RenewLease = %+v, %v", lease, err)
	}
	if n.Load() != 3 {
		t.Errorf("%d requests, want 3", n.Load())
	}
}

func TestClientDoesNotRetryJobRequests(t *testing.T) {
	c, n := flakyServer(t, `{}`, 503)
	_, err := c.RequestJob(context.Background(), time.Second)
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 503 || apiErr.Reason != "try later" {
		t.Fatalf("err = %v, want the server's 503 with its reason", err)
	}
	if n.Load() != 1 {
		t.Errorf("%d requests, want 1", n.Load())
	}
}

func TestClientGivesUpOnClientErrors(t *testing.T) {
	c, n := flakyServer(t, `{}`, 409, 409)
	_, err := c.RenewLease(context.Background(), 7)
	if !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("err = %v, want ErrLeaseLost", err)
	}
	if !strings.Contains(err.Error(), "renew lease of job 7: 409") {
		t.Errorf("error does not say what failed: %v", err)
	}
	if n.Load() != 1 {
		t.Errorf("%d requests, want 1", n.Load())
	}
}

func TestClientUploadRetriesWithWholeBody(t *testing.T) {
	var mu sync.Mutex
	var bodies []string
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(data))
		mu.Unlock()
		if calls.Add(1) == 1 {
			fail(w, http.StatusInternalServerError, "disk hiccup")
			return
		}
		if r.URL.EscapedPath() != "/api/v1/runner/jobs/3/caches/a%2Fb%25c" {
			fail(w, http.StatusBadRequest, "path "+r.URL.EscapedPath())
			return
		}
		w.WriteHeader(http.StatusCreated)
	}))
	defer srv.Close()
	c, err := NewClient(srv.URL, "tok", nil)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "archive")
	if err := os.WriteFile(path, []byte("archive bytes"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := c.PutCache(context.Background(), 3, "a/b%c", path); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bodies) != 2 || bodies[0] != "archive bytes" || bodies[1] != "archive bytes" {
		t.Errorf("bodies = %q, want the whole file twice", bodies)
	}
}

func TestClientStopsRetryingWhenContextEnds(t *testing.T) {
	c, _ := flakyServer(t, `{}`, 503, 503, 503, 503, 503, 503, 503, 503, 503, 503)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err := c.Finish(ctx, 1, runnerapi.Result{Status: StatusSuccess})
	if err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("err = %v, want the last 503", err)
	}
}

func TestNewClientRejectsBadInput(t *testing.T) {
	for _, c := range []struct{ url, token string }{
		{"ftp://host", "t"}, {"http://", "t"}, {"http://host", ""}, {"::", "t"},
	} {
		if _, err := NewClient(c.url, c.token, nil); err == nil {
			t.Errorf("NewClient(%q, %q) accepted", c.url, c.token)
		}
	}
}

func TestErrorReason(t *testing.T) {
	cases := []struct {
		status int
		body   string
		want   string
	}{
		{409, `{"error":"lease lost"}`, "lease lost"},
		{500, "plain text\n", "plain text"},
		{502, "", "bad gateway"},
		{599, "", "status 599"},
		{400, `{"error":""}`, `{"error":""}`},
	}
	for _, c := range cases {
		if got := errorReason(c.status, []byte(c.body)); got != c.want {
			t.Errorf("errorReason(%d, %q) = %q, want %q", c.status, c.body, got, c.want)
		}
	}
}

func FuzzErrorReason(f *testing.F) {
	f.Add(409, []byte(`{"error":"lease lost"}`))
	f.Add(500, []byte("\xff\xfe broken utf-8"))
	f.Add(502, []byte(strings.Repeat("é", 600)))
	f.Add(0, []byte(nil))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		got := errorReason(status, body)
		if got == "" || !utf8.ValidString(got) || len(got) > maxReason+len("…") {
			t.Fatalf("errorReason(%d, %q) = %q: want a short, valid, non-empty reason", status, body, got)
		}
	})
}
