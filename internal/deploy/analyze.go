package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gantry-ci/gantry/internal/deploy/analysis"
	"github.com/gantry-ci/gantry/internal/deploy/proxy"
	"github.com/gantry-ci/gantry/internal/deploy/spec"
	"github.com/gantry-ci/gantry/internal/deploy/strategy"
	"github.com/gantry-ci/gantry/internal/deploy/target"
	"github.com/gantry-ci/gantry/internal/store"
)

// proxied is a target environment whose requests Gantry's own proxy
// carries; builtin metrics and guardrails need one.
type proxied interface {
	Proxy() *proxy.Proxy
}

// previewed is a target environment with a blue-green preview address,
// whose own proxy sees the traffic a pre-promotion analysis judges.
type previewed interface {
	PreviewProxy() *proxy.Proxy
}

// analyzer runs a rollout's analysis: runners for the analysis steps,
// background and blue-green runs, and the guardrails of a canary taking
// traffic. The loop starts and stops them (sync) and asks for a verdict
// before each decision; they report from their own goroutines and wake
// the loop when a run ends.
type analyzer struct {
	r *rollout

	mu      sync.Mutex
	rec     analysisRecord
	version int64
	active  map[string]*activeRun // by run name
	guard   *activeRun
	// tripped is the canary a guardrail cut off, until the abort it
	// causes is decided; tripReason is why.
	tripped    int64
	tripReason string

	// routeMu orders traffic changes, so that a guardrail's cut is never
	// undone by a decision being applied at the same moment.
	routeMu     sync.Mutex
	lastTraffic strategy.Traffic
}

type activeRun struct {
	rev    int64
	cancel context.CancelFunc
}

// want is a run the rollout's state calls for.
type want struct {
	name      string
	rev       int64
	templates []string
	// gates: the rollout waits for the run to succeed (a step, a
	// pre-promotion run); otherwise only its failure matters.
	gates bool
}

func newAnalyzer(r *rollout) *analyzer {
	return &analyzer{r: r, active: map[string]*activeRun{}}
}

// load reads the persisted analysis, for a restored rollout.
func (an *analyzer) load(ctx context.Context) error {
	rec, err := an.r.c.cfg.Records.GetRecord(ctx, kindAnalysis, an.r.key.String())
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("load analysis of %s: %w", an.r.key, err)
	}
	var a analysisRecord
	if err := json.Unmarshal(rec.Data, &a); err != nil {
		return fmt.Errorf("decode analysis of %s: %w", an.r.key, err)
	}
	an.mu.Lock()
	an.rec, an.version = a, rec.Version
	an.mu.Unlock()
	return nil
}

// saveLocked persists the analysis record; an.mu is held. A conflict
// (another writer) takes the stored version and writes again, since
// this rollout's analysis has one owner.
func (an *analyzer) saveLocked() {
	data, err := json.Marshal(&an.rec)
	if err != nil {
		an.r.c.log.Error("encode analysis", "rollout", an.r.key, "err", err)
		return
	}
	rs := an.r.c.cfg.Records
	ctx := context.WithoutCancel(an.r.c.ctx)
	for range 2 {
		r := &store.Record{Kind: kindAnalysis, Key: an.r.key.String(), Version: an.version, Data: data}
		err = rs.PutRecord(ctx, r)
		if err == nil {
			an.version = r.Version
			return
		}
		if !errors.Is(err, store.ErrConflict) {
			break
		}
		cur, gerr := rs.GetRecord(ctx, kindAnalysis, an.r.key.String())
		switch {
		case errors.Is(gerr, store.ErrNotFound):
			an.version = 0
		case gerr != nil:
			err = gerr
		default:
			an.version = cur.Version
		}
	}
	an.r.c.log.Error("save analysis", "rollout", an.r.key, "err", err)
}

// wanted lists the runs the state calls for now.
func wanted(st strategy.State, env *spec.Environment) []want {
	var out []want
	inProgress := st.CanaryRevision != 0 && st.CanaryRevision != st.StableRevision && st.Phase != strategy.PhaseAborted
	switch s := env.Strategy; {
	case s.Canary != nil && inProgress:
		if a := s.Canary.Analysis; a != nil && st.StepIndex >= a.StartingStep {
			out = append(out, want{name: RunBackground, rev: st.CanaryRevision, templates: a.Templates})
		}
		if i := st.StepIndex; i < len(s.Canary.Steps) && s.Canary.Steps[i].Analysis != nil {
			out = append(out, want{name: stepRun(i), rev: st.CanaryRevision, templates: s.Canary.Steps[i].Analysis.Templates, gates: true})
		}
	case s.BlueGreen != nil && inProgress:
		if a := s.BlueGreen.PrePromotionAnalysis; a != nil {
			out = append(out, want{name: RunPrePromotion, rev: st.CanaryRevision, templates: a.Templates, gates: true})
		}
	case s.BlueGreen != nil && st.CanaryRevision == 0 && st.ScaleDownRevision != 0 && !st.PromotionTime.IsZero():
		if a := s.BlueGreen.PostPromotionAnalysis; a != nil {
			out = append(out, want{name: RunPostPromotion, rev: st.StableRevision, templates: a.Templates})
		}
	}
	return out
}

