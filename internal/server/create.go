package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/gantry-ci/gantry/internal/forge"
	"github.com/gantry-ci/gantry/internal/mirror"
	"github.com/gantry-ci/gantry/internal/pipeline"
	"github.com/gantry-ci/gantry/internal/pipeline/gitlab"
	"github.com/gantry-ci/gantry/internal/pipeline/remote"
	"github.com/gantry-ci/gantry/internal/plan"
	"github.com/gantry-ci/gantry/internal/store"
	"github.com/gantry-ci/gantry/internal/variables"
)

// pipelineFile is the file a pipeline is read from, at the commit.
const pipelineFile = ".gitlab-ci.yml"

// trigger is what asks for a pipeline.
type trigger struct {
	Source     string // plan.Source*: push, web, api, schedule, merge_request_event
	Ref        string // branch or tag name; resolved when SHA is empty
	Tag        bool
	SHA        string
	BeforeSHA  string
	DeliveryID string
	Variables  []pipeline.Variable
	By         string // who or what: a user's token name, "webhook github", "schedule 3"
	MR         *plan.MergeRequest
}

// errSkipped and errNotCreated say why a trigger made no pipeline; the
// caller answers 200 with the reason, not an error.
var errSkipped = errors.New("skipped")

type notCreatedError struct{ reason string }

func (e *notCreatedError) Error() string { return "no pipeline: " + e.reason }

// pipelineTrigger is the stored description of a trigger (Pipeline.Trigger).
type pipelineTrigger struct {
	By string             `json:"by"`
	MR *plan.MergeRequest `json:"merge_request,omitempty"`
}

// createPipeline plans the project's pipeline file at the trigger's
// commit and stores the pipeline with its jobs, for the coordinator to
// run. A file with errors gives a failed pipeline that says why, as in
// GitLab; workflow:rules that refuse give errNotCreated.
func (s *Server) createPipeline(ctx context.Context, proj *store.Project, t trigger) (*store.Pipeline, error) {
	m, err := s.mirror.get(ctx, proj)
	if err != nil {
		return nil, err
	}
	if t.SHA == "" {
		if _, err := m.Fetch(ctx); err != nil {
			return nil, fmt.Errorf("fetch %s: %w", proj.Name, err)
		}
		sha, isTag, err := m.Resolve(ctx, t.Ref)
		if err != nil {
			return nil, fmt.Errorf("resolve %q in %s: %w", t.Ref, proj.Name, err)
		}
		t.SHA, t.Tag = sha, t.Tag || isTag
	} else if err := m.FetchSHA(ctx, t.SHA); err != nil {
		return nil, fmt.Errorf("fetch %s of %s: %w", t.SHA, proj.Name, err)
	}
	commit, err := m.Commit(ctx, t.SHA)
	if err != nil {
		return nil, fmt.Errorf("read commit %s: %w", t.SHA, err)
	}
	if t.Source == plan.SourcePush && forge.SkipCI(commit.Message) {
		return nil, errSkipped
	}
	sealedVars, err := s.sealVariables(proj, t.Variables)
	if err != nil {
		return nil, err
	}
	trig, _ := json.Marshal(pipelineTrigger{By: t.By, MR: t.MR})
	p := &store.Pipeline{
		ProjectID: proj.ID, Ref: t.Ref, Tag: t.Tag, SHA: t.SHA, BeforeSHA: t.BeforeSHA,
		Source: t.Source, Status: store.StatusCreated, Message: commit.Message, Author: commit.Author,
		DeliveryID: t.DeliveryID, Variables: sealedVars, Trigger: trig, CreatedAt: time.Now().UTC(),
	}
	pl, err := s.plan(ctx, proj, p, m)
	var jobs []*store.Job
	switch {
	case err != nil:
		var perrs pipeline.Errors
		if !errors.As(err, &perrs) && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		p.Status, p.Error, p.FinishedAt = store.StatusFailed, err.Error(), p.CreatedAt
	case !pl.Created:
		return nil, &notCreatedError{reason: pl.Reason}
	default:
		jobs = jobRows(pl)
	}
	if err := s.store.CreatePipeline(ctx, p, jobs); err != nil {
		if errors.Is(err, store.ErrConflict) {
			existing, gerr := s.store.Pipeline(ctx, p.ID)
			if gerr == nil {
				return existing, nil
			}
		}
		return nil, fmt.Errorf("store pipeline: %w", err)
	}
	s.met.pipelineCreated(p.Source)
	if p.Status == store.StatusFailed {
		s.notifyPipeline(ctx, proj, p)
	}
	s.event(ctx, p.ProjectID, p.ID, 0, "pipeline", pipelineView(proj, p))
	s.wake.notify(topicCoord)
	return p, nil
}

