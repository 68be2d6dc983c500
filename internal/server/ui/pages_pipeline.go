package ui

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"

	"github.com/gantry-ci/gantry/internal/store"
)

// The graph's geometry. The stylesheet gives columns and cards exactly
// these sizes, which is what lets the server draw the needs edges in SVG
// without measuring anything in the browser.
const (
	colWidth   = 232
	colGap     = 64
	headHeight = 36
	cardHeight = 60
	cardGap    = 12
)

// card is one job of the graph: its current attempt.
type card struct {
	Job      *store.Job
	Attempts int
	Env      *Environment
	Needs    []string
	X, Y     int
}

// CanPlay, CanRetry and CanCancel say which buttons a card shows.
func (c *card) CanPlay() bool {
	return c.Job.Status == store.StatusManual && !c.Job.Played && !c.Job.Retried
}

// CanRetry is for jobs that did not pass; the job page offers it for any
// ended job.
func (c *card) CanRetry() bool {
	return !c.Job.Retried && (c.Job.Status == store.StatusFailed || c.Job.Status == store.StatusCanceled)
}

// CanCancel is for jobs that have not ended.
func (c *card) CanCancel() bool {
	switch c.Job.Status {
	case store.StatusPending, store.StatusRunning, store.StatusCreated:
		return !c.Job.Retried
	}
	return false
}

// Production says whether playing the job needs a confirmation.
func (c *card) Production() bool { return c.Env != nil && c.Env.Tier == "production" }

type column struct {
	Stage string
	Cards []*card
}

type edge struct {
	From, To string
	Path     string
}

type pipelineData struct {
	base
	Pipeline  *store.Pipeline
	Columns   []column
	Edges     []edge
	Width     int
	Height    int
	PlanError string
	Failed    int // current attempts that failed or were canceled
}

// CanCancel says whether the pipeline can still be canceled.
func (d *pipelineData) CanCancel() bool { return !store.Finished(d.Pipeline.Status) }

func (h *Handler) pipelinePage(w http.ResponseWriter, r *http.Request, q *req) error {
	ctx := r.Context()
	proj, pipe, err := h.pipelineOf(r)
	if err != nil {
		return err
	}
	after := h.lastEventID(ctx, store.EventFilter{PipelineID: pipe.ID})
	jobs, err := h.st.Jobs(ctx, pipe.ID)
	if err != nil {
		return err
	}
	d := &pipelineData{base: q.base(fmt.Sprintf("%s · Pipeline #%d", proj.Name, pipe.ID), proj, "pipelines"), Pipeline: pipe}
	d.Events = "/-/events?pipeline=" + strconv.FormatInt(pipe.ID, 10) + "&after=" + strconv.FormatInt(after, 10)
	var g *Graph
	if len(jobs) > 0 {
		if g, err = h.be.PipelineGraph(ctx, proj, pipe); err != nil {
			d.PlanError = "The needs graph is not shown: " + err.Error()
			g = nil
		}
	}
	d.Columns, d.Edges, d.Width, d.Height = layout(jobs, g)
	for _, c := range d.Columns {
		for _, cd := range c.Cards {
			if cd.CanRetry() {
				d.Failed++
			}
		}
	}
	h.render(w, r, http.StatusOK, "pipeline", d)
	return nil
}

// layout puts each job's current attempt in its stage's column, in plan
// order, and draws the needs edges between cards.
func layout(jobs []*store.Job, g *Graph) ([]column, []edge, int, int) {
	byName := map[string]*card{}
	var order []*card
	for _, j := range jobs {
		c, ok := byName[j.Name]
		if !ok {
			c = &card{}
			byName[j.Name] = c
			order = append(order, c)
		}
		c.Attempts++
		// The newest attempt that is not replaced is the one to show; rows
		// come in ID order, so a later one wins.
		if c.Job == nil || !j.Retried || c.Job.Retried {
			c.Job = j
		}
	}
	stageIndex := map[string]int{}
	var stages []string
	if g != nil {
		for _, s := range g.Stages {
			if _, ok := stageIndex[s]; !ok {
				stageIndex[s] = len(stages)
				stages = append(stages, s)
			}
		}
	}
	for _, c := range order {
		if _, ok := stageIndex[c.Job.Stage]; !ok {
			stageIndex[c.Job.Stage] = len(stages)
			stages = append(stages, c.Job.Stage)
		}
		if g != nil {
			if gj, ok := g.Jobs[c.Job.Name]; ok {
				c.Needs, c.Env = gj.Needs, gj.Environment
			}
		}
	}
	cols := make([]column, len(stages))
	for i, s := range stages {
		cols[i].Stage = s
	}
	for _, c := range order {
		cols[stageIndex[c.Job.Stage]].Cards = append(cols[stageIndex[c.Job.Stage]].Cards, c)
	}
	var filled []column
	rows := 0
	for _, col := range cols {
		if len(col.Cards) == 0 {
			continue
		}
		x := len(filled) * (colWidth + colGap)
		for i, c := range col.Cards {
			c.X, c.Y = x, headHeight+cardGap+i*(cardHeight+cardGap)
		}
		rows = max(rows, len(col.Cards))
		filled = append(filled, col)
	}
	var edges []edge
	for _, c := range order {
		for _, n := range c.Needs {
			from, ok := byName[n]
			if !ok {
				continue
			}
			edges = append(edges, edge{From: n, To: c.Job.Name, Path: edgePath(from, c)})
		}
	}
	sort.SliceStable(edges, func(i, j int) bool { return edges[i].To < edges[j].To })
	width := max(len(filled)*(colWidth+colGap)-colGap, 0)
	height := headHeight + cardGap + rows*(cardHeight+cardGap)
	return filled, edges, width, height
}

