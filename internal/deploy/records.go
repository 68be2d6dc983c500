package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/gantry-ci/gantry/internal/deploy/strategy"
	"github.com/gantry-ci/gantry/internal/store"
)

// Record kinds in store.Records.
const (
	// kindRollout holds one rolloutRecord per app and environment: the
	// state machine, what was last applied and the recent history.
	kindRollout = "rollout"
	// kindRevision holds one revisionRecord per revision: everything
	// needed to run it again after a restart or an undo.
	kindRevision = "revision"
)

// maxEvents is how many recent decisions a rollout record keeps for
// status and watch; the server's event log keeps them all.
const maxEvents = 50

// rolloutRecord is everything the controller knows about one rollout
// that is not in a revision record. It is written before each decision
// is applied, so that a restarted controller applies the same one.
type rolloutRecord struct {
	Project   string `json:"project"`
	ProjectID int64  `json:"projectId,omitempty"`
	App       string `json:"app"`
	Env       string `json:"env"`

	State strategy.State `json:"state"`
	// Replicas and Traffic are what was last applied: the strategy's
	// decision plus a canary's warm predecessor.
	Replicas map[int64]int    `json:"replicas,omitempty"`
	Traffic  strategy.Traffic `json:"traffic"`

	// LastRevision is the highest revision number handed out.
	LastRevision int64 `json:"lastRevision"`
	// Revisions are the revisions kept (revisionHistoryLimit), oldest
	// first.
	Revisions []revisionSummary `json:"revisions,omitempty"`
	// PendingSuccess is the revision whose reaching Healthy counts as a
	// successful deployment.
	PendingSuccess int64 `json:"pendingSuccess,omitempty"`
	// AutoAbort is why analysis or a guardrail gave the last revision up
	// (an abort, or a switch back after promotion); "" when a person did
	// or nothing was. An aborted rollout with one shows as Degraded.
	AutoAbort string `json:"autoAbort,omitempty"`

	Events    []Event   `json:"events,omitempty"`
	EventSeq  int64     `json:"eventSeq"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// revisionSummary is a revision as history lists it.
type revisionSummary struct {
	Revision   int64     `json:"revision"`
	Version    string    `json:"version"`
	Outcome    string    `json:"outcome,omitempty"`
	CreatedAt  time.Time `json:"createdAt"`
	StableAt   time.Time `json:"stableAt,omitzero"`
	Who        string    `json:"who,omitempty"`
	JobID      int64     `json:"jobId,omitempty"`
	SHA        string    `json:"sha,omitempty"`
	RollbackOf int64     `json:"rollbackOf,omitempty"`
	SetKeys    []string  `json:"setKeys,omitempty"`
}

// revisionRecord is one revision as deployed; it never changes.
type revisionRecord struct {
	Revision int64  `json:"revision"`
	Version  string `json:"version"`
	SpecFile string `json:"specFile"`
	SpecYAML string `json:"specYAML"`
	// Artifact names the artifact directory under DataDir/artifacts; ""
	// when the revision has none.
	Artifact   string            `json:"artifact,omitempty"`
	Set        map[string]string `json:"set,omitempty"`
	Who        string            `json:"who,omitempty"`
	JobID      int64             `json:"jobId,omitempty"`
	SHA        string            `json:"sha,omitempty"`
	RollbackOf int64             `json:"rollbackOf,omitempty"`
	CreatedAt  time.Time         `json:"createdAt"`
}

func revisionKey(k Key, rev int64) string {
	return fmt.Sprintf("%s/%012d", k, rev)
}

// clone copies rec deeply enough that a decision being made never
// changes the record the rest of the controller reads.
func (rec *rolloutRecord) clone() *rolloutRecord {
	c := *rec
	c.State = cloneState(rec.State)
	c.Replicas = maps.Clone(rec.Replicas)
	c.Traffic = cloneTraffic(rec.Traffic)
	c.Revisions = slices.Clone(rec.Revisions)
	c.Events = slices.Clone(rec.Events)
	return &c
}

func cloneState(s strategy.State) strategy.State {
	s.Replicas = maps.Clone(s.Replicas)
	s.Observed = maps.Clone(s.Observed)
	if s.CanaryScale != nil {
		sc := *s.CanaryScale
		s.CanaryScale = &sc
	}
	return s
}

func cloneTraffic(t strategy.Traffic) strategy.Traffic {
	t.Weights = maps.Clone(t.Weights)
	if t.Header != nil {
		h := *t.Header
		t.Header = &h
	}
	return t
}

// summary returns the kept revision rev, or nil.
func (rec *rolloutRecord) summary(rev int64) *revisionSummary {
	for i := range rec.Revisions {
		if rec.Revisions[i].Revision == rev {
			return &rec.Revisions[i]
		}
	}
	return nil
}

// addEvent appends to the recent events, numbering it.
func (rec *rolloutRecord) addEvent(e Event) Event {
	rec.EventSeq++
	e.Seq = rec.EventSeq
	rec.Events = append(rec.Events, e)
	if n := len(rec.Events) - maxEvents; n > 0 {
		rec.Events = slices.Delete(rec.Events, 0, n)
	}
	return e
}

// saveRollout writes rec if the stored version is still version and
// returns the new version.
func saveRollout(ctx context.Context, rs store.Records, k Key, version int64, rec *rolloutRecord) (int64, error) {
	data, err := json.Marshal(rec)
	if err != nil {
		return version, fmt.Errorf("encode rollout %s: %w", k, err)
	}
	r := &store.Record{Kind: kindRollout, Key: k.String(), Version: version, Data: data}
	if err := rs.PutRecord(ctx, r); err != nil {
		return version, fmt.Errorf("save rollout %s: %w", k, err)
	}
	return r.Version, nil
}

// loadRollout reads a rollout record; ErrNotFound when there is none.
func loadRollout(ctx context.Context, rs store.Records, k Key) (*rolloutRecord, int64, error) {
	r, err := rs.GetRecord(ctx, kindRollout, k.String())
	if errors.Is(err, store.ErrNotFound) {
		return nil, 0, notFound("rollout %s", k)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("load rollout %s: %w", k, err)
	}
	var rec rolloutRecord
	if err := json.Unmarshal(r.Data, &rec); err != nil {
		return nil, 0, fmt.Errorf("decode rollout %s: %w", k, err)
	}
	return &rec, r.Version, nil
}

func saveRevision(ctx context.Context, rs store.Records, k Key, rev *revisionRecord) error {
	data, err := json.Marshal(rev)
	if err != nil {
		return fmt.Errorf("encode revision %d of %s: %w", rev.Revision, k, err)
	}
	r := &store.Record{Kind: kindRevision, Key: revisionKey(k, rev.Revision), Data: data}
	if err := rs.PutRecord(ctx, r); err != nil {
		return fmt.Errorf("save revision %d of %s: %w", rev.Revision, k, err)
	}
	return nil
}

func loadRevision(ctx context.Context, rs store.Records, k Key, rev int64) (*revisionRecord, error) {
	r, err := rs.GetRecord(ctx, kindRevision, revisionKey(k, rev))
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound("revision %d of %s", rev, k)
	}
	if err != nil {
		return nil, fmt.Errorf("load revision %d of %s: %w", rev, k, err)
	}
	var rec revisionRecord
	if err := json.Unmarshal(r.Data, &rec); err != nil {
		return nil, fmt.Errorf("decode revision %d of %s: %w", rev, k, err)
	}
	return &rec, nil
}
