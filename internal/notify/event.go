package notify

import (
	"encoding/json"
	"fmt"
	"time"
)

// Event kinds. They are part of the webhook payload and of channel
// filters, so they never change once released.
const (
	KindPipelineFailed  = "pipeline_failed"
	KindPipelineFixed   = "pipeline_fixed"
	KindRolloutPaused   = "rollout_paused"
	KindRolloutPromoted = "rollout_promoted"
	KindRolloutAborted  = "rollout_aborted"
	KindRollback        = "rollback"
)

// Kinds lists every event kind, for validation and configuration help.
func Kinds() []string {
	return []string{KindPipelineFailed, KindPipelineFixed, KindRolloutPaused,
		KindRolloutPromoted, KindRolloutAborted, KindRollback}
}

// KnownKind says whether kind is one of [Kinds].
func KnownKind(kind string) bool {
	for _, k := range Kinds() {
		if k == kind {
			return true
		}
	}
	return false
}

// Event is something worth telling people about. Pipeline events fill
// Project, Ref and PipelineID; rollout events fill Project, Env, App,
// Revision and Version. For a rollback, Revision and Version are the ones
// serving after it (the revision rolled back to), and Reason says why.
//
// Its JSON form is the generic webhook payload: every field is always
// present, in declaration order, with Time in UTC, so receivers can rely
// on it.
type Event struct {
	Kind       string    `json:"kind"`
	Project    string    `json:"project"`
	Ref        string    `json:"ref"`
	Env        string    `json:"env"`
	App        string    `json:"app"`
	PipelineID int64     `json:"pipeline_id"`
	Revision   int       `json:"revision"`
	Version    string    `json:"version"`
	Reason     string    `json:"reason"`
	URL        string    `json:"url"`
	Time       time.Time `json:"time"`
}

// eventJSON has Event's fields without its methods, so marshalling it does
// not recurse.
type eventJSON Event

// MarshalJSON encodes the event with Time in UTC, so the same event always
// encodes to the same bytes wherever the server runs.
func (e Event) MarshalJSON() ([]byte, error) {
	e.Time = e.Time.UTC()
	b, err := json.Marshal(eventJSON(e))
	if err != nil {
		return nil, fmt.Errorf("encode %s event: %w", e.Kind, err)
	}
	return b, nil
}

// UnmarshalJSON decodes an event as written by MarshalJSON; Time comes
// back in UTC.
func (e *Event) UnmarshalJSON(b []byte) error {
	var v eventJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("decode event: %w", err)
	}
	v.Time = v.Time.UTC()
	*e = Event(v)
	return nil
}

// Validate reports an event no channel could describe sensibly.
func (e Event) Validate() error {
	if !KnownKind(e.Kind) {
		return fmt.Errorf("unknown event kind %q", e.Kind)
	}
	return nil
}

// Pipeline statuses as the engine and store spell them (GitLab's).
const (
	statusSuccess = "success"
	statusFailed  = "failed"
)

// Fixed says whether a pipeline that finished with status fixes its ref:
// it succeeded and the previous finished pipeline on the same ref had
// failed. Canceled or skipped pipelines in between should not be passed
// as prevStatus, as they neither broke nor fixed anything.
func Fixed(prevStatus, status string) bool {
	return prevStatus == statusFailed && status == statusSuccess
}

// PipelineKind picks the event, if any, for a pipeline that finished with
// status after prevStatus on the same ref ("" when there was none): every
// failure is reported, a success only when it fixes the ref.
func PipelineKind(prevStatus, status string) (kind string, ok bool) {
	switch {
	case status == statusFailed:
		return KindPipelineFailed, true
	case Fixed(prevStatus, status):
		return KindPipelineFixed, true
	}
	return "", false
}
