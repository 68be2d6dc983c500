package ui

import (
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/gantry-ci/gantry/internal/store"
)

// envPipelines is how many of a project's newest pipelines the
// environments page reads. Each needs its plan (cached), so the page
// stays fast whatever the history; an environment last deployed before
// that window shows no current deployment.
const envPipelines = 30

// historyLength is how many deployments an environment lists.
const historyLength = 10

// deployment is a job that deploys to an environment.
type deployment struct {
	Job      *store.Job
	Pipeline *store.Pipeline
	By       string
}

type envRow struct {
	Env     Environment
	Current *deployment
	History []deployment
	// Rollout is the delivery controller's view of a rollout in
	// progress; nil when there is none (or no controller yet).
	Rollout    *RolloutView
	RolloutErr string
}

type environmentsData struct {
	base
	Environments []*envRow
	Window       int
}

func (h *Handler) environmentsPage(w http.ResponseWriter, r *http.Request, q *req) error {
	ctx := r.Context()
	proj, err := h.project(r)
	if err != nil {
		return err
	}
	pipes, err := h.st.ListPipelines(ctx, store.PipelineFilter{ProjectID: proj.ID, Limit: envPipelines})
	if err != nil {
		return err
	}
	rows := map[string]*envRow{}
	for _, pipe := range pipes {
		if pipe.Error != "" {
			continue
		}
		g, err := h.be.PipelineGraph(ctx, proj, pipe)
		if err != nil || g == nil {
			continue
		}
		jobs, err := h.st.Jobs(ctx, pipe.ID)
		if err != nil {
			return err
		}
		for i := len(jobs) - 1; i >= 0; i-- {
			j := jobs[i]
			env := g.Jobs[j.Name].Environment
			if env == nil || (env.Action != "" && env.Action != "start") {
				continue
			}
			row, ok := rows[env.Name]
			if !ok {
				row = &envRow{Env: *env}
				rows[env.Name] = row
			}
			switch j.Status {
			case store.StatusCreated, store.StatusManual, store.StatusSkipped:
				continue
			}
			dep := deployment{Job: j, Pipeline: pipe, By: deployer(j, pipe)}
			if row.Current == nil && j.Status == store.StatusSuccess && !j.Retried {
				row.Current = &dep
			}
			if len(row.History) < historyLength {
				row.History = append(row.History, dep)
			}
		}
	}
	d := &environmentsData{base: q.base(proj.Name+" · Environments", proj, "environments"), Window: envPipelines}
	for _, row := range rows {
		sort.SliceStable(row.History, func(i, j int) bool { return row.History[i].Job.ID > row.History[j].Job.ID })
		ro, err := h.be.Rollout(ctx, proj.Name, row.Env.Name)
		if err != nil {
			row.RolloutErr = err.Error()
		}
		row.Rollout = ro
		d.Environments = append(d.Environments, row)
	}
	sort.Slice(d.Environments, func(i, j int) bool {
		a, b := d.Environments[i], d.Environments[j]
		if tierRank(a.Env.Tier) != tierRank(b.Env.Tier) {
			return tierRank(a.Env.Tier) < tierRank(b.Env.Tier)
		}
		return a.Env.Name < b.Env.Name
	})
	h.render(w, r, http.StatusOK, "environments", d)
	return nil
}

// tierRank lists production first, as people look for it first.
func tierRank(t string) int {
	for i, x := range []string{"production", "staging", "testing", "development"} {
		if t == x {
			return i
		}
	}
	return 4
}

// deployer is who deployed: who played the job, else what triggered the
// pipeline, else the commit's author.
func deployer(j *store.Job, p *store.Pipeline) string {
	if j.PlayedBy != "" {
		return j.PlayedBy
	}
	if by := triggeredBy(p.Trigger); by != "" {
		return by
	}
	return p.Author
}

func (h *Handler) rollback(w http.ResponseWriter, r *http.Request, q *req) error {
	proj, err := h.project(r)
	if err != nil {
		return err
	}
	env := strings.TrimSpace(r.PostFormValue("env"))
	if env == "" {
		return badRequest("which environment? (form field env)")
	}
	if r.PostFormValue("confirm") != "yes" {
		return badRequest("a rollback needs confirm=yes")
	}
	if err := h.be.Rollback(r.Context(), proj.Name, env, q.user.Name); err != nil {
		return err
	}
	http.Redirect(w, r, "/"+url.PathEscape(proj.Name)+"/-/environments", http.StatusSeeOther)
	return nil
}