// jobRows are the stored jobs of a new pipeline: one created row per job.
func jobRows(pl *plan.Plan) []*store.Job {
	rows := make([]*store.Job, 0, len(pl.Jobs))
	for _, j := range pl.Jobs {
		row := &store.Job{
			Name: j.Name, Stage: j.Stage, Attempt: 1, Status: store.StatusCreated,
			When: string(j.When), AllowFailure: j.AllowFailure.Allowed,
		}
		if j.Def != nil {
			row.Tags = j.Def.Tags
		}
		rows = append(rows, row)
	}
	return rows
}

// plan compiles the project's pipeline file at p's commit and plans it
// for p. It is deterministic for a stored pipeline (time is its creation
// time), which is what lets the coordinator replay it.
func (s *Server) plan(ctx context.Context, proj *store.Project, p *store.Pipeline, m *mirror.Mirror) (*plan.Plan, error) {
	files, err := m.FS(ctx, p.SHA)
	if err != nil {
		return nil, fmt.Errorf("read the tree of %s: %w", p.SHA, err)
	}
	data, err := fs.ReadFile(files, pipelineFile)
	if err != nil {
		return nil, fmt.Errorf("read %s at %.8s: %w", pipelineFile, p.SHA, err)
	}
	vars, err := s.pipelineVariables(ctx, proj, p)
	if err != nil {
		return nil, err
	}
	commit, err := m.Commit(ctx, p.SHA)
	if err != nil {
		return nil, fmt.Errorf("read commit %s: %w", p.SHA, err)
	}
	var trig pipelineTrigger
	_ = json.Unmarshal(p.Trigger, &trig)
	in := plan.Input{
		Ref: p.Ref, IsTag: p.Tag, Source: p.Source, Variables: vars, Files: files,
		Commit: plan.Commit{SHA: p.SHA, BeforeSHA: p.BeforeSHA, Message: commit.Message, Author: commit.Author, Timestamp: commit.Timestamp},
		Project: plan.Project{
			Name: proj.Name, Path: proj.Name, DefaultBranch: proj.DefaultBranch,
			URL: s.url + "/" + proj.Name,
		},
		PipelineID: p.ID, PipelineIID: p.ID, MergeRequest: trig.MR,
		Now: p.CreatedAt, ServerURL: s.url,
	}
	if changed, known, err := m.Changed(ctx, p.BeforeSHA, p.SHA); err == nil && known {
		in.Changed, in.ChangesKnown = changed, true
	}
	in.ChangedSince = func(ref string) ([]string, error) {
		base, _, err := m.Resolve(ctx, ref)
		if err != nil {
			return nil, err
		}
		changed, _, err := m.Changed(ctx, base, p.SHA)
		return changed, err
	}
	opts := gitlab.Options{FS: files, Fetch: remote.Fetch, Variables: variables.Lookup(plan.Predefined(in))}
	parsed, err := gitlab.Load(ctx, pipelineFile, data, opts)
	if err != nil {
		return nil, err
	}
	pl, err := plan.Make(parsed, in)
	if err != nil && !(errors.Is(err, plan.ErrNoJobs) && pl != nil) {
		return nil, err
	}
	return pl, nil
}

