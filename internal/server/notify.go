package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"strconv"

	"github.com/gantry-ci/gantry/internal/notify"
	"github.com/gantry-ci/gantry/internal/store"
)

// Notification channels are kept per project as a sealed record: their
// URLs and HMAC keys are secrets.
const recordNotifications = "notifications"

func notificationsAAD(projectID int64) string {
	return "project/" + strconv.FormatInt(projectID, 10) + "/notifications"
}

// smtpFromEnv reads the mail relay for e-mail channels.
func smtpFromEnv() notify.SMTP {
	return notify.SMTP{
		Addr:     os.Getenv("GANTRY_SMTP_ADDR"),
		From:     os.Getenv("GANTRY_SMTP_FROM"),
		Username: os.Getenv("GANTRY_SMTP_USERNAME"),
		Password: os.Getenv("GANTRY_SMTP_PASSWORD"),
		StartTLS: os.Getenv("GANTRY_SMTP_STARTTLS") != "false",
	}
}

func (s *Server) newNotifier() *notify.Notifier {
	return notify.New(notify.Options{
		SMTP:   smtpFromEnv(),
		Logger: s.log.With("part", "notify"),
		Record: func(ctx context.Context, d notify.Delivery) error {
			proj, err := s.store.Project(ctx, d.Project)
			if err != nil {
				return err
			}
			s.event(ctx, proj.ID, 0, 0, "notification", d)
			return nil
		},
	})
}

func (s *Server) channels(ctx context.Context, projectID int64) ([]notify.Channel, error) {
	rec, err := s.store.GetRecord(ctx, recordNotifications, strconv.FormatInt(projectID, 10))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var sealed string
	if err := json.Unmarshal(rec.Data, &sealed); err != nil {
		return nil, err
	}
	raw, err := s.box.Open(sealed, notificationsAAD(projectID))
	if err != nil {
		return nil, err
	}
	var chs []notify.Channel
	return chs, json.Unmarshal(raw, &chs)
}

// notifyPipeline tells the project's channels that a pipeline failed, or
// passed where the ref's previous pipeline had failed.
func (s *Server) notifyPipeline(ctx context.Context, proj *store.Project, p *store.Pipeline) {
	chs, err := s.channels(ctx, proj.ID)
	if err != nil || len(chs) == 0 {
		return
	}
	prev := ""
	earlier, err := s.store.ListPipelines(ctx, store.PipelineFilter{ProjectID: proj.ID, Ref: p.Ref, BeforeID: p.ID, Limit: 20})
	if err == nil {
		for _, e := range earlier {
			if store.Finished(e.Status) && e.Status != store.StatusCanceled && e.Status != store.StatusSkipped {
				prev = e.Status
				break
			}
		}
	}
	kind, ok := notify.PipelineKind(prev, p.Status)
	if !ok {
		return
	}
	s.notifier.Notify(ctx, chs, notify.Event{
		Kind: kind, Project: proj.Name, Ref: p.Ref, PipelineID: p.ID, Reason: p.Error,
		URL: s.url + "/" + proj.Name + "/-/pipelines/" + itoa(p.ID),
	})
}

type channelJSON struct {
	Type   string   `json:"type"`
	URL    string   `json:"url,omitempty"`
	Secret string   `json:"secret,omitempty"`
	To     []string `json:"to,omitempty"`
	Events []string `json:"events,omitempty"`
}

// listNotifications shows a project's channels without their secrets.
func (s *Server) listNotifications(w http.ResponseWriter, r *http.Request, p *principal) {
	proj, err := s.readableProject(r.Context(), r, p)
	if err == nil && !p.user() {
		err = statusError(http.StatusForbidden, "only users may read notification settings")
	}
	if err != nil {
		s.fail(w, err)
		return
	}
	chs, err := s.channels(r.Context(), proj.ID)
	if err != nil {
		s.fail(w, err)
		return
	}
	out := []channelJSON{}
	for _, c := range chs {
		v := channelJSON{Type: c.Type, To: c.To, Events: c.Events, URL: c.URL}
		if c.Secret != "" {
			v.Secret = "[MASKED]"
		}
		if c.Type == notify.ChannelSlack {
			v.URL = "[MASKED]" // a Slack URL is the credential
		}
		out = append(out, v)
	}
	writeJSON(w, http.StatusOK, out)
}

// setNotifications replaces a project's channels.
func (s *Server) setNotifications(w http.ResponseWriter, r *http.Request, p *principal) {
	ctx := r.Context()
	proj, err := s.readableProject(ctx, r, p)
	if err == nil && !p.user() {
		err = statusError(http.StatusForbidden, "only users may change notification settings")
	}
	if err != nil {
		s.fail(w, err)
		return
	}
	var body []channelJSON
	if err := readJSON(w, r, &body); err != nil {
		s.fail(w, err)
		return
	}
	chs := make([]notify.Channel, 0, len(body))
	for i, c := range body {
		ch := notify.Channel{Type: c.Type, URL: c.URL, Secret: c.Secret, To: c.To, Events: c.Events}
		if err := ch.Validate(); err != nil {
			s.fail(w, statusError(http.StatusBadRequest, "channel %d: %v", i, err))
			return
		}
		chs = append(chs, ch)
	}
	raw, _ := json.Marshal(chs)
	sealed, err := s.box.Seal(raw, notificationsAAD(proj.ID))
	if err != nil {
		s.fail(w, err)
		return
	}
	data, _ := json.Marshal(sealed)
	key := strconv.FormatInt(proj.ID, 10)
	rec, err := s.store.GetRecord(ctx, recordNotifications, key)
	if errors.Is(err, store.ErrNotFound) {
		rec, err = &store.Record{Kind: recordNotifications, Key: key}, nil
	}
	if err == nil {
		rec.Data = data
		err = s.store.PutRecord(ctx, rec)
	}
	if err != nil {
		s.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