// verdict is what the analysis says to the decision about to be made,
// and why when it failed.
func (an *analyzer) verdict(st strategy.State, env *spec.Environment) (strategy.Verdict, string) {
	an.mu.Lock()
	defer an.mu.Unlock()
	if st.CanaryRevision == 0 || st.Phase == strategy.PhaseAborted {
		return strategy.VerdictNone, ""
	}
	if an.tripped != 0 && an.tripped == st.CanaryRevision {
		return strategy.VerdictFailed, an.tripReason
	}
	v := strategy.VerdictNone
	for _, w := range wanted(st, env) {
		if w.rev != st.CanaryRevision {
			continue // post-promotion runs act on their own
		}
		phase := analysis.PhasePending
		if rr := an.rec.run(w.name, w.rev); rr != nil && len(rr.State.Metrics) > 0 {
			phase = rr.State.Phase
		}
		sv := phase.StrategyVerdict()
		switch {
		case sv == strategy.VerdictFailed:
			return sv, fmt.Sprintf("analysis %s failed: %s", w.name, an.rec.run(w.name, w.rev).State.Message)
		case w.gates:
			v = sv
		case sv == strategy.VerdictInconclusive && v != strategy.VerdictRunning:
			v = sv
		}
	}
	return v, ""
}

// sync starts the runs and guardrails the applied state calls for and
// stops the others. It runs on the loop after each decision is applied.
func (an *analyzer) sync(rec *rolloutRecord, sp *spec.Spec, env *spec.Environment, tenv target.Env) {
	if sp == nil || env == nil || tenv == nil {
		return
	}
	st := rec.State
	wants := wanted(st, env)
	an.mu.Lock()
	defer an.mu.Unlock()
	if an.tripped != 0 && (st.CanaryRevision != an.tripped || st.Phase == strategy.PhaseAborted) {
		an.tripped, an.tripReason = 0, ""
	}
	if st.Phase == strategy.PhaseAborted && len(an.rec.Runs) > 0 {
		// A retry measures afresh; measurements and the verdict stay.
		an.rec.Runs = nil
		an.saveLocked()
	}
	keep := map[string]bool{}
	for _, w := range wants {
		keep[w.name] = true
	}
	for name, ar := range an.active {
		if !keep[name] || ar.rev != wantRev(wants, name) {
			ar.cancel()
			delete(an.active, name)
		}
	}
	for _, w := range wants {
		if an.active[w.name] != nil {
			continue
		}
		rr := an.rec.run(w.name, w.rev)
		if rr != nil && rr.State.Phase.Completed() {
			continue
		}
		an.startLocked(w, rr, sp, tenv)
	}
	an.syncGuardLocked(rec, sp, env, tenv)
}

func wantRev(ws []want, name string) int64 {
	for _, w := range ws {
		if w.name == name {
			return w.rev
		}
	}
	return 0
}

