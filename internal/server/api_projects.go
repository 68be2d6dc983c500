package server

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"time"

	"github.com/gantry-ci/gantry/internal/pipeline"
	"github.com/gantry-ci/gantry/internal/secret"
	"github.com/gantry-ci/gantry/internal/store"
)

var projectName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)

type projectBody struct {
	Name          string  `json:"name"`
	Repo          string  `json:"repo"`
	DefaultBranch string  `json:"default_branch"`
	Public        *bool   `json:"public"`
	Poll          *string `json:"poll"`
}

func webhookAAD(name string) string { return "project/" + name + "/webhook" }

func (s *Server) projectView(proj *store.Project, p *principal) projectJSON {
	v := projectJSON{
		ID: proj.ID, Name: proj.Name, Repo: proj.RepoURL, DefaultBranch: proj.DefaultBranch,
		Public: proj.Public, CreatedAt: proj.CreatedAt,
	}
	if proj.PollInterval > 0 {
		v.Poll = proj.PollInterval.String()
	}
	if p.user() {
		if sec, err := s.box.Open(proj.WebhookSecret, webhookAAD(proj.Name)); err == nil {
			v.WebhookSecret = string(sec)
		}
		v.Hooks = map[string]string{}
		for _, f := range []string{"github", "gitlab", "gitea"} {
			v.Hooks[f] = s.url + "/hooks/" + proj.Name + "/" + f
		}
	}
	return v
}

func (s *Server) listProjects(w http.ResponseWriter, r *http.Request, p *principal) {
	projs, err := s.store.ListProjects(r.Context())
	if err != nil {
		s.fail(w, err)
		return
	}
	out := []projectJSON{}
	for _, proj := range projs {
		if p.canRead(proj) {
			out = append(out, s.projectView(proj, p))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) createProject(w http.ResponseWriter, r *http.Request, p *principal) {
	if !p.user() {
		s.fail(w, statusError(http.StatusForbidden, "only users may create projects"))
		return
	}
	var body projectBody
	if err := readJSON(w, r, &body); err != nil {
		s.fail(w, err)
		return
	}
	proj, err := s.addProject(r.Context(), body)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, s.projectView(proj, p))
}

// addProject validates, mirrors the repository once (so a wrong URL is
// reported now, not at the first push) and stores the project with a new
// webhook secret.
func (s *Server) addProject(ctx context.Context, body projectBody) (*store.Project, error) {
	if !projectName.MatchString(body.Name) {
		return nil, statusError(http.StatusBadRequest, "project name %q: use letters, digits, '.', '_' and '-' (at most 100)", body.Name)
	}
	if body.Repo == "" {
		return nil, statusError(http.StatusBadRequest, "repo is required (a path, file://, http(s):// or ssh:// URL)")
	}
	proj := &store.Project{Name: body.Name, RepoURL: body.Repo, DefaultBranch: body.DefaultBranch}
	if body.Public != nil {
		proj.Public = *body.Public
	}
	if err := applyPoll(proj, body.Poll); err != nil {
		return nil, err
	}
	if _, err := s.store.Project(ctx, body.Name); err == nil {
		return nil, statusError(http.StatusConflict, "project %q already exists", body.Name)
	}
	m, err := s.mirror.get(ctx, proj)
	if err != nil {
		return nil, statusError(http.StatusBadRequest, "%v", err)
	}
	if _, err := m.Fetch(ctx); err != nil {
		s.mirror.forget(proj.Name)
		return nil, statusError(http.StatusBadRequest, "fetch %s: %v", body.Repo, err)
	}
	if proj.DefaultBranch == "" {
		proj.DefaultBranch = "main"
		if _, _, err := m.Resolve(ctx, "main"); err != nil {
			if _, _, err := m.Resolve(ctx, "master"); err == nil {
				proj.DefaultBranch = "master"
			}
		}
	}
	hookSecret, err := secret.NewToken("hook")
	if err != nil {
		return nil, err
	}
	if proj.WebhookSecret, err = s.box.Seal([]byte(hookSecret), webhookAAD(proj.Name)); err != nil {
		return nil, err
	}
	if err := s.store.CreateProject(ctx, proj); err != nil {
		return nil, fmt.Errorf("store project: %w", err)
	}
	return proj, nil
}

func applyPoll(proj *store.Project, poll *string) error {
	if poll == nil {
		return nil
	}
	if *poll == "" || *poll == "0" {
		proj.PollInterval = 0
		return nil
	}
	d, err := pipeline.ParseDuration(*poll)
	if err != nil || d < 10*time.Second {
		return statusError(http.StatusBadRequest, "poll %q: want a duration of at least 10s, like 1m", *poll)
	}
	proj.PollInterval = d
	return nil
}

func (s *Server) showProject(w http.ResponseWriter, r *http.Request, p *principal) {
	proj, err := s.readableProject(r.Context(), r, p)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.projectView(proj, p))
}

