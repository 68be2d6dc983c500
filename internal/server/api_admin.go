package server

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/gantry-ci/gantry/internal/secret"
	"github.com/gantry-ci/gantry/internal/store"
)

type runnerJSON struct {
	ID          int64     `json:"id"`
	Name        string    `json:"name"`
	Tags        []string  `json:"tags"`
	RunUntagged bool      `json:"run_untagged"`
	Concurrency int       `json:"concurrency"`
	Online      bool      `json:"online"`
	LastSeen    time.Time `json:"last_seen,omitzero"`
	Token       string    `json:"token,omitempty"`
}

// online: seen within two long polls.
func runnerView(rn *store.Runner) runnerJSON {
	return runnerJSON{
		ID: rn.ID, Name: rn.Name, Tags: rn.Tags, RunUntagged: rn.RunUntagged, Concurrency: rn.Concurrency,
		LastSeen: rn.LastSeen, Online: time.Since(rn.LastSeen) < 75*time.Second,
	}
}

func (s *Server) listRunners(w http.ResponseWriter, r *http.Request, p *principal) {
	if !p.admin() {
		s.fail(w, statusError(http.StatusForbidden, "only an admin may list runners"))
		return
	}
	rs, err := s.store.ListRunners(r.Context())
	if err != nil {
		s.fail(w, err)
		return
	}
	out := []runnerJSON{}
	for _, rn := range rs {
		out = append(out, runnerView(rn))
	}
	writeJSON(w, http.StatusOK, out)
}

type runnerBody struct {
	Name        string   `json:"name"`
	Tags        []string `json:"tags"`
	RunUntagged *bool    `json:"run_untagged"`
	Concurrency int      `json:"concurrency"`
}

// createRunner registers a runner and answers its token, once.
func (s *Server) createRunner(w http.ResponseWriter, r *http.Request, p *principal) {
	if !p.admin() && (p == nil || p.kind != store.TokenRunnerRegistration) {
		s.fail(w, statusError(http.StatusForbidden, "only an admin or a runner registration token may create runners"))
		return
	}
	var body runnerBody
	if err := readJSON(w, r, &body); err != nil {
		s.fail(w, err)
		return
	}
	rn, tok, err := s.registerRunner(r.Context(), body)
	if err != nil {
		s.fail(w, err)
		return
	}
	v := runnerView(rn)
	v.Token = tok
	writeJSON(w, http.StatusCreated, v)
}

func (s *Server) registerRunner(ctx context.Context, body runnerBody) (*store.Runner, string, error) {
	if body.Name == "" {
		return nil, "", statusError(http.StatusBadRequest, "name is required")
	}
	tok, err := secret.NewToken("runner")
	if err != nil {
		return nil, "", err
	}
	rn := &store.Runner{
		Name: body.Name, TokenHash: secret.HashToken(tok), Tags: body.Tags, RunUntagged: true,
		Concurrency: body.Concurrency, CreatedAt: time.Now().UTC(),
	}
	if body.RunUntagged != nil {
		rn.RunUntagged = *body.RunUntagged
	} else if len(body.Tags) > 0 {
		rn.RunUntagged = false
	}
	if err := s.store.CreateRunner(ctx, rn); err != nil {
		return nil, "", err
	}
	return rn, tok, nil
}

func (s *Server) deleteRunner(w http.ResponseWriter, r *http.Request, p *principal) {
	if !p.admin() {
		s.fail(w, statusError(http.StatusForbidden, "only an admin may delete runners"))
		return
	}
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, err)
		return
	}
	if err := s.store.DeleteRunner(r.Context(), id); err != nil {
		s.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type tokenBody struct {
	Name string `json:"name"`
	Kind string `json:"kind"` // user (default), admin, runner-registration
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request, p *principal) {
	if !p.admin() {
		s.fail(w, statusError(http.StatusForbidden, "only an admin may create tokens"))
		return
	}
	var body tokenBody
	if err := readJSON(w, r, &body); err != nil {
		s.fail(w, err)
		return
	}
	if body.Kind == "" {
		body.Kind = store.TokenUser
	}
	switch body.Kind {
	case store.TokenUser, store.TokenAdmin, store.TokenRunnerRegistration:
	default:
		s.fail(w, statusError(http.StatusBadRequest, "kind %q: want user, admin or runner-registration", body.Kind))
		return
	}
	if body.Name == "" {
		s.fail(w, statusError(http.StatusBadRequest, "name is required"))
		return
	}
	tok, err := secret.NewToken(strings.ReplaceAll(body.Kind, "-", ""))
	if err != nil {
		s.fail(w, err)
		return
	}
	t := &store.Token{Hash: secret.HashToken(tok), Kind: body.Kind, Name: body.Name, CreatedAt: time.Now().UTC()}
	if err := s.store.CreateToken(r.Context(), t); err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"id": t.ID, "name": t.Name, "kind": t.Kind, "token": tok})
}
