package deploy

import (
	"context"
	"errors"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/gantry-ci/gantry/internal/deploy/analysis"
	"github.com/gantry-ci/gantry/internal/deploy/spec"
	"github.com/gantry-ci/gantry/internal/deploy/strategy"
	"github.com/gantry-ci/gantry/internal/store"
)

// envName is what --set may name: a portable environment variable.
var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Deploy creates the next revision of the app in req.Env from the spec
// and artifact, and starts rolling it out with the environment's
// strategy. The first revision of an environment becomes stable at once.
// It returns once the rollout has started; Status and Watch follow it.
func (c *Controller) Deploy(ctx context.Context, req DeployRequest) (*Revision, error) {
	sp, env, err := ParseSpec(req.SpecFile, req.SpecYAML, req.Env)
	if err != nil {
		return nil, err
	}
	if req.Project == "" {
		return nil, invalid("deploy %s: no project", sp.App)
	}
	if err := checkVersion(req.Version); err != nil {
		return nil, err
	}
	for k := range req.Set {
		if !envName.MatchString(k) {
			return nil, invalid("--set %s: not a valid environment variable name", k)
		}
	}
	artifact, err := c.storeArtifact(req.Artifact, sp)
	if err != nil {
		return nil, err
	}
	if artifact != "" {
		defer c.arts.unpin(artifact)
	}
	key := Key{Project: req.Project, App: sp.App, Env: env.Name}
	ro, err := c.rolloutFor(ctx, key, env, req.ProjectID)
	if err != nil {
		return nil, err
	}
	rr := &revisionRecord{
		Version: req.Version, SpecFile: req.SpecFile, SpecYAML: string(req.SpecYAML), Artifact: artifact,
		Set: maps.Clone(req.Set), Who: req.Who, JobID: req.JobID, SHA: req.SHA,
	}
	rep := ro.do(ctx, &request{who: req.Who, mutate: func(ctx context.Context, ch *change) error {
		if req.ProjectID != 0 {
			ch.rec.ProjectID = req.ProjectID
		}
		return ro.begin(ctx, ch, rr, sp)
	}})
	if rep.err != nil {
		return nil, rep.err
	}
	for _, h := range ro.history() {
		if h.Revision == rep.rev {
			return &h, nil
		}
	}
	return nil, conflict("deploy %s: revision %d vanished", key, rep.rev)
}

// ParseSpec parses a deploy spec and finds the environment in it; errors
// carry file:line:column and wrap ErrInvalid.
func ParseSpec(file string, yaml []byte, envName string) (*spec.Spec, *spec.Environment, error) {
	if file == "" {
		file = "gantry.deploy.yaml"
	}
	sp, err := spec.Parse(file, yaml)
	if err != nil {
		return nil, nil, withKind(ErrInvalid, err)
	}
	if _, err := analysis.Parse(sp.Analysis); err != nil {
		return nil, nil, invalid("%s: %v", file, err)
	}
	if envName == "" {
		return nil, nil, invalid("no environment given (--env)")
	}
	env := sp.Environment(envName)
	if env == nil {
		names := make([]string, len(sp.Environments))
		for i, e := range sp.Environments {
			names[i] = e.Name
		}
		return nil, nil, invalid("%s: environment %q is not defined (it defines: %s)", file, envName, strings.Join(names, ", "))
	}
	return sp, env, nil
}

// checkVersion accepts labels that fit an environment variable, a metric
// label and a response header.
func checkVersion(v string) error {
	if v == "" {
		return invalid("no version label given (--version)")
	}
	if len(v) > 128 {
		return invalid("version label is longer than 128 characters")
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c <= ' ' || c >= 0x7f {
			return invalid("version label %q has spaces or characters outside printable ASCII", v)
		}
	}
	return nil
}

// storeArtifact keeps the uploaded artifact and checks it holds what the
// spec will run.
func (c *Controller) storeArtifact(r io.Reader, sp *spec.Spec) (string, error) {
	rt := sp.Runtime
	if r == nil {
		if rt.Kind == spec.RuntimeWasm && !filepath.IsAbs(rt.Module) {
			return "", invalid("the wasm runtime runs %s from the artifact: give --artifact", rt.Module)
		}
		return "", nil
	}
	single := ""
	switch {
	case rt.Kind == spec.RuntimeWasm:
		single = rt.Module
	case len(rt.Command) > 0 && strings.Contains(rt.Command[0], "/"):
		single = rt.Command[0]
	}
	id, err := c.arts.put(r, single)
	if err != nil {
		return "", err
	}
	if rt.Kind == spec.RuntimeWasm && !filepath.IsAbs(rt.Module) {
		if _, err := os.Stat(filepath.Join(c.arts.path(id), rt.Module)); err != nil {
			c.arts.unpin(id)
			return "", invalid("the artifact has no %s (runtime.module)", rt.Module)
		}
	}
	return id, nil
}

