package deploy

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/gantry-ci/gantry/internal/deploy/spec"
)

// Caller is who made an API request, as the server's authentication
// found them.
type Caller struct {
	// Name is recorded in events and history ("admin", "job 42").
	Name  string
	Admin bool
	// JobID is set for a job token (CI_JOB_TOKEN); JobPlayedByUser when
	// that job was a manual job a user started, the approval that a
	// production-tier deploy needs.
	JobID           int64
	JobPlayedByUser bool
	ProjectID       int64
}

// Authorizer checks that the request may read (write false) or change
// (write true) the project. An error wrapping ErrForbidden answers 403,
// ErrNotFound 404, any other 401.
type Authorizer func(r *http.Request, project string, write bool) (Caller, error)

// APIPrefix is where the server mounts Handler.
const APIPrefix = "/api/v1/deploy/"

// maxSpecBytes bounds a spec sent to the API.
const maxSpecBytes = 1 << 20

// Handler serves the deploy API under APIPrefix:
//
//	POST {prefix}{project}/{app}/{env}            deploy (multipart or JSON)
//	GET  {prefix}{project}                        every rollout's status
//	GET  {prefix}{project}/{app}/{env}/status
//	GET  {prefix}{project}/{app}/{env}/watch      statuses as NDJSON
//	GET  {prefix}{project}/{app}/{env}/history
//	GET  {prefix}{project}/{app}/{env}/analysis   measurements and verdict
//	POST {prefix}{project}/{app}/{env}/promote    ?full=true
//	POST {prefix}{project}/{app}/{env}/abort|retry|pause
//	POST {prefix}{project}/{app}/{env}/undo       ?to-revision=N
//
// Errors are JSON {"error": reason}; spec errors add "errors", a list of
// {file, line, column, message}.
func (c *Controller) Handler(auth Authorizer) http.Handler {
	mux := http.NewServeMux()
	p := strings.TrimSuffix(APIPrefix, "/")
	read := func(h func(w http.ResponseWriter, r *http.Request, k Key)) http.HandlerFunc {
		return c.guard(auth, false, h)
	}
	write := func(h func(w http.ResponseWriter, r *http.Request, k Key, who Caller)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			k := keyOf(r)
			who, err := auth(r, k.Project, true)
			if err != nil {
				writeAuthError(w, err)
				return
			}
			h(w, r, k, who)
		}
	}
	mux.HandleFunc("POST "+p+"/{project}/{app}/{env}", write(c.serveDeploy))
	mux.HandleFunc("GET "+p+"/{project}", func(w http.ResponseWriter, r *http.Request) {
		project := r.PathValue("project")
		if _, err := auth(r, project, false); err != nil {
			writeAuthError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, c.List(r.Context(), project))
	})
	mux.HandleFunc("GET "+p+"/{project}/{app}/{env}/status", read(func(w http.ResponseWriter, r *http.Request, k Key) {
		st, err := c.Status(r.Context(), k)
		respond(w, st, err)
	}))
	mux.HandleFunc("GET "+p+"/{project}/{app}/{env}/history", read(func(w http.ResponseWriter, r *http.Request, k Key) {
		h, err := c.History(r.Context(), k)
		respond(w, h, err)
	}))
	mux.HandleFunc("GET "+p+"/{project}/{app}/{env}/analysis", read(func(w http.ResponseWriter, r *http.Request, k Key) {
		a, err := c.Analysis(r.Context(), k)
		respond(w, a, err)
	}))
	mux.HandleFunc("GET "+p+"/{project}/{app}/{env}/watch", read(c.serveWatch))
	mux.HandleFunc("POST "+p+"/{project}/{app}/{env}/{action}", write(c.serveAction))
	return mux
}

func keyOf(r *http.Request) Key {
	return Key{Project: r.PathValue("project"), App: r.PathValue("app"), Env: r.PathValue("env")}
}

func (c *Controller) guard(auth Authorizer, write bool, h func(w http.ResponseWriter, r *http.Request, k Key)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		k := keyOf(r)
		if _, err := auth(r, k.Project, write); err != nil {
			writeAuthError(w, err)
			return
		}
		h(w, r, k)
	}
}

