package runner

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/internal/runnerapi"
)

// testServer is the server side of the runner API, kept to what the
// runner needs: a queue, leases, logs, artifact and cache files on disk,
// and the project's repository over git's smart HTTP through
// git-http-backend, as the real server serves its mirror.
type testServer struct {
	t       testing.TB
	URL     string
	token   string
	root    string // artifacts/<job>/<file>, caches/<project>/<key>
	gitRoot string // <project>.git

	mu     sync.Mutex
	queue  []*runnerapi.JobSpec
	polls  int // long polls being answered
	jobs   map[int64]*testJob
	nextID int64
	wake   chan struct{} // closed when a job is queued
	// logHook, when set, may answer a log append itself.
	logHook func(j *testJob, offset int64, body []byte, w http.ResponseWriter) bool
}

// testJob is a job as the server sees it.
type testJob struct {
	spec   *runnerapi.JobSpec
	log    []byte
	cancel bool
	result *runnerapi.Result
	done   chan struct{}
	// finishCalls counts finish requests, refused ones included.
	finishCalls int
}

func newTestServer(t testing.TB) *testServer {
	t.Helper()
	backend := gitHTTPBackend(t)
	s := &testServer{
		t: t, token: "runner-token", root: t.TempDir(), gitRoot: t.TempDir(),
		jobs: map[int64]*testJob{}, nextID: 100, wake: make(chan struct{}),
	}
	mux := http.NewServeMux()
	api := "/api/v1/runner/jobs/"
	mux.HandleFunc("POST "+api+"request", s.auth(s.request))
	mux.HandleFunc("PUT "+api+"{id}/lease", s.auth(s.job(s.lease)))
	mux.HandleFunc("PATCH "+api+"{id}/log", s.auth(s.job(s.appendLog)))
	mux.HandleFunc("PUT "+api+"{id}/artifacts/{file}", s.auth(s.job(s.putArtifact)))
	mux.HandleFunc("GET "+api+"{id}/artifacts/{dep}/{file}", s.auth(s.job(s.getArtifact)))
	mux.HandleFunc("GET "+api+"{id}/caches/{key}", s.auth(s.job(s.getCache)))
	mux.HandleFunc("PUT "+api+"{id}/caches/{key}", s.auth(s.job(s.putCache)))
	mux.HandleFunc("POST "+api+"{id}/finish", s.auth(s.job(s.finish)))
	git := &cgi.Handler{Path: backend, Root: "/git", Env: []string{"GIT_PROJECT_ROOT=" + s.gitRoot, "GIT_HTTP_EXPORT_ALL=1"}, Stderr: io.Discard}
	mux.Handle("/git/", s.gitAuth(git))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

func gitHTTPBackend(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		t.Skipf("git is not installed: %v", err)
	}
	p := filepath.Join(strings.TrimSpace(string(out)), "git-http-backend")
	if _, err := os.Stat(p); err != nil {
		t.Skipf("git-http-backend missing (Debian package git): %v", err)
	}
	return p
}

func fail(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(runnerapi.Error{Error: msg})
}

func answer(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *testServer) auth(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+s.token {
			fail(w, http.StatusUnauthorized, "bad runner token")
			return
		}
		h(w, r)
	}
}

// job resolves {id} to the job.
func (s *testServer) job(h func(w http.ResponseWriter, r *http.Request, j *testJob)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
		s.mu.Lock()
		j := s.jobs[id]
		s.mu.Unlock()
		if j == nil {
			fail(w, http.StatusNotFound, "no such job")
			return
		}
		h(w, r, j)
	}
}