// edgePath is a cubic curve from the right edge of a card to the left
// edge of the card that needs it; a need within one column curves out to
// the right and back.
func edgePath(from, to *card) string {
	x1, y1 := from.X+colWidth, from.Y+cardHeight/2
	x2, y2 := to.X, to.Y+cardHeight/2
	if x2 > x1 {
		mid := (x1 + x2) / 2
		return fmt.Sprintf("M%d %dC%d %d %d %d %d %d", x1, y1, mid, y1, mid, y2, x2, y2)
	}
	x2 = to.X + colWidth
	bulge := x1 + colGap/2
	return fmt.Sprintf("M%d %dC%d %d %d %d %d %d", x1, y1, bulge, y1, bulge, y2, x2, y2)
}

// pipelineOf loads the project and the pipeline in the path, and checks
// that one belongs to the other.
func (h *Handler) pipelineOf(r *http.Request) (*store.Project, *store.Pipeline, error) {
	proj, err := h.project(r)
	if err != nil {
		return nil, nil, err
	}
	id, err := pathID(r, "id")
	if err != nil {
		return nil, nil, err
	}
	pipe, err := h.st.Pipeline(r.Context(), id)
	if err != nil || pipe.ProjectID != proj.ID {
		return nil, nil, notFound("pipeline %d of %s: not found", id, proj.Name)
	}
	return proj, pipe, nil
}

func (h *Handler) pipelineAction(w http.ResponseWriter, r *http.Request, q *req) error {
	proj, pipe, err := h.pipelineOf(r)
	if err != nil {
		return err
	}
	switch r.PathValue("action") {
	case "cancel":
		err = h.be.CancelPipeline(r.Context(), pipe, q.user.Name)
	case "retry":
		err = h.be.RetryPipeline(r.Context(), pipe, q.user.Name)
	default:
		return notFound("no pipeline action %q (cancel, retry)", r.PathValue("action"))
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, localPath(r.PostFormValue("back"), pipelineURL(proj, pipe.ID)), http.StatusSeeOther)
	return nil
}

type confirmData struct {
	base
	Job    *store.Job
	Env    *Environment
	Action string
	Back   string
}

// jobAction plays, retries or cancels a job. Playing a job that deploys
// to a production-tier environment needs confirm=yes: the page's dialog
// adds it, and without JavaScript a confirmation page asks first.
func (h *Handler) jobAction(w http.ResponseWriter, r *http.Request, q *req) error {
	ctx := r.Context()
	proj, j, err := h.jobOf(r)
	if err != nil {
		return err
	}
	back := localPath(r.PostFormValue("back"), jobURL(proj, j.ID))
	action := r.PathValue("action")
	switch action {
	case "play":
		if r.PostFormValue("confirm") != "yes" {
			if env := h.environmentOf(r, proj, j); env != nil && env.Tier == "production" {
				d := &confirmData{base: q.base("Confirm deployment", proj, "pipelines"), Job: j, Env: env, Action: action, Back: back}
				h.render(w, r, http.StatusOK, "confirm", d)
				return nil
			}
		}
		_, err = h.be.PlayJob(ctx, j, q.user.Name)
	case "retry":
		var next *store.Job
		if next, err = h.be.RetryJob(ctx, j, q.user.Name); err == nil && back == jobURL(proj, j.ID) {
			back = jobURL(proj, next.ID)
		}
	case "cancel":
		err = h.be.CancelJob(ctx, j)
	default:
		return notFound("no job action %q (play, retry, cancel)", action)
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
	return nil
}

// environmentOf is the job's environment from its pipeline's plan; nil
// when it has none or the plan cannot be made.
func (h *Handler) environmentOf(r *http.Request, proj *store.Project, j *store.Job) *Environment {
	pipe, err := h.st.Pipeline(r.Context(), j.PipelineID)
	if err != nil {
		return nil
	}
	g, err := h.be.PipelineGraph(r.Context(), proj, pipe)
	if err != nil || g == nil {
		return nil
	}
	return g.Jobs[j.Name].Environment
}

// jobOf loads the project and the job in the path.
func (h *Handler) jobOf(r *http.Request) (*store.Project, *store.Job, error) {
	proj, err := h.project(r)
	if err != nil {
		return nil, nil, err
	}
	id, err := pathID(r, "id")
	if err != nil {
		return nil, nil, err
	}
	j, err := h.st.Job(r.Context(), id)
	if err != nil || j.ProjectID != proj.ID {
		return nil, nil, notFound("job %d of %s: not found", id, proj.Name)
	}
	return proj, j, nil
}
