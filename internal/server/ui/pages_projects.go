package ui

import (
	"context"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/gantry-ci/gantry/internal/store"
)

// recentForBranches is how many of a project's newest pipelines the
// projects page reads to show each branch's last status: enough for the
// branches people work on, bounded whatever the project's history.
const recentForBranches = 100

// maxBranches is how many branches a project shows on the projects page.
const maxBranches = 6

type branchRow struct {
	Ref      string
	Pipeline *store.Pipeline
}

type projectRow struct {
	Project  *store.Project
	Last     *store.Pipeline
	Branches []branchRow
}

type projectsData struct {
	base
	Projects []projectRow
}

func (h *Handler) projectsPage(w http.ResponseWriter, r *http.Request, q *req) error {
	ctx := r.Context()
	projs, err := h.st.ListProjects(ctx)
	if err != nil {
		return err
	}
	d := &projectsData{base: q.base("Projects", nil, "")}
	d.Events = "/-/events?after=" + strconv.FormatInt(h.lastEventID(ctx, store.EventFilter{}), 10)
	for _, p := range projs {
		pipes, err := h.st.ListPipelines(ctx, store.PipelineFilter{ProjectID: p.ID, Limit: recentForBranches})
		if err != nil {
			return err
		}
		row := projectRow{Project: p}
		if len(pipes) > 0 {
			row.Last = pipes[0]
		}
		row.Branches = lastPerRef(pipes, p.DefaultBranch, maxBranches)
		d.Projects = append(d.Projects, row)
	}
	h.render(w, r, http.StatusOK, "projects", d)
	return nil
}

// lastPerRef keeps each ref's newest pipeline, the default branch first,
// then by recency.
func lastPerRef(newestFirst []*store.Pipeline, defaultBranch string, max int) []branchRow {
	seen := map[string]bool{}
	var rows []branchRow
	for _, p := range newestFirst {
		if seen[p.Ref] {
			continue
		}
		seen[p.Ref] = true
		rows = append(rows, branchRow{Ref: p.Ref, Pipeline: p})
	}
	sort.SliceStable(rows, func(i, j int) bool {
		return rows[i].Ref == defaultBranch && rows[j].Ref != defaultBranch
	})
	if len(rows) > max {
		rows = rows[:max]
	}
	return rows
}

func (h *Handler) projectRedirect(w http.ResponseWriter, r *http.Request, q *req) error {
	proj, err := h.project(r)
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/"+url.PathEscape(proj.Name)+"/-/pipelines", http.StatusSeeOther)
	return nil
}

// project loads the project named in the path.
func (h *Handler) project(r *http.Request) (*store.Project, error) {
	p, err := h.st.Project(r.Context(), r.PathValue("project"))
	if err != nil {
		return nil, notFound("project %q: not found", r.PathValue("project"))
	}
	return p, nil
}

// pageSize is how many pipelines a page of the list shows.
const pageSize = 50

var filterStatuses = []string{
	store.StatusRunning, store.StatusPending, store.StatusSuccess, store.StatusFailed,
	store.StatusCanceled, store.StatusManual, store.StatusSkipped, store.StatusCreated,
}

type pipelinesData struct {
	base
	Pipelines []*store.Pipeline
	Total     int
	Ref       string
	Status    string
	Statuses  []string
	Refs      []string
	// Older is the before= of the next page, 0 on the last one; Paged
	// says this is not the first page.
	Older int64
	Paged bool
}

