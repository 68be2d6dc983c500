package plan

import (
	"fmt"
	"slices"

	"github.com/gantry-ci/gantry/internal/pipeline"
)

// missingNeed is GitLab's own wording, so that users can search for it.
func missingNeed(job, need string) error {
	return fmt.Errorf("'%s' job needs '%s' job, but '%s' does not exist in the pipeline. "+
		"This might be because of the only, except, or rules keywords. "+
		"To need a job that sometimes does not exist in the pipeline, use needs:optional", job, need, need)
}

// resolveNeeds turns a job's needs into the instances of this plan: a
// parallel job stands for all its instances, needs:parallel:matrix for the
// instances whose matrix values match. A need on a job left out of the
// pipeline is an error unless it is optional.
func (pl *planner) resolveNeeds(j *Job, needs []pipeline.Need) ([]Need, []error) {
	if needs == nil {
		return nil, nil
	}
	out := make([]Need, 0, len(needs))
	var errs []error
	seen := map[string]bool{}
	add := func(name string, n pipeline.Need) {
		if !seen[name] {
			seen[name] = true
			out = append(out, Need{Job: name, Artifacts: n.Artifacts, Optional: n.Optional})
		}
	}
	for _, n := range needs {
		if n.Project != "" || n.Pipeline != "" {
			kw := "needs:project"
			if n.Project == "" {
				kw = "needs:pipeline"
			}
			j.NotExecuted = appendNotice(j.NotExecuted, Notice{Keyword: kw,
				Reason: "artifacts of other pipelines and projects are not fetched"})
			continue
		}
		if len(n.Matrix) > 0 {
			errs = append(errs, pl.resolveMatrixNeed(j, n, add)...)
			continue
		}
		included := pl.byBase[n.Job]
		if len(included) == 0 {
			if !n.Optional {
				errs = append(errs, missingNeed(j.Name, n.Job))
			}
			continue
		}
		for _, t := range included {
			add(t.Name, n)
		}
	}
	return out, errs
}

// resolveMatrixNeed selects the instances named by needs:parallel:matrix.
// Values are compared by variable name, so the order the need lists them
// in does not matter; every combination it names must be an instance of
// the job.
func (pl *planner) resolveMatrixNeed(j *Job, n pipeline.Need, add func(string, pipeline.Need)) []error {
	var errs []error
	all := pl.allInst[n.Job]
	for e, entry := range n.Matrix {
		keys := matrixKeys(&pipeline.Parallel{}, e, entry)
		for _, combo := range product(keys, entry) {
			inst := findInstance(all, combo)
			if inst == nil {
				vals := make([]string, len(combo))
				for i, v := range combo {
					vals[i] = v.Value
				}
				errs = append(errs, fmt.Errorf("'%s' job needs '%s' job, but no instance of '%s' has these parallel:matrix values",
					j.Name, matrixName(n.Job, vals), n.Job))
				continue
			}
			if t := pl.byName[inst.name]; t != nil {
				add(t.Name, n)
			} else if !n.Optional {
				errs = append(errs, missingNeed(j.Name, inst.name))
			}
		}
	}
	return errs
}

func findInstance(all []instance, combo []pipeline.Variable) *instance {
	for i := range all {
		inst := &all[i]
		if len(inst.matrix) != len(combo) {
			continue
		}
		match := true
		for _, v := range combo {
			if got, ok := inst.matrixValue(v.Name); !ok || got != v.Value {
				match = false
				break
			}
		}
		if match {
			return inst
		}
	}
	return nil
}

// resolveDependencies expands dependencies to instances. A dependency on a
// job that is not in the pipeline gives no artifacts, as in GitLab; the
// plan says so in a notice.
func (pl *planner) resolveDependencies(j *Job, names []string) []string {
	out := make([]string, 0, len(names))
	for _, name := range names {
		included := pl.byBase[name]
		if len(included) == 0 {
			pl.notice(fmt.Sprintf("%s: dependencies: %q is not in the pipeline, so its artifacts are not passed", j.Name, name))
			continue
		}
		for _, t := range included {
			if !slices.Contains(out, t.Name) {
				out = append(out, t.Name)
			}
		}
	}
	return out
}

func appendNotice(list []Notice, n Notice) []Notice {
	if slices.Contains(list, n) {
		return list
	}
	return append(list, n)
}