// gitAuth admits the token of any job handed out, as user gantry-ci-token.
func (s *testServer) gitAuth(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		valid := false
		s.mu.Lock()
		for _, j := range s.jobs {
			valid = valid || ok && user == gitUser && pass == j.spec.Token
		}
		s.mu.Unlock()
		if !valid {
			w.Header().Set("WWW-Authenticate", `Basic realm="gantry"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// enqueue queues a job, giving it an ID unless it has one.
func (s *testServer) enqueue(spec *runnerapi.JobSpec) *testJob {
	s.mu.Lock()
	defer s.mu.Unlock()
	if spec.ID == 0 {
		s.nextID++
		spec.ID = s.nextID
	}
	j := &testJob{spec: spec, done: make(chan struct{})}
	s.jobs[spec.ID] = j
	s.queue = append(s.queue, spec)
	close(s.wake)
	s.wake = make(chan struct{})
	return j
}

func (s *testServer) request(w http.ResponseWriter, r *http.Request) {
	wait, err := time.ParseDuration(r.URL.Query().Get("wait"))
	if err != nil {
		fail(w, http.StatusBadRequest, "bad wait")
		return
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	s.mu.Lock()
	s.polls++
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.polls--
		s.mu.Unlock()
	}()
	for {
		s.mu.Lock()
		// A poll whose runner has gone must not take a job: nobody would
		// run it, and this test server has no lease expiry to requeue it.
		if len(s.queue) > 0 && r.Context().Err() == nil {
			spec := s.queue[0]
			s.queue = s.queue[1:]
			s.mu.Unlock()
			answer(w, http.StatusOK, spec)
			return
		}
		wake := s.wake
		s.mu.Unlock()
		select {
		case <-wake:
		case <-timer.C:
			w.WriteHeader(http.StatusNoContent)
			return
		case <-r.Context().Done():
			return
		}
	}
}

// waitNoPolls waits until no runner is long-polling, so that a job queued
// next goes to a runner started afterwards.
func (s *testServer) waitNoPolls() {
	s.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		s.mu.Lock()
		n := s.polls
		s.mu.Unlock()
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%d long polls still open", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (s *testServer) lease(w http.ResponseWriter, r *http.Request, j *testJob) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if j.result != nil {
		fail(w, http.StatusConflict, "job is finished")
		return
	}
	answer(w, http.StatusOK, runnerapi.Lease{Until: time.Now().Add(runnerapi.LeaseDuration), Cancel: j.cancel})
}

func (s *testServer) appendLog(w http.ResponseWriter, r *http.Request, j *testJob) {
	offset, err := strconv.ParseInt(r.URL.Query().Get("offset"), 10, 64)
	body, rerr := io.ReadAll(r.Body)
	if err != nil || rerr != nil {
		fail(w, http.StatusBadRequest, "bad log append")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if j.result != nil {
		fail(w, http.StatusConflict, "job is finished")
		return
	}
	if s.logHook != nil && s.logHook(j, offset, body, w) {
		return
	}
	if offset != int64(len(j.log)) {
		answer(w, http.StatusRequestedRangeNotSatisfiable, runnerapi.LogAck{Size: int64(len(j.log))})
		return
	}
	j.log = append(j.log, body...)
	answer(w, http.StatusAccepted, runnerapi.LogAck{Size: int64(len(j.log))})
}

func (s *testServer) artifactPath(job int64, file string) string {
	return filepath.Join(s.root, "artifacts", strconv.FormatInt(job, 10), file)
}

func (s *testServer) putArtifact(w http.ResponseWriter, r *http.Request, j *testJob) {
	file := r.PathValue("file")
	if file != archiveFile && file != indexFile && file != metaFile {
		fail(w, http.StatusBadRequest, "not an artifact file")
		return
	}
	s.store(w, r, s.artifactPath(j.spec.ID, file))
}

func (s *testServer) getArtifact(w http.ResponseWriter, r *http.Request, _ *testJob) {
	dep, _ := strconv.ParseInt(r.PathValue("dep"), 10, 64)
	s.serve(w, r, s.artifactPath(dep, filepath.Base(r.PathValue("file"))))
}

func (s *testServer) cachePath(project int64, key string) string {
	return filepath.Join(s.root, "caches", strconv.FormatInt(project, 10), url2file(key))
}

// url2file keeps a key one file name in the test's store.
func url2file(key string) string { return strings.ReplaceAll(key, "/", "%2F") }

func (s *testServer) getCache(w http.ResponseWriter, r *http.Request, j *testJob) {
	s.serve(w, r, s.cachePath(j.spec.ProjectID, r.PathValue("key")))
}

func (s *testServer) putCache(w http.ResponseWriter, r *http.Request, j *testJob) {
	s.store(w, r, s.cachePath(j.spec.ProjectID, r.PathValue("key")))
}

// serve answers with a file, honouring If-Modified-Since, or 404.
func (s *testServer) serve(w http.ResponseWriter, r *http.Request, path string) {
	f, err := os.Open(path)
	if err != nil {
		fail(w, http.StatusNotFound, "no such file")
		return
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		fail(w, http.StatusInternalServerError, err.Error())
		return
	}
	http.ServeContent(w, r, "", info.ModTime(), f)
}

// store writes the body beside path and renames it into place.
func (s *testServer) store(w http.ResponseWriter, r *http.Request, path string) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		fail(w, http.StatusInternalServerError, err.Error())
		return
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".upload-")
	if err != nil {
		fail(w, http.StatusInternalServerError, err.Error())
		return
	}
	_, err = io.Copy(tmp, r.Body)
	tmp.Close()
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		fail(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.WriteHeader(http.StatusCreated)
}

func (s *testServer) finish(w http.ResponseWriter, r *http.Request, j *testJob) {
	var res runnerapi.Result
	if err := json.NewDecoder(r.Body).Decode(&res); err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	j.finishCalls++
	if j.result != nil {
		fail(w, http.StatusConflict, "job is finished")
		return
	}
	j.result = &res
	close(j.done)
	answer(w, http.StatusOK, struct{}{})
}

// logOf returns what the server holds of a job's log.
func (s *testServer) logOf(j *testJob) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(j.log)
}

// cancelJob makes the job's next lease renewal ask the runner to stop.
func (s *testServer) cancelJob(j *testJob) {
	s.mu.Lock()
	j.cancel = true
	s.mu.Unlock()
}

// wait returns the job's result, failing the test if it takes longer than
// a very generous bound.
func (s *testServer) wait(j *testJob) runnerapi.Result {
	s.t.Helper()
	select {
	case <-j.done:
	case <-time.After(2 * time.Minute):
		s.t.Fatalf("job %d did not finish; log so far:\n%s", j.spec.ID, s.logOf(j))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return *j.result
}

// waitLog waits until the job's log holds want.
func (s *testServer) waitLog(j *testJob, want string) {
	s.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !strings.Contains(s.logOf(j), want) {
		if time.Now().After(deadline) {
			s.t.Fatalf("job %d log never showed %q:\n%s", j.spec.ID, want, s.logOf(j))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// finishes counts the runner's finish requests for j.
func (s *testServer) finishes(j *testJob) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return j.finishCalls
}
