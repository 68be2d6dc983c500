package plan

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/gantry-ci/gantry/internal/pipeline"
	"github.com/gantry-ci/gantry/internal/pipeline/expr"
)

// ErrNoJobs is returned, together with a plan whose Created is false, when
// rules, only and except leave no job to run. GitLab refuses to create such
// a pipeline with the same words.
var ErrNoJobs = errors.New("pipeline will not run for the selected trigger: " +
	"the rules configuration prevented any jobs from being added to the pipeline")

// planner holds what one Make call computes once and shares between jobs.
type planner struct {
	p       *pipeline.Pipeline
	in      Input
	changed []string
	// since memoises Input.ChangedSince per compare_to ref.
	since map[string][]string

	predef, global, workflow, inputs            []pipeline.Variable
	predefIdx, globalIdx, workflowIdx, inputIdx map[string]int
	predefKept, globalKept                      []pipeline.Variable // see prepareBase

	stageIndex  map[string]int
	exprs       map[string]*expr.Expr
	refREs      map[string]*regexp.Regexp
	existsCache map[string]string

	allInst map[string][]instance // every instance of every job, kept or not
	byBase  map[string][]*Job     // kept instances by the job's name in the file
	byName  map[string]*Job
	needsOf map[*Job][]pipeline.Need // needs as written (or as the rule set them)

	notices    []string
	noticeSeen map[string]bool
}

func (pl *planner) notice(msg string) {
	if !pl.noticeSeen[msg] {
		pl.noticeSeen[msg] = true
		pl.notices = append(pl.notices, msg)
	}
}

