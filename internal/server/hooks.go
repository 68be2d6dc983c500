package server

import (
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/gantry-ci/gantry/internal/forge"
	"github.com/gantry-ci/gantry/internal/plan"
)

// maxHookBody is larger than GitHub's 25 MB cap would need for the events
// Gantry reads; bigger deliveries are refused before parsing.
const maxHookBody = 5 << 20

// handleHook takes a forge's webhook: verified the forge's way (a bad or
// missing signature answers 401 and creates nothing), deduplicated by
// delivery ID, then planned like any other trigger.
func (s *Server) handleHook(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	kind, err := forge.ParseKind(r.PathValue("forge"))
	if err != nil {
		s.fail(w, statusError(http.StatusNotFound, "%v", err))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxHookBody))
	if err != nil {
		s.fail(w, statusError(http.StatusRequestEntityTooLarge, "webhook body: %v", err))
		return
	}
	proj, err := s.store.Project(ctx, r.PathValue("project"))
	if err != nil {
		// The same answer as a bad signature: strangers learn nothing.
		s.met.hookRejected(string(kind))
		writeError(w, http.StatusUnauthorized, errors.New("webhook signature does not verify"))
		return
	}
	hookSecret, err := s.box.Open(proj.WebhookSecret, webhookAAD(proj.Name))
	if err != nil {
		s.fail(w, err)
		return
	}
	if err := forge.Verify(kind, r.Header, body, string(hookSecret)); err != nil {
		s.met.hookRejected(string(kind))
		writeError(w, http.StatusUnauthorized, err)
		return
	}
	ev, err := forge.Parse(kind, r.Header, body)
	if errors.Is(err, forge.ErrIgnored) {
		writeJSON(w, http.StatusAccepted, map[string]string{"status": "ignored", "reason": err.Error()})
		return
	}
	if err != nil {
		s.fail(w, statusError(http.StatusBadRequest, "%v", err))
		return
	}
	if ev.Deleted {
		writeJSON(w, http.StatusAccepted, map[string]string{"status": "ignored", "reason": "a deleted branch or tag runs no pipeline"})
		return
	}
	t := trigger{
		Source: plan.SourcePush, Ref: ev.Ref, SHA: ev.SHA, BeforeSHA: ev.BeforeSHA,
		DeliveryID: string(kind) + ":" + ev.DeliveryID, By: "webhook " + string(kind),
		Tag: ev.Type == forge.EventTagPush || strings.HasPrefix(ev.FullRef, "refs/tags/"),
	}
	if ev.Type == forge.EventPing {
		writeJSON(w, http.StatusOK, map[string]string{"status": "pong"})
		return
	}
	if ev.MR != nil {
		t.Source = plan.SourceMergeRequest
		t.Ref = ev.MR.SourceBranch
		t.SHA = ev.MR.SourceSHA
		t.MR = &plan.MergeRequest{
			IID: int64(ev.MR.IID), SourceBranch: ev.MR.SourceBranch, TargetBranch: ev.MR.TargetBranch,
			Title: ev.MR.Title,
		}
	}
	pipe, err := s.createPipeline(ctx, proj, t)
	s.answerCreated(w, proj, pipe, err)
}
