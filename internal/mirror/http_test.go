package mirror

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const testToken = "job-token-s3cret"

// serveMirror serves m as project "app" with the job token as password.
func serveMirror(t *testing.T, m *Mirror) *httptest.Server {
	t.Helper()
	h := HTTPHandler(
		func(project string) (string, bool) {
			if project == "app" {
				return m.Dir(), true
			}
			return "", false
		},
		func(r *http.Request, project string) bool {
			user, pass, ok := r.BasicAuth()
			return ok && user == TokenUser && pass == testToken
		},
	)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// cloneURL is the URL a runner would clone with.
func cloneURL(srv *httptest.Server, project, password string) string {
	u, _ := url.Parse(srv.URL)
	u.User = url.UserPassword(TokenUser, password)
	u.Path = "/git/" + project + ".git"
	return u.String()
}

func TestHTTPHandlerClone(t *testing.T) {
	m, u := fetchedMirror(t)
	srv := serveMirror(t, m)
	work := t.TempDir()

	dst := filepath.Join(work, "clone")
	gitIn(t, work, "clone", "-q", cloneURL(srv, "app", testToken), dst)
	got, err := os.ReadFile(filepath.Join(dst, "ci", "build.yml"))
	if err != nil || string(got) != "build:\n  script: make all\n" {
		t.Fatalf("cloned ci/build.yml = %q, %v", got, err)
	}
	if head := gitIn(t, dst, "rev-parse", "HEAD"); head != u.second {
		t.Fatalf("clone checked out %s, want main's %s", head, u.second)
	}

	// A runner fetches the exact commit of its job, even one no branch
	// points at any more.
	gitIn(t, u.dir, "branch", "-D", "feature")
	if _, err := m.Fetch(context.Background()); err != nil {
		t.Fatal(err)
	}
	gitIn(t, dst, "fetch", "-q", "origin", u.feature)
	if got := gitIn(t, dst, "rev-parse", "FETCH_HEAD"); got != u.feature {
		t.Fatalf("fetched %s, want %s", got, u.feature)
	}

	// Pushing is refused even with a valid token.
	gitIn(t, dst, "commit", "-q", "--allow-empty", "-m", "sneaky")
	if out, err := gitTry(dst, "push", "origin", "HEAD:main"); err == nil {
		t.Fatalf("push through the mirror succeeded:\n%s", out)
	}

	if out, err := gitTry(work, "clone", "-q", cloneURL(srv, "app", "wrong"), filepath.Join(work, "bad")); err == nil {
		t.Fatalf("clone with a wrong token succeeded:\n%s", out)
	} else if strings.Contains(out, testToken) {
		t.Fatalf("git output shows the real token:\n%s", out)
	}
}

func TestHTTPHandlerStatusCodes(t *testing.T) {
	m, _ := fetchedMirror(t)
	srv := serveMirror(t, m)
	tests := []struct {
		name, method, path, password string
		want                         int
	}{
		{"no credentials", "GET", "/git/app.git/info/refs?service=git-upload-pack", "", 401},
		{"wrong password", "GET", "/git/app.git/info/refs?service=git-upload-pack", "wrong", 401},
		{"advertise refs", "GET", "/git/app.git/info/refs?service=git-upload-pack", testToken, 200},
		{"push advertisement", "GET", "/git/app.git/info/refs?service=git-receive-pack", testToken, 403},
		{"push", "POST", "/git/app.git/git-receive-pack", testToken, 403},
		{"dumb protocol", "GET", "/git/app.git/HEAD", testToken, 403},
		{"dumb objects", "GET", "/git/app.git/objects/info/packs", testToken, 403},
		{"unknown project", "GET", "/git/other.git/info/refs?service=git-upload-pack", testToken, 404},
		{"climbing out", "GET", "/git/../app.git/info/refs?service=git-upload-pack", testToken, 404},
		{"not git", "GET", "/elsewhere", testToken, 404},
		{"wrong method", "GET", "/git/app.git/git-upload-pack", testToken, 405},
	}
	for _, tt := range tests {
		req, err := http.NewRequest(tt.method, srv.URL+tt.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if tt.password != "" {
			req.SetBasicAuth(TokenUser, tt.password)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("%s: status %d, want %d", tt.name, resp.StatusCode, tt.want)
		}
		if tt.want == 401 && resp.Header.Get("WWW-Authenticate") != `Basic realm="gantry"` {
			t.Errorf("%s: WWW-Authenticate = %q", tt.name, resp.Header.Get("WWW-Authenticate"))
		}
	}
}

// A mirror can fetch over http(s) with the password in the URL; the
// password reaches git but no error text or file.
func TestFetchOverHTTPWithPasswordInURL(t *testing.T) {
	ctx := context.Background()
	served, u := fetchedMirror(t)
	srv := serveMirror(t, served)

	m := openMirror(t, cloneURL(srv, "app", testToken))
	changes, err := m.Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 3 {
		t.Fatalf("fetch over HTTP reported %+v, want 3 created refs", changes)
	}
	if sha, _, err := m.Resolve(ctx, "main"); err != nil || sha != u.second {
		t.Fatalf("Resolve(main) over HTTP = %s, %v", sha, err)
	}
	cfg, _ := os.ReadFile(filepath.Join(m.Dir(), "config"))
	if strings.Contains(string(cfg), testToken) {
		t.Fatalf("mirror config holds the token:\n%s", cfg)
	}

	bad := openMirror(t, cloneURL(srv, "app", "wrong-password-123"))
	_, err = bad.Fetch(ctx)
	if err == nil {
		t.Fatal("fetch with a wrong password succeeded")
	}
	t.Logf("wrong password: %v", err)
	if strings.Contains(err.Error(), "wrong-password-123") {
		t.Fatalf("error shows the password: %v", err)
	}
	missing := openMirror(t, cloneURL(srv, "nope", testToken))
	if _, err := missing.Fetch(ctx); err == nil || strings.Contains(err.Error(), testToken) {
		t.Fatalf("fetch of an unknown project = %v; want a redacted error", err)
	}
}