func (h *Handler) pipelinesPage(w http.ResponseWriter, r *http.Request, q *req) error {
	ctx := r.Context()
	proj, err := h.project(r)
	if err != nil {
		return err
	}
	qs := r.URL.Query()
	f := store.PipelineFilter{ProjectID: proj.ID, Ref: strings.TrimSpace(qs.Get("ref")), Status: qs.Get("status"), Limit: pageSize + 1}
	if f.Status != "" && !contains(filterStatuses, f.Status) {
		return badRequest("status %q: want one of %s", f.Status, strings.Join(filterStatuses, ", "))
	}
	if v := qs.Get("before"); v != "" {
		if f.BeforeID, err = strconv.ParseInt(v, 10, 64); err != nil || f.BeforeID < 0 {
			return badRequest("before %q: want a pipeline number", v)
		}
	}
	d := &pipelinesData{base: q.base(proj.Name+" · Pipelines", proj, "pipelines"), Ref: f.Ref, Status: f.Status,
		Statuses: filterStatuses, Paged: f.BeforeID > 0}
	if !d.Paged {
		d.Events = "/-/events?project=" + url.QueryEscape(proj.Name) + "&after=" +
			strconv.FormatInt(h.lastEventID(ctx, store.EventFilter{ProjectID: proj.ID}), 10)
	}
	pipes, err := h.st.ListPipelines(ctx, f)
	if err != nil {
		return err
	}
	if len(pipes) > pageSize {
		pipes = pipes[:pageSize]
		d.Older = pipes[len(pipes)-1].ID
	}
	d.Pipelines = pipes
	if d.Total, err = h.st.CountPipelines(ctx, f); err != nil {
		return err
	}
	recent := pipes
	if f.Ref != "" || f.BeforeID > 0 || f.Status != "" {
		recent, _ = h.st.ListPipelines(ctx, store.PipelineFilter{ProjectID: proj.ID, Limit: recentForBranches})
	}
	for _, b := range lastPerRef(recent, proj.DefaultBranch, 50) {
		d.Refs = append(d.Refs, b.Ref)
	}
	h.render(w, r, http.StatusOK, "pipelines", d)
	return nil
}

// runPipeline is the "Run pipeline" form: a ref and KEY=value lines.
func (h *Handler) runPipeline(w http.ResponseWriter, r *http.Request, q *req) error {
	proj, err := h.project(r)
	if err != nil {
		return err
	}
	ref := strings.TrimSpace(r.PostFormValue("ref"))
	if ref == "" {
		ref = proj.DefaultBranch
	}
	vars, err := parseVariables(r.PostFormValue("variables"))
	if err != nil {
		return err
	}
	pipe, err := h.be.RunPipeline(r.Context(), proj, ref, vars, q.user.Name)
	if err != nil {
		return err
	}
	http.Redirect(w, r, pipelineURL(proj, pipe.ID), http.StatusSeeOther)
	return nil
}

// parseVariables reads KEY=value lines; blank lines and # comments are
// ignored.
func parseVariables(text string) (map[string]string, error) {
	vars := map[string]string{}
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		k = strings.TrimSpace(k)
		if !ok || !validKey(k) {
			return nil, badRequest("variables line %d: want KEY=value with a key of letters, digits and '_'", i+1)
		}
		vars[k] = v
	}
	return vars, nil
}

func validKey(k string) bool {
	if k == "" || len(k) > 255 || (k[0] >= '0' && k[0] <= '9') {
		return false
	}
	for _, c := range k {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func pipelineURL(proj *store.Project, id int64) string {
	return "/" + url.PathEscape(proj.Name) + "/-/pipelines/" + strconv.FormatInt(id, 10)
}

func jobURL(proj *store.Project, id int64) string {
	return "/" + url.PathEscape(proj.Name) + "/-/jobs/" + strconv.FormatInt(id, 10)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// events is the event stream of the live parts, for the session's user.
func (h *Handler) events(w http.ResponseWriter, r *http.Request, q *req) error {
	h.be.ServeEvents(w, r, q.user)
	return nil
}

// lastEventID finds the newest event matching f, so a page's live stream
// starts after what the page already shows instead of replaying history.
// The store has no "last event" query; the log's IDs only grow, so a
// galloping then binary search over "any event after X?" finds it in
// about 2·log2(ID) indexed lookups.
func (h *Handler) lastEventID(ctx context.Context, f store.EventFilter) int64 {
	after := func(id int64) (int64, bool) {
		evs, err := h.st.EventsAfter(ctx, id, f, 1)
		if err != nil || len(evs) == 0 {
			return 0, false
		}
		return evs[0].ID, true
	}
	lo, ok := after(0)
	if !ok {
		return 0
	}
	// Gallop until some hi has no event after it.
	hi := lo
	for {
		id, ok := after(hi)
		if !ok {
			break
		}
		lo, hi = id, id*2+1024
	}
	// Invariant: an event exists at lo, none is after hi, lo <= hi.
	for lo < hi {
		mid := lo + (hi-lo+1)/2
		if id, ok := after(mid - 1); ok {
			lo = id
		} else {
			hi = mid - 1
		}
	}
	return lo
}