// startLocked starts (or resumes) one run; an.mu is held.
func (an *analyzer) startLocked(w want, rr *runRecord, sp *spec.Spec, tenv target.Env) {
	r := an.r
	cfg, err := analysis.Parse(sp.Analysis)
	var run *analysis.Run
	if err == nil {
		ts := make([]*analysis.Template, 0, len(w.templates))
		for _, name := range w.templates {
			ts = append(ts, cfg.Templates[name])
		}
		run, err = analysis.NewRun(ts...)
	}
	if w.rev != an.rec.Revision {
		// Runs of an earlier revision are history now.
		an.rec.Revision = w.rev
		an.rec.Runs = slices.DeleteFunc(an.rec.Runs, func(x runRecord) bool { return x.Revision != w.rev })
		rr = an.rec.run(w.name, w.rev)
	}
	if rr == nil {
		an.rec.Runs = append(an.rec.Runs, runRecord{Name: w.name, Revision: w.rev, Templates: slices.Clone(w.templates)})
		rr = &an.rec.Runs[len(an.rec.Runs)-1]
	}
	if err != nil {
		// Deploy checks the templates, so this is a spec changed under a
		// running rollout; the run fails and says why.
		now := time.Now()
		rr.State = analysis.RunState{Phase: analysis.PhaseError, Message: err.Error(), StartedAt: now,
			Metrics: []analysis.MetricState{{Name: "templates", Phase: analysis.PhaseError}}}
		an.rec.Verdict = &AnalysisVerdict{Run: w.name, Revision: w.rev, Phase: analysis.PhaseError, Reason: err.Error(), Time: now}
		an.saveLocked()
		r.wake()
		return
	}
	prior := rr.State
	if !sameMetrics(run, prior) {
		prior = analysis.RunState{}
	}
	var stats analysis.Source
	if p, ok := tenv.(proxied); ok {
		stats = p.Proxy()
	}
	if p, ok := tenv.(previewed); ok && w.name == RunPrePromotion {
		stats = p.PreviewProxy() // before promotion only testers reach the new revision
	}
	runner := &analysis.Runner{
		Run:      run,
		Provider: analysis.Providers{Stats: stats},
		Args:     an.args(w.rev, tenv),
		Report: func(v analysis.Verdict, st analysis.RunState) {
			an.report(w, v, st)
		},
	}
	ctx, cancel := context.WithCancel(r.c.ctx)
	an.active[w.name] = &activeRun{rev: w.rev, cancel: cancel}
	r.c.wg.Go(func() {
		defer cancel()
		if _, err := runner.Execute(ctx, prior); err != nil && ctx.Err() == nil {
			r.c.log.Error("analysis run", "rollout", r.key, "run", w.name, "err", err)
		}
	})
}

func sameMetrics(run *analysis.Run, st analysis.RunState) bool {
	if len(st.Metrics) != len(run.Metrics) {
		return false
	}
	for i, m := range run.Metrics {
		if st.Metrics[i].Name != m.Name {
			return false
		}
	}
	return true
}

// args fills the placeholders of a run of rev.
func (an *analyzer) args(rev int64, tenv target.Env) analysis.Args {
	r := an.r
	r.mu.Lock()
	stable := r.rec.State.StableRevision
	r.mu.Unlock()
	if rev == stable {
		stable = r.rec.State.ScaleDownRevision
	}
	status := tenv.Status()
	endpoint := func(rev int64) string {
		for _, rep := range status[rev].Replicas {
			if rep.Ready && rep.Endpoint != "" {
				return strings.TrimPrefix(rep.Endpoint, "http://")
			}
		}
		return ""
	}
	a := analysis.Args{App: r.key.App, Env: r.key.Env, Canary: strconv.FormatInt(rev, 10),
		CanaryURL: endpoint(rev)}
	if stable != 0 {
		a.Stable, a.StableURL = strconv.FormatInt(stable, 10), endpoint(stable)
	}
	return a
}

// report stores one measurement and the run's state; a run that ended
// wakes the loop to decide on it.
func (an *analyzer) report(w want, v analysis.Verdict, st analysis.RunState) {
	an.mu.Lock()
	rr := an.rec.run(w.name, w.rev)
	if rr == nil || an.active[w.name] == nil {
		an.mu.Unlock()
		return // the run was stopped meanwhile
	}
	rr.State = st
	an.rec.addMeasurement(Measurement{Run: w.name, Revision: w.rev, Record: v.Record})
	done := st.Phase.Completed()
	if done {
		an.rec.Verdict = &AnalysisVerdict{Run: w.name, Revision: w.rev, Phase: st.Phase, Reason: st.Message, Time: v.Record.Time}
		delete(an.active, w.name)
	}
	post := done && w.name == RunPostPromotion && st.Phase.StrategyVerdict() == strategy.VerdictFailed && !rr.Handled
	if post {
		rr.Handled = true
	}
	an.saveLocked()
	an.mu.Unlock()
	switch {
	case post:
		an.r.switchBackAfter(w.rev, fmt.Sprintf("analysis %s failed: %s", w.name, st.Message))
	case done:
		an.r.wake()
	}
}

