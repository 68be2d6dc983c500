package ui

import (
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/gantry-ci/gantry/internal/store"
)

type variableRow struct {
	Var *store.Variable
	// Value is shown for unmasked variables only: a masked value is
	// never shown again once saved.
	Value string
}

type settingsData struct {
	base
	Variables     []variableRow
	Hooks         []hookRow
	WebhookSecret string
	Schedules     []*store.Schedule
}

type hookRow struct{ Forge, URL string }

func (h *Handler) settingsPage(w http.ResponseWriter, r *http.Request, q *req) error {
	ctx := r.Context()
	proj, err := h.project(r)
	if err != nil {
		return err
	}
	vars, err := h.st.Variables(ctx, proj.ID)
	if err != nil {
		return err
	}
	d := &settingsData{base: q.base(proj.Name+" · Settings", proj, "settings")}
	for _, v := range vars {
		row := variableRow{Var: v}
		if !v.Masked {
			if row.Value, err = h.be.VariableValue(proj, v); err != nil {
				row.Value = "(cannot be decrypted: " + err.Error() + ")"
			}
		}
		d.Variables = append(d.Variables, row)
	}
	for forge, u := range h.be.WebhookURLs(proj) {
		d.Hooks = append(d.Hooks, hookRow{Forge: forge, URL: u})
	}
	sort.Slice(d.Hooks, func(i, j int) bool { return d.Hooks[i].Forge < d.Hooks[j].Forge })
	if d.WebhookSecret, err = h.be.WebhookSecret(proj); err != nil {
		d.WebhookSecret = ""
	}
	if d.Schedules, err = h.st.Schedules(ctx, proj.ID); err != nil {
		return err
	}
	h.render(w, r, http.StatusOK, "settings", d)
	return nil
}

func settingsURL(proj *store.Project, anchor string) string {
	return "/" + url.PathEscape(proj.Name) + "/-/settings#" + anchor
}

func (h *Handler) setVariable(w http.ResponseWriter, r *http.Request, q *req) error {
	proj, err := h.project(r)
	if err != nil {
		return err
	}
	in := VariableInput{
		Key:       strings.TrimSpace(r.PostFormValue("key")),
		Value:     r.PostFormValue("value"),
		Masked:    r.PostFormValue("masked") != "",
		Protected: r.PostFormValue("protected") != "",
		File:      r.PostFormValue("file") != "",
	}
	if !validKey(in.Key) {
		return badRequest("variable key %q: use letters, digits and '_', not starting with a digit", in.Key)
	}
	if err := h.be.SetVariable(r.Context(), proj, in); err != nil {
		return err
	}
	http.Redirect(w, r, settingsURL(proj, "variables"), http.StatusSeeOther)
	return nil
}

func (h *Handler) deleteVariable(w http.ResponseWriter, r *http.Request, q *req) error {
	proj, err := h.project(r)
	if err != nil {
		return err
	}
	if err := h.be.DeleteVariable(r.Context(), proj, r.PostFormValue("key")); err != nil {
		return err
	}
	http.Redirect(w, r, settingsURL(proj, "variables"), http.StatusSeeOther)
	return nil
}

func (h *Handler) createSchedule(w http.ResponseWriter, r *http.Request, q *req) error {
	proj, err := h.project(r)
	if err != nil {
		return err
	}
	in := ScheduleInput{
		Description: strings.TrimSpace(r.PostFormValue("description")),
		Cron:        strings.TrimSpace(r.PostFormValue("cron")),
		Ref:         strings.TrimSpace(r.PostFormValue("ref")),
		Active:      r.PostFormValue("active") != "",
	}
	if in.Cron == "" {
		return badRequest("a schedule needs a cron line, like 0 3 * * *")
	}
	if err := h.be.CreateSchedule(r.Context(), proj, in); err != nil {
		return err
	}
	http.Redirect(w, r, settingsURL(proj, "schedules"), http.StatusSeeOther)
	return nil
}

func (h *Handler) deleteSchedule(w http.ResponseWriter, r *http.Request, q *req) error {
	proj, err := h.project(r)
	if err != nil {
		return err
	}
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := h.be.DeleteSchedule(r.Context(), proj, id); err != nil {
		return err
	}
	http.Redirect(w, r, settingsURL(proj, "schedules"), http.StatusSeeOther)
	return nil
}

type runnersData struct {
	base
	Runners  []RunnerView
	Projects map[int64]string
}

func (h *Handler) runnersPage(w http.ResponseWriter, r *http.Request, q *req) error {
	if !q.user.Admin {
		return errNotAdmin
	}
	rs, err := h.be.Runners(r.Context())
	if err != nil {
		return err
	}
	d := &runnersData{base: q.base("Runners", nil, "runners"), Runners: rs, Projects: map[int64]string{}}
	projs, err := h.st.ListProjects(r.Context())
	if err != nil {
		return err
	}
	for _, p := range projs {
		d.Projects[p.ID] = p.Name
	}
	h.render(w, r, http.StatusOK, "runners", d)
	return nil
}