// Make plans one pipeline run the way GitLab creates a pipeline: predefined
// variables, workflow:rules, each job's rules or only/except, parallel
// expansion, then needs and dependencies resolved to the instances that
// remain. It reads nothing but in.Files (for rules:exists).
//
// A pipeline that workflow:rules prevent comes back with Created false and
// a nil error. When no job is left, Make returns the plan (Created false,
// with every job in Skipped) together with an error wrapping ErrNoJobs.
// Configuration problems only visible for this run (a need on a job that
// was left out, a parallel keyword over GitLab's limit) return a nil plan
// and an error naming every such job.
func Make(p *pipeline.Pipeline, in Input) (*Plan, error) {
	if p == nil {
		return nil, errors.New("plan pipeline: no pipeline given")
	}
	pl := newPlanner(p, in)
	plan := &Plan{AutoCancel: p.Workflow.AutoCancel}
	pl.includeNotices()

	ws := &scope{pl: pl, forRules: true}
	plan.Reason = "no workflow:rules"
	if len(p.Workflow.Rules) > 0 {
		m, err := pl.evalRules(p.Workflow.Rules, ws, "workflow:rules", "workflow")
		if err != nil {
			return nil, fmt.Errorf("plan pipeline: %w", err)
		}
		plan.Reason = m.reason
		if m.rule == nil || m.rule.When == pipeline.WhenNever {
			plan.Variables = ws.all()
			plan.Notices = pl.notices
			return plan, nil
		}
		pl.workflow = m.rule.Variables
		pl.workflowIdx = indexOf(pl.workflow)
		pl.prepareBase()
	}
	plan.Name = ws.expand(p.Workflow.Name, false)
	if plan.Name != "" {
		pl.predef = append(pl.predef, pipeline.Variable{Name: "CI_PIPELINE_NAME", Value: plan.Name})
		pl.predefIdx = indexOf(pl.predef)
		pl.prepareBase()
	}
	plan.Variables = ws.all()

	var errs []error
	var jobs []*Job
	for _, j := range p.Jobs {
		kept, skipped, err := pl.planJob(j)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		jobs = append(jobs, kept...)
		plan.Skipped = append(plan.Skipped, skipped...)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("plan pipeline: %w", errors.Join(errs...))
	}
	for _, j := range jobs {
		pl.byBase[j.Base] = append(pl.byBase[j.Base], j)
		pl.byName[j.Name] = j
	}
	for _, j := range jobs {
		needs, nerrs := pl.resolveNeeds(j, pl.needsOf[j])
		j.Needs = needs
		errs = append(errs, nerrs...)
		if j.Def.HasDependencies {
			j.Dependencies = pl.resolveDependencies(j, j.Def.Dependencies)
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("plan pipeline: %w", errors.Join(errs...))
	}

	slices.SortStableFunc(jobs, func(a, b *Job) int { return pl.stageIndex[a.Stage] - pl.stageIndex[b.Stage] })
	plan.Jobs = jobs
	for _, s := range p.Stages {
		if slices.ContainsFunc(jobs, func(j *Job) bool { return j.Stage == s }) {
			plan.Stages = append(plan.Stages, s)
		}
	}
	plan.Notices = pl.notices

	switch {
	case len(jobs) == 0:
		plan.Reason = ErrNoJobs.Error()
		return plan, fmt.Errorf("plan pipeline: %w", ErrNoJobs)
	case !slices.ContainsFunc(plan.Stages, func(s string) bool { return s != ".pre" && s != ".post" }):
		plan.Jobs, plan.Stages = nil, nil
		plan.Reason = "only jobs of the .pre and .post stages are left, and GitLab does not run those on their own"
		for _, j := range jobs {
			plan.Skipped = append(plan.Skipped, Skipped{Name: j.Name, Reason: "no job outside .pre and .post"})
		}
		return plan, fmt.Errorf("plan pipeline: %w (%s)", ErrNoJobs, plan.Reason)
	}
	plan.Created = true
	return plan, nil
}

func newPlanner(p *pipeline.Pipeline, in Input) *planner {
	in = normalize(in)
	pl := &planner{
		p:           p,
		in:          in,
		global:      p.Variables,
		inputs:      in.Variables,
		exprs:       map[string]*expr.Expr{},
		refREs:      map[string]*regexp.Regexp{},
		existsCache: map[string]string{},
		allInst:     map[string][]instance{},
		byBase:      map[string][]*Job{},
		byName:      map[string]*Job{},
		needsOf:     map[*Job][]pipeline.Need{},
		noticeSeen:  map[string]bool{},
	}
	pl.stageIndex = make(map[string]int, len(p.Stages))
	for i, s := range p.Stages {
		pl.stageIndex[s] = i
	}
	pl.predef = predefined(&pl.in, "")
	pl.predefIdx = indexOf(pl.predef)
	pl.globalIdx = indexOf(pl.global)
	pl.inputIdx = indexOf(pl.inputs)
	pl.workflowIdx = map[string]int{}
	pl.prepareBase()
	for _, c := range in.Changed {
		pl.changed = append(pl.changed, cleanPath(c))
	}
	return pl
}

// includeNotices says which includes the plan is missing.
func (pl *planner) includeNotices() {
	for _, inc := range pl.p.Includes {
		if inc.Resolved {
			continue
		}
		target := inc.Target
		if len(inc.Files) > 0 {
			target += " (file " + strings.Join(inc.Files, ", ") + ")"
		}
		why := "it needs a GitLab instance"
		if inc.Kind == "remote" {
			why = "remote includes were not fetched"
		}
		pl.notice(fmt.Sprintf("include:%s %s was not included (%s); its jobs and settings are missing from this plan", inc.Kind, target, why))
	}
}

// planJob decides every instance of one job of the file.
func (pl *planner) planJob(j *pipeline.Job) ([]*Job, []Skipped, error) {
	if _, ok := pl.stageIndex[j.Stage]; !ok {
		return nil, nil, fmt.Errorf("jobs:%s:stage: chosen stage %q does not exist", j.Name, j.Stage)
	}
	insts, err := instances(j)
	if err != nil {
		return nil, nil, err
	}
	pl.allInst[j.Name] = insts
	var kept []*Job
	var skipped []Skipped
	for i := range insts {
		inst := &insts[i]
		s := &scope{pl: pl, forRules: true, inherit: j.Inherit.Variables, job: j.Variables}
		if len(inst.matrix) > 0 {
			s.job = append(slices.Clip(j.Variables), inst.matrix...)
		}
		base := jobPredefined(inst, j.Stage)
		s.jobPre = base
		s.jobPre = append(slices.Clip(base), environmentVars(j.Environment, s)...)

		ok, reason, rule, err := pl.decide(j, s)
		if err != nil {
			return nil, nil, err
		}
		if !ok {
			skipped = append(skipped, Skipped{Name: inst.name, Reason: reason})
			continue
		}
		job := pl.build(j, inst, s, rule)
		if rule != nil && len(rule.Variables) > 0 && j.Environment != nil {
			s.jobPre = append(slices.Clip(base), environmentVars(j.Environment, s)...)
			job.Variables = s.all()
		}
		job.Reason = reason
		kept = append(kept, job)
	}
	return kept, skipped, nil
}

// decide applies rules, or only/except, and when: never. It returns the
// matched rule, if any, for its overrides.
func (pl *planner) decide(j *pipeline.Job, s *scope) (bool, string, *pipeline.Rule, error) {
	owner := "jobs:" + j.Name
	if j.HasRules {
		m, err := pl.evalRules(j.Rules, s, "rules", owner)
		if err != nil {
			return false, "", nil, err
		}
		if m.rule == nil || m.rule.When == pipeline.WhenNever {
			return false, m.reason, nil, nil
		}
		return true, m.reason, m.rule, nil
	}
	if j.When == pipeline.WhenNever {
		return false, "when: never", nil, nil
	}
	only, label := j.Only, "only: "
	if only == nil && len(pl.p.Workflow.Rules) == 0 {
		only, label = defaultOnly, "default only: "
	}
	reason := "no rules, only or except (workflow:rules replace the default only: branches, tags)"
	if only != nil {
		ok, desc, err := pl.only(only, s)
		if err != nil {
			return false, "", nil, fmt.Errorf("%s:only: %w", owner, err)
		}
		if !ok {
			if only == defaultOnly {
				return false, "default only: branches, tags (" + pl.describeRef() + ")", nil, nil
			}
			return false, label + desc, nil, nil
		}
		reason = label + desc
		if only == defaultOnly {
			reason = "default only: branches, tags"
		}
	}
	if j.Except != nil {
		out, desc, err := pl.except(j.Except, s)
		if err != nil {
			return false, "", nil, fmt.Errorf("%s:except: %w", owner, err)
		}
		if out {
			return false, "except: " + desc, nil, nil
		}
		if only == nil {
			reason = "except: no condition holds"
		}
	}
	return true, reason, nil, nil
}

// build makes the plan's job from a kept instance, applying the matched
// rule's overrides and GitLab's allow_failure defaults: a manual job
// without rules may fail unless it says otherwise; with rules it may not.
func (pl *planner) build(j *pipeline.Job, inst *instance, s *scope, rule *pipeline.Rule) *Job {
	job := &Job{
		Name:          inst.name,
		Base:          j.Name,
		Stage:         j.Stage,
		When:          j.When,
		StartIn:       j.StartIn,
		AllowFailure:  j.AllowFailure,
		Needs:         nil,
		Interruptible: j.Interruptible,
		NodeIndex:     inst.index,
		NodeTotal:     inst.total,
		Def:           j,
	}
	needs := j.Needs
	explicitAF := slices.Contains(j.Keywords, "allow_failure")
	if rule != nil {
		// A rule without when takes the job's own when (GitLab 16.x), and
		// the job's allow_failure default still follows that when.
		if rule.When != "" {
			job.When = rule.When
		}
		job.StartIn = rule.StartIn
		switch {
		case rule.AllowFailure != nil:
			job.AllowFailure = pipeline.AllowFailure{Allowed: *rule.AllowFailure}
		case !explicitAF:
			job.AllowFailure = pipeline.AllowFailure{Allowed: j.When == pipeline.WhenManual}
		}
		if rule.Interruptible != nil {
			job.Interruptible = *rule.Interruptible
		}
		if rule.HasNeeds {
			needs = rule.Needs
			if needs == nil {
				needs = []pipeline.Need{}
			}
		}
		s.rule = rule.Variables
	}
	if job.When == "" {
		job.When = pipeline.WhenOnSuccess
	}
	if rule == nil && job.When == pipeline.WhenManual && !explicitAF {
		job.AllowFailure = pipeline.AllowFailure{Allowed: true}
	}
	if job.When != pipeline.WhenDelayed {
		job.StartIn = 0
	}
	// Needs are resolved once every job is known.
	pl.needsOf[job] = needs
	job.Variables = s.all()
	for _, kw := range j.Keywords {
		if why := pipeline.NotExecuted(kw); why != "" {
			job.NotExecuted = append(job.NotExecuted, Notice{Keyword: kw, Reason: why})
		}
	}
	return job
}