func (s *Server) updateProject(w http.ResponseWriter, r *http.Request, p *principal) {
	proj, err := s.readableProject(r.Context(), r, p)
	if err != nil {
		s.fail(w, err)
		return
	}
	if !p.user() {
		s.fail(w, statusError(http.StatusForbidden, "only users may change projects"))
		return
	}
	var body projectBody
	if err := readJSON(w, r, &body); err != nil {
		s.fail(w, err)
		return
	}
	if body.Name != "" && body.Name != proj.Name {
		s.fail(w, statusError(http.StatusBadRequest, "a project cannot be renamed"))
		return
	}
	if body.Repo != "" && body.Repo != proj.RepoURL {
		proj.RepoURL = body.Repo
		s.mirror.forget(proj.Name)
	}
	if body.DefaultBranch != "" {
		proj.DefaultBranch = body.DefaultBranch
	}
	if body.Public != nil {
		proj.Public = *body.Public
	}
	if err := applyPoll(proj, body.Poll); err != nil {
		s.fail(w, err)
		return
	}
	if err := s.store.UpdateProject(r.Context(), proj); err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.projectView(proj, p))
}

func (s *Server) deleteProject(w http.ResponseWriter, r *http.Request, p *principal) {
	if !p.admin() {
		s.fail(w, statusError(http.StatusForbidden, "only an admin may delete projects"))
		return
	}
	proj, err := s.store.Project(r.Context(), r.PathValue("project"))
	if err != nil {
		s.fail(w, err)
		return
	}
	if err := s.store.DeleteProject(r.Context(), proj.ID); err != nil {
		s.fail(w, err)
		return
	}
	s.mirror.forget(proj.Name)
	w.WriteHeader(http.StatusNoContent)
}

type variableJSON struct {
	Key       string `json:"key"`
	Value     string `json:"value,omitempty"`
	Masked    bool   `json:"masked"`
	Protected bool   `json:"protected"`
	File      bool   `json:"file"`
}

type variableBody struct {
	Value     *string `json:"value"`
	Masked    bool    `json:"masked"`
	Protected bool    `json:"protected"`
	File      bool    `json:"file"`
}

var variableKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,254}$`)

// listVariables shows values of unmasked variables only: a masked value
// is never shown again once set, as in GitLab.
func (s *Server) listVariables(w http.ResponseWriter, r *http.Request, p *principal) {
	proj, err := s.readableProject(r.Context(), r, p)
	if err != nil {
		s.fail(w, err)
		return
	}
	if !p.user() {
		s.fail(w, statusError(http.StatusForbidden, "only users may read variables"))
		return
	}
	vars, err := s.store.Variables(r.Context(), proj.ID)
	if err != nil {
		s.fail(w, err)
		return
	}
	out := []variableJSON{}
	for _, v := range vars {
		j := variableJSON{Key: v.Key, Masked: v.Masked, Protected: v.Protected, File: v.File}
		if !v.Masked {
			if val, err := s.box.Open(v.Value, variableAAD(proj.ID, v.Key)); err == nil {
				j.Value = string(val)
			}
		}
		out = append(out, j)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) setVariable(w http.ResponseWriter, r *http.Request, p *principal) {
	proj, err := s.readableProject(r.Context(), r, p)
	if err != nil {
		s.fail(w, err)
		return
	}
	if !p.user() {
		s.fail(w, statusError(http.StatusForbidden, "only users may set variables"))
		return
	}
	key := r.PathValue("key")
	if !variableKey.MatchString(key) {
		s.fail(w, statusError(http.StatusBadRequest, "variable key %q: use letters, digits and '_'", key))
		return
	}
	var body variableBody
	if err := readJSON(w, r, &body); err != nil {
		s.fail(w, err)
		return
	}
	if body.Value == nil {
		s.fail(w, statusError(http.StatusBadRequest, "value is required"))
		return
	}
	if body.Masked && len(*body.Value) < 8 {
		s.fail(w, statusError(http.StatusBadRequest, "a masked value must be at least 8 characters long, as in GitLab"))
		return
	}
	sealed, err := s.box.Seal([]byte(*body.Value), variableAAD(proj.ID, key))
	if err != nil {
		s.fail(w, err)
		return
	}
	v := &store.Variable{ProjectID: proj.ID, Key: key, Value: sealed, Masked: body.Masked, Protected: body.Protected, File: body.File}
	if err := s.store.SetVariable(r.Context(), v); err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, variableJSON{Key: key, Masked: v.Masked, Protected: v.Protected, File: v.File})
}

func (s *Server) deleteVariable(w http.ResponseWriter, r *http.Request, p *principal) {
	proj, err := s.readableProject(r.Context(), r, p)
	if err != nil {
		s.fail(w, err)
		return
	}
	if !p.user() {
		s.fail(w, statusError(http.StatusForbidden, "only users may delete variables"))
		return
	}
	if err := s.store.DeleteVariable(r.Context(), proj.ID, r.PathValue("key")); err != nil {
		s.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
