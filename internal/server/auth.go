package server

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gantry-ci/gantry/internal/secret"
	"github.com/gantry-ci/gantry/internal/store"
)

// principal is who made a request.
type principal struct {
	kind   string // store.Token* kinds, or "runner"
	name   string
	token  *store.Token
	runner *store.Runner
	job    *store.Job // job tokens: the running job
}

const kindRunner = "runner"

var errUnauthenticated = errors.New("a valid token is required (Authorization: Bearer TOKEN)")

// credential is the token a request carries: a bearer token, GitLab's
// JOB-TOKEN / PRIVATE-TOKEN headers, or a Basic password (git clones).
func credential(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		if tok, ok := strings.CutPrefix(h, "Bearer "); ok {
			return strings.TrimSpace(tok)
		}
	}
	for _, h := range []string{"JOB-TOKEN", "PRIVATE-TOKEN"} {
		if tok := r.Header.Get(h); tok != "" {
			return tok
		}
	}
	if _, pass, ok := r.BasicAuth(); ok {
		return pass
	}
	return ""
}

// authenticate finds the principal of r, or nil when it carries no valid
// credential. A job token is valid only while its job runs.
func (s *Server) authenticate(ctx context.Context, r *http.Request) *principal {
	tok := credential(r)
	if tok == "" {
		return nil
	}
	hash := secret.HashToken(tok)
	if t, err := s.store.TokenByHash(ctx, hash); err == nil {
		if !t.ExpiresAt.IsZero() && time.Now().After(t.ExpiresAt) {
			return nil
		}
		p := &principal{kind: t.Kind, name: t.Name, token: t}
		if t.Kind == store.TokenJob {
			j, err := s.store.Job(ctx, t.JobID)
			if err != nil || (j.Status != store.StatusRunning && j.Status != store.StatusPending) {
				return nil
			}
			p.job = j
		}
		return p
	}
	if rn, err := s.store.RunnerByTokenHash(ctx, hash); err == nil {
		return &principal{kind: kindRunner, name: rn.Name, runner: rn}
	}
	return nil
}

func (p *principal) admin() bool { return p != nil && p.kind == store.TokenAdmin }

// user is a person's token: admin or user.
func (p *principal) user() bool {
	return p != nil && (p.kind == store.TokenAdmin || p.kind == store.TokenUser)
}

// canRead says whether p may read the project.
func (p *principal) canRead(proj *store.Project) bool {
	if proj.Public || p.user() {
		return true
	}
	return p != nil && p.kind == store.TokenJob && p.token.ProjectID == proj.ID
}

// canWrite says whether p may change the project's pipelines and jobs (a
// job token may, for its own project: deploy jobs use it).
func (p *principal) canWrite(proj *store.Project) bool {
	if p.user() {
		return true
	}
	return p != nil && p.kind == store.TokenJob && p.token.ProjectID == proj.ID
}