// tierOf is the tier the newest revision's spec gives k's environment.
func (c *Controller) tierOf(k Key) spec.Tier {
	ro, err := c.lookup(k)
	if err != nil {
		return ""
	}
	ro.mu.Lock()
	defer ro.mu.Unlock()
	var newest int64
	for n := range ro.revs {
		newest = max(newest, n)
	}
	if lr := ro.revs[newest]; lr != nil && lr.spec != nil {
		if env := lr.spec.Environment(k.Env); env != nil {
			return env.Tier
		}
	}
	return ""
}

// serveAction runs promote, abort, retry, pause and undo.
func (c *Controller) serveAction(w http.ResponseWriter, r *http.Request, k Key, who Caller) {
	ctx := r.Context()
	if who.JobID != 0 && !who.JobPlayedByUser && c.tierOf(k) == spec.TierProduction {
		// A job may change production traffic only with the approval a
		// deploy there needs: a user played it.
		writeError(w, http.StatusForbidden, fmt.Errorf("environment %q is a production-tier environment: a job changes its rollout only when it is a manual job a user played", k.Env))
		return
	}
	var st *Status
	var err error
	switch action := r.PathValue("action"); action {
	case "promote":
		st, err = c.Promote(ctx, k, r.URL.Query().Get("full") == "true", who.Name)
	case "abort":
		st, err = c.Abort(ctx, k, who.Name)
	case "retry":
		st, err = c.Retry(ctx, k, who.Name)
	case "pause":
		st, err = c.Pause(ctx, k, who.Name)
	case "undo":
		var to int64
		if v := r.URL.Query().Get("to-revision"); v != "" {
			if to, err = strconv.ParseInt(v, 10, 64); err != nil || to <= 0 {
				writeError(w, http.StatusBadRequest, fmt.Errorf("to-revision %q is not a revision number", v))
				return
			}
		}
		st, err = c.Undo(ctx, k, to, who.Name)
	default:
		writeError(w, http.StatusNotFound, fmt.Errorf("unknown action %q (promote, abort, retry, pause, undo)", action))
		return
	}
	respond(w, st, err)
}