// rolloutFor returns the rollout of k, creating it (and binding its
// listeners) on the first deploy.
func (c *Controller) rolloutFor(ctx context.Context, k Key, env *spec.Environment, projectID int64) (*rollout, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.started || c.closed {
		return nil, ErrClosed
	}
	if ro := c.rollouts[k]; ro != nil {
		return ro, nil
	}
	rec := &rolloutRecord{Project: k.Project, ProjectID: projectID, App: k.App, Env: k.Env}
	ro := newRollout(c, k, rec, 0)
	te, err := c.target.Open(ctx, ro.envOptions(env.Listen, previewListen(env)))
	if err != nil {
		return nil, withKind(ErrConflict, err)
	}
	ro.env = te
	c.rollouts[k] = ro
	c.wg.Go(ro.run)
	return ro, nil
}

// begin creates revision rr (numbered here, in the loop) and starts
// rolling it out.
func (r *rollout) begin(ctx context.Context, ch *change, rr *revisionRecord, sp *spec.Spec) error {
	rec := ch.rec
	n := rec.LastRevision + 1
	rev := *rr
	rev.Revision, rev.CreatedAt = n, ch.now
	if env := sp.Environment(r.key.Env); env != nil {
		if err := r.relisten(ctx, env); err != nil {
			return err
		}
	}
	if err := upsertRevision(ctx, r, &rev); err != nil {
		return err
	}
	lr, err := r.c.load(&rev)
	if err != nil {
		return withKind(ErrInvalid, err)
	}
	ch.added = append(ch.added, lr)
	rec.LastRevision = n
	rec.Revisions = append(rec.Revisions, revisionSummary{
		Revision: n, Version: rev.Version, CreatedAt: ch.now, Who: rev.Who, JobID: rev.JobID, SHA: rev.SHA,
		RollbackOf: rev.RollbackOf, SetKeys: slices.Sorted(maps.Keys(rev.Set)),
	})
	st, ev := strategy.Begin(rec.State, n, ch.now)
	rec.State = st
	ch.event(n, ev.Reason, "%s", ev.Message)
	rec.PendingSuccess = n
	ch.rev = n
	ch.deployed++
	return nil
}

// relisten moves the listeners when the new spec changed them.
func (r *rollout) relisten(ctx context.Context, env *spec.Environment) error {
	r.mu.Lock()
	te := r.env
	r.mu.Unlock()
	if te == nil {
		return nil
	}
	if err := te.Listen(ctx, env.Listen, previewListen(env)); err != nil {
		return withKind(ErrConflict, err)
	}
	return nil
}

// upsertRevision writes a revision record, replacing one left behind by
// a deploy whose rollout record was never saved.
func upsertRevision(ctx context.Context, r *rollout, rev *revisionRecord) error {
	err := saveRevision(ctx, r.c.cfg.Records, r.key, rev)
	if err == nil || !errors.Is(err, store.ErrConflict) {
		return err
	}
	if derr := r.c.cfg.Records.DeleteRecord(ctx, kindRevision, revisionKey(r.key, rev.Revision)); derr != nil {
		return errors.Join(err, derr)
	}
	return saveRevision(ctx, r.c.cfg.Records, r.key, rev)
}

// prune drops the oldest revisions beyond limit, never the stable one,
// the one being rolled out or a warm one, and returns their numbers.
func prune(rec *rolloutRecord, limit int) []int64 {
	if limit <= 0 {
		limit = spec.DefaultRevisionHistoryLimit
	}
	st := rec.State
	pinned := func(rev int64) bool {
		return rev == st.StableRevision || rev == st.CanaryRevision || rev == st.ScaleDownRevision || rec.Replicas[rev] > 0
	}
	var others []int64
	for _, s := range rec.Revisions {
		if !pinned(s.Revision) {
			others = append(others, s.Revision)
		}
	}
	if len(others) <= limit {
		return nil
	}
	sort.Slice(others, func(i, j int) bool { return others[i] < others[j] })
	drop := others[:len(others)-limit]
	rec.Revisions = slices.DeleteFunc(rec.Revisions, func(s revisionSummary) bool { return slices.Contains(drop, s.Revision) })
	return drop
}

// gcArtifacts removes the artifacts no kept revision of any rollout
// uses.
func (c *Controller) gcArtifacts(ctx context.Context) {
	inUse := map[string]bool{}
	c.mu.Lock()
	ros := slices.Collect(maps.Values(c.rollouts))
	c.mu.Unlock()
	for _, ro := range ros {
		ro.mu.Lock()
		for _, lr := range ro.revs {
			inUse[lr.rec.Artifact] = true
		}
		ro.mu.Unlock()
	}
	if err := c.arts.gc(inUse); err != nil && ctx.Err() == nil {
		c.log.Warn("remove unused artifacts", "err", err)
	}
}