// syncGuardLocked runs the guardrails while a canary takes traffic.
func (an *analyzer) syncGuardLocked(rec *rolloutRecord, sp *spec.Spec, env *spec.Environment, tenv target.Env) {
	st := rec.State
	canary := st.CanaryRevision
	taking := env.Strategy.Canary != nil && canary != 0 && st.Phase != strategy.PhaseAborted &&
		(rec.Traffic.Weights[canary] > 0 || (rec.Traffic.Header != nil && rec.Traffic.Header.Revision == canary))
	if g := an.guard; g != nil && (!taking || g.rev != canary) {
		g.cancel()
		an.guard = nil
	}
	if !taking || an.guard != nil || an.tripped == canary {
		return
	}
	p, ok := tenv.(proxied)
	if !ok {
		return
	}
	rules := analysis.DefaultGuardrails()
	if cfg, err := analysis.Parse(sp.Analysis); err == nil {
		rules = cfg.Guardrails
	}
	if len(rules) == 0 {
		return
	}
	g, err := analysis.NewGuard(p.Proxy(), strconv.FormatInt(canary, 10), rules, func(t analysis.Trip) {
		an.trip(canary, t)
	})
	if err != nil {
		an.r.c.log.Error("guardrails", "rollout", an.r.key, "err", err)
		return
	}
	ctx, cancel := context.WithCancel(an.r.c.ctx)
	an.guard = &activeRun{rev: canary, cancel: cancel}
	an.r.c.wg.Go(func() {
		defer cancel()
		g.Run(ctx)
	})
}

// trip cuts the canary's traffic at once, before the loop has decided
// the abort, records why and wakes the loop.
func (an *analyzer) trip(rev int64, t analysis.Trip) {
	reason := t.Reason
	an.routeMu.Lock()
	an.mu.Lock()
	an.tripped, an.tripReason = rev, reason
	an.mu.Unlock()
	an.r.mu.Lock()
	tenv := an.r.env
	an.r.mu.Unlock()
	if tenv != nil {
		if err := tenv.Route(an.filter(an.lastTraffic)); err != nil {
			an.r.c.log.Error("guardrail: route away from canary", "rollout", an.r.key, "err", err)
		}
	}
	an.routeMu.Unlock()

	now := time.Now()
	an.mu.Lock()
	an.rec.addMeasurement(Measurement{Run: RunGuardrails, Revision: rev, Record: analysis.Record{
		Metric: t.Metric, Time: now, Value: analysis.Number(t.Value), Samples: t.Requests, Condition: t.Condition,
		Phase: analysis.PhaseFailed, Message: reason}})
	an.rec.Verdict = &AnalysisVerdict{Run: RunGuardrails, Revision: rev, Phase: analysis.PhaseFailed, Reason: reason, Time: now}
	an.saveLocked()
	an.mu.Unlock()
	an.r.wake()
}

// route applies a traffic split, leaving out a canary a guardrail cut.
func (an *analyzer) route(tenv target.Env, t strategy.Traffic) error {
	an.routeMu.Lock()
	defer an.routeMu.Unlock()
	an.lastTraffic = cloneTraffic(t)
	return tenv.Route(an.filter(t))
}

// filter gives a tripped canary's share to the active revision.
func (an *analyzer) filter(t strategy.Traffic) strategy.Traffic {
	an.mu.Lock()
	rev := an.tripped
	an.mu.Unlock()
	if rev == 0 {
		return t
	}
	t = cloneTraffic(t)
	if w := t.Weights[rev]; w > 0 && t.Active != 0 && t.Active != rev {
		delete(t.Weights, rev)
		t.Weights[t.Active] += w
	}
	if t.Canary == rev {
		t.CanaryWeight = 0
	}
	if t.Header != nil && t.Header.Revision == rev {
		t.Header = nil
	}
	return t
}

// stop ends every run and the guard (the controller is closing).
func (an *analyzer) stop() {
	an.mu.Lock()
	defer an.mu.Unlock()
	for name, ar := range an.active {
		ar.cancel()
		delete(an.active, name)
	}
	if an.guard != nil {
		an.guard.cancel()
		an.guard = nil
	}
}

// status is the analysis as `rollout analysis` shows it.
func (an *analyzer) status() *AnalysisStatus {
	an.mu.Lock()
	defer an.mu.Unlock()
	k := an.r.key
	out := &AnalysisStatus{Project: k.Project, App: k.App, Env: k.Env, Revision: an.rec.Revision,
		Measurements: slices.Clone(an.rec.Measurements)}
	if v := an.rec.Verdict; v != nil {
		c := *v
		out.Verdict = &c
	}
	for _, rr := range an.rec.Runs {
		out.Runs = append(out.Runs, AnalysisRun{Name: rr.Name, Revision: rr.Revision, Templates: rr.Templates,
			Phase: rr.State.Phase, Message: rr.State.Message, StartedAt: rr.State.StartedAt})
		if rr.Revision > out.Revision {
			out.Revision = rr.Revision
		}
	}
	return out
}

// lastVerdict is the last verdict, for status.
func (an *analyzer) lastVerdict() *AnalysisVerdict {
	an.mu.Lock()
	defer an.mu.Unlock()
	if an.rec.Verdict == nil {
		return nil
	}
	v := *an.rec.Verdict
	return &v
}