// serveWatch streams the rollout's status as one JSON object per line,
// now and after every decision, until the client goes away.
func (c *Controller) serveWatch(w http.ResponseWriter, r *http.Request, k Key) {
	ch, err := c.Watch(r.Context(), k)
	if err != nil {
		respond(w, nil, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	enc := json.NewEncoder(w)
	for st := range ch {
		if enc.Encode(st) != nil {
			return
		}
		_ = rc.Flush()
	}
}

// DeployResponse is the answer to a deploy.
type DeployResponse struct {
	Revision *Revision `json:"revision"`
	Status   *Status   `json:"status"`
}

// deployBody is the JSON form of a deploy; the CLI sends multipart.
type deployBody struct {
	Spec     string            `json:"spec"`
	SpecFile string            `json:"specFile"`
	Version  string            `json:"version"`
	Set      map[string]string `json:"set"`
	SHA      string            `json:"sha"`
	// Artifact is base64.
	Artifact string `json:"artifact"`
}

func (c *Controller) serveDeploy(w http.ResponseWriter, r *http.Request, k Key, who Caller) {
	r.Body = http.MaxBytesReader(w, r.Body, MaxArtifactBytes+maxSpecBytes+(1<<20))
	req, cleanup, err := readDeploy(r)
	defer cleanup()
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	req.Project, req.Env = k.Project, k.Env
	sp, env, err := ParseSpec(req.SpecFile, req.SpecYAML, k.Env)
	if err != nil {
		respond(w, nil, err)
		return
	}
	if sp.App != k.App {
		writeError(w, http.StatusBadRequest, fmt.Errorf("%s names the app %q, the URL %q", req.SpecFile, sp.App, k.App))
		return
	}
	if env.Tier == spec.TierProduction && !who.Admin && !who.JobPlayedByUser {
		writeError(w, http.StatusForbidden, fmt.Errorf("environment %q is a production-tier environment: deploying to it needs an admin token or a manual job (when: manual) played by a user", env.Name))
		return
	}
	req.Who, req.JobID, req.ProjectID = who.Name, who.JobID, who.ProjectID
	rev, err := c.Deploy(r.Context(), req)
	if err != nil {
		respond(w, nil, err)
		return
	}
	st, _ := c.Status(r.Context(), Key{Project: k.Project, App: sp.App, Env: env.Name})
	writeJSON(w, http.StatusCreated, DeployResponse{Revision: rev, Status: st})
}

// readDeploy reads a multipart form (fields spec, spec_file, version, sha,
// set=K=V repeated; files spec and artifact) or a JSON deployBody.
func readDeploy(r *http.Request) (DeployRequest, func(), error) {
	var req DeployRequest
	nothing := func() {}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		var b deployBody
		if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
			return req, nothing, fmt.Errorf("read deploy request: %w", err)
		}
		req.SpecYAML, req.SpecFile, req.Version, req.Set, req.SHA = []byte(b.Spec), b.SpecFile, b.Version, b.Set, b.SHA
		if b.Artifact != "" {
			data, err := base64.StdEncoding.DecodeString(b.Artifact)
			if err != nil {
				return req, nothing, fmt.Errorf("artifact is not base64: %w", err)
			}
			req.Artifact = strings.NewReader(string(data))
		}
		return req, nothing, nil
	}
	if err := r.ParseMultipartForm(32 << 20); err != nil {
		return req, nothing, fmt.Errorf("read deploy request (multipart/form-data or JSON): %w", err)
	}
	form := r.MultipartForm
	cleanup := func() { _ = form.RemoveAll() }
	val := func(name string) string {
		if v := form.Value[name]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	req.SpecFile, req.Version, req.SHA = val("spec_file"), val("version"), val("sha")
	req.SpecYAML = []byte(val("spec"))
	if fh := form.File["spec"]; len(fh) > 0 {
		f, err := fh[0].Open()
		if err != nil {
			return req, cleanup, err
		}
		data, err := io.ReadAll(io.LimitReader(f, maxSpecBytes))
		f.Close()
		if err != nil {
			return req, cleanup, err
		}
		req.SpecYAML = data
		if req.SpecFile == "" {
			req.SpecFile = fh[0].Filename
		}
	}
	for _, kv := range form.Value["set"] {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return req, cleanup, fmt.Errorf("set %q is not KEY=VALUE", kv)
		}
		if req.Set == nil {
			req.Set = map[string]string{}
		}
		req.Set[k] = v
	}
	if fh := form.File["artifact"]; len(fh) > 0 {
		f, err := fh[0].Open()
		if err != nil {
			return req, cleanup, err
		}
		req.Artifact = f
		prev := cleanup
		cleanup = func() { f.Close(); prev() }
	}
	return req, cleanup, nil
}

// respond writes v, or err with the status its kind calls for.
func respond(w http.ResponseWriter, v any, err error) {
	if err != nil {
		writeError(w, statusOf(err), err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func statusOf(err error) int {
	switch {
	case errors.Is(err, ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, ErrForbidden):
		return http.StatusForbidden
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, ErrConflict):
		return http.StatusConflict
	case errors.Is(err, ErrClosed):
		return http.StatusServiceUnavailable
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

func writeAuthError(w http.ResponseWriter, err error) {
	status := http.StatusUnauthorized
	switch {
	case errors.Is(err, ErrForbidden):
		status = http.StatusForbidden
	case errors.Is(err, ErrNotFound):
		status = http.StatusNotFound
	}
	writeError(w, status, err)
}

// apiError is the JSON of an error answer.
type apiError struct {
	Error  string        `json:"error"`
	Errors []*spec.Error `json:"errors,omitempty"`
}

func writeError(w http.ResponseWriter, status int, err error) {
	body := apiError{Error: err.Error()}
	var list spec.ErrorList
	if errors.As(err, &list) {
		body.Errors = list
	}
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
