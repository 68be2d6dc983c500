package mirror

import (
	"net/http"
	"net/http/cgi"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
)

// TokenUser is the Basic-auth user name runners clone with; the password
// is the job token.
const TokenUser = "gantry-ci-token"

// HTTPHandler serves the mirrors read-only over git's smart HTTP protocol
// at /git/{project}.git/..., so runners can clone from the server instead
// of from the forge. root maps a project to its mirror folder; auth
// decides whether the request may read the project (typically by checking
// the Basic-auth password against a job token). Pushes are refused with
// 403, unauthorised requests get 401 with a Basic challenge so that git
// retries with its credentials, and unknown projects get 404.
//
// The work is done by `git http-backend` run as CGI, so the protocol
// (v0/v2, gzip, shallow and partial clones) is exactly git's.
func HTTPHandler(root func(project string) (dir string, ok bool), auth func(r *http.Request, project string) bool) http.Handler {
	return &httpHandler{root: root, auth: auth}
}

type httpHandler struct {
	root func(string) (string, bool)
	auth func(*http.Request, string) bool

	once    sync.Once
	backend string
	findErr error
}

// locateBackend finds git-http-backend in git's exec path, once.
func (h *httpHandler) locateBackend() (string, error) {
	h.once.Do(func() {
		out, err := exec.Command("git", "--exec-path").Output()
		if err != nil {
			h.findErr = err
			return
		}
		h.backend = filepath.Join(strings.TrimSpace(string(out)), "git-http-backend")
	})
	return h.backend, h.findErr
}

// splitGitPath splits "/git/{project}.git/{rest}" at the first ".git/".
func splitGitPath(p string) (project, rest string, ok bool) {
	tail, ok := strings.CutPrefix(p, "/git/")
	if !ok {
		return "", "", false
	}
	project, rest, ok = strings.Cut(tail, ".git/")
	if !ok || project == "" || path.Clean(project) != project || !validProject(project) {
		return "", "", false
	}
	return project, rest, true
}

// validProject accepts names like "app" or "group/app" and nothing that
// could climb out of a folder.
func validProject(p string) bool {
	if strings.HasPrefix(p, "/") || strings.HasPrefix(p, ".") || strings.Contains(p, "/.") ||
		strings.Contains(p, "..") || strings.Contains(p, "//") {
		return false
	}
	for _, c := range p {
		if c < 0x20 || c == 0x7f || c == '\\' {
			return false
		}
	}
	return true
}

func (h *httpHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	project, rest, ok := splitGitPath(r.URL.Path)
	if !ok {
		http.NotFound(w, r)
		return
	}
	service := r.URL.Query().Get("service")
	switch {
	case rest == "git-receive-pack" || (rest == "info/refs" && service == "git-receive-pack"):
		http.Error(w, "pushing to a Gantry mirror is not allowed", http.StatusForbidden)
		return
	case rest == "info/refs" && service == "git-upload-pack":
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
	case rest == "git-upload-pack":
		if r.Method != http.MethodPost {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
	default:
		// The dumb protocol would serve raw files from the mirror.
		http.Error(w, "only git's smart HTTP protocol is served", http.StatusForbidden)
		return
	}
	if !h.auth(r, project) {
		w.Header().Set("WWW-Authenticate", `Basic realm="gantry"`)
		http.Error(w, "unauthorised", http.StatusUnauthorized)
		return
	}
	dir, ok := h.root(project)
	if !ok {
		http.NotFound(w, r)
		return
	}
	backend, err := h.locateBackend()
	if err != nil {
		http.Error(w, "git http-backend not found", http.StatusInternalServerError)
		return
	}
	prefix := "/git/" + project + ".git"
	// The CGI gets a clean environment: the server's own variables (a
	// GIT_DIR, say) must not steer the backend.
	env := configEnv(
		[2]string{"http.receivepack", "false"},
		// Runners fetch exact commits, possibly ones a force push has
		// since made unreachable but that the mirror still holds.
		[2]string{"uploadpack.allowAnySHA1InWant", "true"},
		[2]string{"uploadpack.allowFilter", "true"},
	)
	env = append(env,
		// http-backend takes the repository as GIT_PROJECT_ROOT plus the
		// part of PATH_INFO before the service; with PATH_INFO starting
		// at the service, the repository is the mirror folder itself.
		"GIT_PROJECT_ROOT="+dir,
		"GIT_HTTP_EXPORT_ALL=1",
	)
	(&cgi.Handler{
		Path: backend,
		Root: prefix,
		Dir:  dir,
		Env:  env,
	}).ServeHTTP(w, r)
}
