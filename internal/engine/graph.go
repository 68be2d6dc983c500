package engine

import (
	"fmt"
	"strings"

	"github.com/gantry-ci/gantry/internal/pipeline"
	"github.com/gantry-ci/gantry/internal/plan"
)

// node is one job of the plan and everything the scheduler knows of it.
// Only the scheduler goroutine touches nodes.
type node struct {
	job   *plan.Job
	idx   int
	stage int
	// dag is true when the job has needs (possibly none) and so ignores
	// stage order.
	dag        bool
	needs      []int // jobs it needs (dag only)
	dependents []int // jobs that need it
	waiting    int   // needs not yet finished

	state  nodeState
	played bool // a manual job the user asked to run
	// blockedBy names the manual job this one waits for, for a node that
	// is an unplayed blocking manual job (itself) or blocked behind one.
	blockedBy string
	attempt   int
	unlock    func() // held resource_group lock of the running attempt
	result    JobResult
	dotenv    []pipeline.Variable
	ran       bool // at least one attempt started
}

// nodeState is where a node is in its life.
type nodeState uint8

const (
	stateCreated   nodeState = iota // prerequisites not done
	stateScheduled                  // delayed, waiting for start_in
	stateLocking                    // waiting for its resource_group
	statePending                    // queued for a slot
	stateRunning
	stateDone // result is final
)

// graph is the plan indexed for scheduling.
type graph struct {
	nodes   []*node
	byName  map[string]*node
	stages  []string
	inStage [][]int // stage -> its jobs, in plan order
	// stageJobs lists, per stage, the jobs that wait for earlier stages.
	stageJobs [][]int
	// before counts, per stage, the jobs of all earlier stages.
	before []int
}

// newGraph indexes p and checks that it can be scheduled: unique names,
// known stages and needs, and no cycle through needs and stage order.
func newGraph(p *plan.Plan) (*graph, error) {
	g := &graph{byName: make(map[string]*node, len(p.Jobs)), stages: p.Stages}
	stageIdx := make(map[string]int, len(p.Stages))
	for i, s := range p.Stages {
		stageIdx[s] = i
	}
	g.inStage = make([][]int, len(p.Stages))
	g.stageJobs = make([][]int, len(p.Stages))
	for i, j := range p.Jobs {
		if j == nil {
			return nil, fmt.Errorf("job %d of the plan is nil", i)
		}
		if _, dup := g.byName[j.Name]; dup {
			return nil, fmt.Errorf("job %q appears twice in the plan", j.Name)
		}
		s, ok := stageIdx[j.Stage]
		if !ok {
			return nil, fmt.Errorf("job %q: stage %q is not among the plan's stages %q", j.Name, j.Stage, p.Stages)
		}
		n := &node{job: j, idx: i, stage: s, dag: j.Needs != nil}
		n.result = JobResult{Name: j.Name, Stage: j.Stage, Status: StatusCreated}
		g.nodes = append(g.nodes, n)
		g.byName[j.Name] = n
		g.inStage[s] = append(g.inStage[s], i)
		if !n.dag {
			g.stageJobs[s] = append(g.stageJobs[s], i)
		}
	}
	g.before = make([]int, len(p.Stages))
	for i := 1; i < len(p.Stages); i++ {
		g.before[i] = g.before[i-1] + len(g.inStage[i-1])
	}
	for _, n := range g.nodes {
		seen := map[int]bool{}
		for _, need := range n.job.Needs {
			m, ok := g.byName[need.Job]
			if !ok {
				if need.Optional {
					continue
				}
				return nil, fmt.Errorf("job %q needs %q, which is not in the pipeline", n.job.Name, need.Job)
			}
			if m == n {
				return nil, fmt.Errorf("job %q needs itself", n.job.Name)
			}
			if seen[m.idx] {
				continue
			}
			seen[m.idx] = true
			n.needs = append(n.needs, m.idx)
			m.dependents = append(m.dependents, n.idx)
		}
		n.waiting = len(n.needs)
	}
	if err := g.checkAcyclic(); err != nil {
		return nil, err
	}
	return g, nil
}

// checkAcyclic runs Kahn's algorithm over the jobs plus one barrier per
// stage ("every job before this stage is done"), so stage order costs one
// edge per job rather than one per pair of jobs.
func (g *graph) checkAcyclic() error {
	nj, ns := len(g.nodes), len(g.stages)
	// Vertices: jobs 0..nj-1, then barrier of stage s at nj+s.
	indeg := make([]int, nj+ns)
	for _, n := range g.nodes {
		if n.dag {
			indeg[n.idx] = len(n.needs)
		} else {
			indeg[n.idx] = 1 // its stage's barrier
		}
	}
	for s := 1; s < ns; s++ {
		indeg[nj+s] = 1 + len(g.inStage[s-1]) // previous barrier and stage
	}
	queue := make([]int, 0, nj+ns)
	for v, d := range indeg {
		if d == 0 {
			queue = append(queue, v)
		}
	}
	release := func(v int) {
		indeg[v]--
		if indeg[v] == 0 {
			queue = append(queue, v)
		}
	}
	done := 0
	for len(queue) > 0 {
		v := queue[0]
		queue = queue[1:]
		done++
		if v >= nj {
			s := v - nj
			for _, j := range g.stageJobs[s] {
				release(j)
			}
			if s+1 < ns {
				release(nj + s + 1)
			}
			continue
		}
		n := g.nodes[v]
		for _, d := range n.dependents {
			release(d)
		}
		if n.stage+1 < ns {
			release(nj + n.stage + 1)
		}
	}
	if done == nj+ns {
		return nil
	}
	var stuck []string
	for _, n := range g.nodes {
		if indeg[n.idx] > 0 && len(stuck) < 5 {
			stuck = append(stuck, n.job.Name)
		}
	}
	return fmt.Errorf("needs and stage order form a cycle, so these jobs can never start: %s", strings.Join(stuck, ", "))
}

// eachDependency calls fn for each job whose artifacts n receives, as
// GitLab picks them: dependencies: when given, else needs with artifacts:
// true, else every job of an earlier stage. Jobs that never ran are left
// out: they have no artifacts. It returns an upper bound of the count
// first through size, so callers can allocate once.
func (g *graph) eachDependency(n *node, size func(int), fn func(*node)) {
	if n.job.Dependencies == nil && !n.dag {
		// Earlier stages hold each job once: no duplicates to weed out.
		size(g.before[n.stage])
		for s := 0; s < n.stage; s++ {
			for _, i := range g.inStage[s] {
				if m := g.nodes[i]; m.ran {
					fn(m)
				}
			}
		}
		return
	}
	names := n.job.Dependencies
	if names == nil {
		for _, need := range n.job.Needs {
			if need.Artifacts {
				names = append(names, need.Job)
			}
		}
	}
	size(len(names))
	seen := make(map[*node]bool, len(names))
	for _, name := range names {
		m := g.byName[name]
		if m != nil && m != n && m.ran && !seen[m] {
			seen[m] = true
			fn(m)
		}
	}
}
