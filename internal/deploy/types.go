package deploy

import (
	"errors"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/gantry-ci/gantry/internal/deploy/target"
)

// Errors the controller returns (wrapped), so that the API can answer with
// the right status without parsing messages.
var (
	// ErrNotFound: no such rollout or revision (404).
	ErrNotFound = errors.New("not found")
	// ErrInvalid: the request cannot be done as asked — a bad spec, an
	// unknown environment, a missing artifact (400).
	ErrInvalid = errors.New("invalid request")
	// ErrConflict: the request does not fit the rollout's state — promote
	// with nothing to promote, an address in use (409).
	ErrConflict = errors.New("conflict")
	// ErrForbidden: the caller may not do this (403).
	ErrForbidden = errors.New("forbidden")
	// ErrClosed: the controller is not running.
	ErrClosed = errors.New("deploy controller is not running")
)

// Key names one rollout: an app in an environment of a project.
type Key struct {
	Project string `json:"project"`
	App     string `json:"app"`
	Env     string `json:"env"`
}

// String is the record key: each part escaped so that the separator is
// unambiguous and a prefix of it lists one app's environments.
func (k Key) String() string {
	return url.PathEscape(k.Project) + "/" + url.PathEscape(k.App) + "/" + url.PathEscape(k.Env)
}

// parseKey reverses String.
func parseKey(s string) (Key, error) {
	parts := strings.Split(s, "/")
	if len(parts) != 3 {
		return Key{}, errors.New("rollout key has not three parts")
	}
	var k Key
	var err error
	for i, dst := range []*string{&k.Project, &k.App, &k.Env} {
		if *dst, err = url.PathUnescape(parts[i]); err != nil {
			return Key{}, err
		}
	}
	return k, nil
}

// DeployRequest is one `gantry deploy`.
type DeployRequest struct {
	Project   string
	ProjectID int64
	// SpecYAML is gantry.deploy.yaml; SpecFile names it in error messages.
	SpecYAML []byte
	SpecFile string
	Env      string
	// Version is the label replicas see as GANTRY_VERSION.
	Version string
	// Artifact is a wasm module, a single executable, or a tar (optionally
	// gzipped) unpacked as the replicas' working directory. Nil runs the
	// spec's command or absolute module path as is.
	Artifact io.Reader
	// Set are extra environment variables of this revision's replicas.
	Set map[string]string
	// Who asked, and from which job and commit (pipeline deploys).
	Who   string
	JobID int64
	SHA   string
}

// Revision describes one revision of a rollout, for history and for the
// answer to a deploy.
type Revision struct {
	Revision int64  `json:"revision"`
	Version  string `json:"version"`
	// Phase is the rollout's phase for the revision being rolled out,
	// "Stable" for the stable one, and for older ones how they ended:
	// "Superseded", "Aborted" or "Abandoned".
	Phase     string    `json:"phase"`
	CreatedAt time.Time `json:"createdAt"`
	StableAt  time.Time `json:"stableAt,omitzero"`
	Who       string    `json:"who,omitempty"`
	JobID     int64     `json:"jobId,omitempty"`
	SHA       string    `json:"sha,omitempty"`
	// RollbackOf is the revision an undo copied.
	RollbackOf int64 `json:"rollbackOf,omitempty"`
	// SetKeys names the --set variables (their values may be secrets).
	SetKeys []string `json:"setKeys,omitempty"`
}

// Phases of a revision that is neither stable nor being rolled out.
const (
	RevisionStable     = "Stable"
	RevisionSuperseded = "Superseded"
	RevisionAborted    = "Aborted"
	RevisionAbandoned  = "Abandoned"
)

// RevisionRef names a revision in a status.
type RevisionRef struct {
	Revision int64  `json:"revision"`
	Version  string `json:"version"`
}

// Status is a rollout as `gantry rollout status --json` prints it.
type Status struct {
	Project  string `json:"project"`
	App      string `json:"app"`
	Env      string `json:"env"`
	Strategy string `json:"strategy"`
	// Phase is Progressing, Paused, Healthy, Degraded or Aborted.
	Phase       string `json:"phase"`
	Message     string `json:"message,omitempty"`
	AbortReason string `json:"abortReason,omitempty"`
	// Stable serves traffic when no rollout is in progress; Canary is the
	// revision being rolled out (kept after an abort for retry), or nil.
	Stable *RevisionRef `json:"stable"`
	Canary *RevisionRef `json:"canary"`
	// Weight is the percentage of requests the canary gets.
	Weight int `json:"weight"`
	// Step is the index of the current canary step (the number of steps
	// done), as Argo Rollouts' currentStepIndex; Steps is their number.
	Step  int `json:"step"`
	Steps int `json:"steps"`
	// Traffic is the weight per revision number on the main address.
	Traffic map[int64]int `json:"traffic,omitempty"`
	// URL is where the environment answers; PreviewURL where a blue-green
	// preview does.
	URL        string `json:"url"`
	PreviewURL string `json:"previewUrl,omitempty"`
	// Revisions are the replicas of each running revision.
	Revisions []RevisionReplicas `json:"revisions,omitempty"`
	// Analysis is the last analysis verdict (or guardrail trip), with the
	// metric, value and limit that decided it.
	Analysis *AnalysisVerdict `json:"analysis,omitempty"`
	// Events are the most recent decisions, oldest first.
	Events    []Event   `json:"events,omitempty"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// RevisionReplicas is what runs of one revision.
type RevisionReplicas struct {
	RevisionRef
	target.RevisionStatus
}

// Event is one decision of a rollout.
type Event struct {
	// Seq numbers a rollout's events, so a watcher prints each once.
	Seq      int64     `json:"seq"`
	Time     time.Time `json:"time"`
	Revision int64     `json:"revision,omitempty"`
	Reason   string    `json:"reason"`
	Message  string    `json:"message"`
	// Who caused it: a user, a job, or "gantry" for the controller's own.
	Who string `json:"who"`
}

// EventType is the type of the events the controller appends to the
// server's event log.
const EventType = "rollout"

// controllerName is who automatic decisions are attributed to.
const controllerName = "gantry"