// pipelineVariables are the project's variables (protected ones only for
// protected refs: the default branch and tags) below the pipeline's own.
func (s *Server) pipelineVariables(ctx context.Context, proj *store.Project, p *store.Pipeline) ([]pipeline.Variable, error) {
	stored, err := s.store.Variables(ctx, proj.ID)
	if err != nil {
		return nil, fmt.Errorf("read variables of %s: %w", proj.Name, err)
	}
	protected := p.Tag || p.Ref == proj.DefaultBranch
	var vars []pipeline.Variable
	for _, v := range stored {
		if v.Protected && !protected {
			continue
		}
		value, err := s.box.Open(v.Value, variableAAD(proj.ID, v.Key))
		if err != nil {
			return nil, fmt.Errorf("decrypt variable %s of %s: %w", v.Key, proj.Name, err)
		}
		vars = append(vars, pipeline.Variable{Name: v.Key, Value: string(value), Secret: v.Masked, File: v.File, Raw: true})
	}
	own, err := s.openVariables(proj, p.Variables)
	if err != nil {
		return nil, err
	}
	return append(vars, own...), nil
}

func variableAAD(projectID int64, key string) string {
	return "project/" + strconv.FormatInt(projectID, 10) + "/variable/" + key
}

func pipelineVarsAAD(projectID int64) string {
	return "project/" + strconv.FormatInt(projectID, 10) + "/pipeline-variables"
}

// sealVariables stores a pipeline's own variables encrypted: they may
// hold secrets given to a manual run.
func (s *Server) sealVariables(proj *store.Project, vars []pipeline.Variable) (json.RawMessage, error) {
	if len(vars) == 0 {
		return nil, nil
	}
	raw, err := json.Marshal(vars)
	if err != nil {
		return nil, err
	}
	sealed, err := s.box.Seal(raw, pipelineVarsAAD(proj.ID))
	if err != nil {
		return nil, fmt.Errorf("encrypt pipeline variables: %w", err)
	}
	return json.Marshal(sealed)
}

func (s *Server) openVariables(proj *store.Project, stored json.RawMessage) ([]pipeline.Variable, error) {
	if len(stored) == 0 || string(stored) == "null" {
		return nil, nil
	}
	var sealed string
	if err := json.Unmarshal(stored, &sealed); err != nil {
		return nil, fmt.Errorf("read pipeline variables: %w", err)
	}
	raw, err := s.box.Open(sealed, pipelineVarsAAD(proj.ID))
	if err != nil {
		return nil, fmt.Errorf("decrypt pipeline variables: %w", err)
	}
	var vars []pipeline.Variable
	return vars, json.Unmarshal(raw, &vars)
}

// mirrors opens each project's git mirror once.
type mirrors struct {
	root string
	mu   sync.Mutex
	open map[string]*mirror.Mirror
}

func newMirrors(root string) *mirrors {
	return &mirrors{root: root, open: map[string]*mirror.Mirror{}}
}

func (ms *mirrors) get(ctx context.Context, proj *store.Project) (*mirror.Mirror, error) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	if m, ok := ms.open[proj.Name]; ok {
		return m, nil
	}
	m, err := mirror.Open(ctx, ms.dir(proj.Name), proj.RepoURL)
	if err != nil {
		return nil, fmt.Errorf("open the mirror of %s: %w", proj.Name, err)
	}
	ms.open[proj.Name] = m
	return m, nil
}

// dir is where a project's bare mirror lives; runners clone from it.
func (ms *mirrors) dir(project string) string {
	return filepath.Join(ms.root, project+".git")
}

// forget drops a mirror (its project was deleted or its URL changed).
func (ms *mirrors) forget(project string) {
	ms.mu.Lock()
	delete(ms.open, project)
	ms.mu.Unlock()
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func shortSHA(sha string) string {
	if len(sha) > 8 {
		return sha[:8]
	}
	return sha
}
