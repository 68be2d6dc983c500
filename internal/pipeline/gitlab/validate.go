package gitlab

import (
	"strings"

	"github.com/gantry-ci/gantry/internal/pipeline"
)

// validate reports what GitLab refuses across jobs: unknown stages, needs and
// dependencies on jobs that do not exist or come later, and needs cycles.
func validate(p *pipeline.Pipeline, d decoder) {
	stageIndex := map[string]int{}
	for i, s := range p.Stages {
		stageIndex[s] = i
	}
	jobs := map[string]*pipeline.Job{}
	for _, j := range p.Jobs {
		jobs[j.Name] = j
		if j.Stage == "" {
			j.Stage = "test"
		}
	}
	for _, j := range p.Jobs {
		at := "jobs:" + j.Name
		si, ok := stageIndex[j.Stage]
		if !ok {
			d.errorf(j.Pos, at+":stage", "chosen stage %q does not exist; available stages are %s", j.Stage, strings.Join(p.Stages, ", "))
			continue
		}
		for _, n := range j.Needs {
			if n.Pipeline != "" || n.Project != "" {
				continue // cross-pipeline needs are checked by the server that has them
			}
			dep, ok := jobs[n.Job]
			switch {
			case !ok && !n.Optional:
				d.errorf(n.Pos, at+":needs", "job %q is not defined%s", n.Job, suggest(n.Job, jobNames(p)))
			case !ok:
			case n.Job == j.Name:
				d.errorf(n.Pos, at+":needs", "a job cannot need itself")
			case stageIndex[dep.Stage] > si:
				d.errorf(n.Pos, at+":needs", "job %q is in stage %q, which comes after %q", n.Job, dep.Stage, j.Stage)
			}
		}
		for _, name := range j.Dependencies {
			dep, ok := jobs[name]
			switch {
			case !ok:
				d.errorf(j.Pos, at+":dependencies", "job %q is not defined%s", name, suggest(name, jobNames(p)))
			case stageIndex[dep.Stage] >= si && !needsJob(j, name):
				d.errorf(j.Pos, at+":dependencies", "job %q is not defined in a prior stage", name)
			case j.Needs != nil && !needsJob(j, name):
				d.errorf(j.Pos, at+":dependencies", "job %q should be part of needs", name)
			}
		}
	}
	checkCycles(p, jobs, d)
}

func needsJob(j *pipeline.Job, name string) bool {
	for _, n := range j.Needs {
		if n.Job == name {
			return true
		}
	}
	return false
}

func jobNames(p *pipeline.Pipeline) []string {
	names := make([]string, len(p.Jobs))
	for i, j := range p.Jobs {
		names[i] = j.Name
	}
	return names
}

// checkCycles finds needs cycles with a depth-first walk over jobs (not
// paths, so a dense DAG costs linear time).
func checkCycles(p *pipeline.Pipeline, jobs map[string]*pipeline.Job, d decoder) {
	const (
		unseen = iota
		active
		done
	)
	state := map[string]int{}
	var visit func(j *pipeline.Job, chain []string)
	visit = func(j *pipeline.Job, chain []string) {
		state[j.Name] = active
		chain = append(chain, j.Name)
		for _, n := range j.Needs {
			dep, ok := jobs[n.Job]
			if !ok || dep == j {
				continue
			}
			switch state[dep.Name] {
			case active:
				start := 0
				for i, name := range chain {
					if name == dep.Name {
						start = i
					}
				}
				cycle := append(append([]string(nil), chain[start:]...), dep.Name)
				d.errorf(n.Pos, "jobs:"+j.Name+":needs", "needs form a cycle: %s", strings.Join(cycle, " -> "))
			case unseen:
				visit(dep, chain)
			}
		}
		state[j.Name] = done
	}
	for _, j := range p.Jobs {
		if state[j.Name] == unseen {
			visit(j, nil)
		}
	}
}
