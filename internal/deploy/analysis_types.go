package deploy

import (
	"strconv"
	"time"

	"github.com/gantry-ci/gantry/internal/deploy/analysis"
)

// Analysis run names, as measurements and verdicts show them.
const (
	RunBackground    = "background"
	RunPrePromotion  = "prePromotion"
	RunPostPromotion = "postPromotion"
	RunGuardrails    = "guardrails"
)

// stepRun names the run of canary step i (0-based), as "step 3".
func stepRun(i int) string { return "step " + strconv.Itoa(i+1) }

// Measurement is one judged measurement of a rollout's analysis.
type Measurement struct {
	// Run is the analysis it belongs to: "step N", "background",
	// "prePromotion", "postPromotion" or "guardrails".
	Run      string `json:"run"`
	Revision int64  `json:"revision"`
	analysis.Record
}

// AnalysisVerdict is how an analysis run ended, or a guardrail tripped.
type AnalysisVerdict struct {
	Run      string         `json:"run"`
	Revision int64          `json:"revision"`
	Phase    analysis.Phase `json:"phase"`
	// Reason names the metric, the value and the limit.
	Reason string    `json:"reason,omitempty"`
	Time   time.Time `json:"time"`
}

// AnalysisRun is one analysis run of the current revision.
type AnalysisRun struct {
	Name      string         `json:"name"`
	Revision  int64          `json:"revision"`
	Templates []string       `json:"templates"`
	Phase     analysis.Phase `json:"phase"`
	Message   string         `json:"message,omitempty"`
	StartedAt time.Time      `json:"startedAt,omitzero"`
}

// AnalysisStatus is what `gantry rollout analysis` prints: the runs of
// the revision being judged, the last verdict and the recent
// measurements, oldest first.
type AnalysisStatus struct {
	Project      string           `json:"project"`
	App          string           `json:"app"`
	Env          string           `json:"env"`
	Revision     int64            `json:"revision,omitempty"`
	Verdict      *AnalysisVerdict `json:"verdict,omitempty"`
	Runs         []AnalysisRun    `json:"runs,omitempty"`
	Measurements []Measurement    `json:"measurements,omitempty"`
}

// kindAnalysis holds one analysisRecord per rollout. It is separate from
// the rollout record because measurements arrive from runner goroutines,
// while the rollout record has a single writer, the loop.
const kindAnalysis = "analysis"

// maxMeasurements is how many recent measurements a rollout keeps.
const maxMeasurements = 500

// analysisRecord is the persisted analysis of one rollout: the runs of
// the revision being judged (their states, to resume after a restart),
// recent measurements of any revision and the last verdict.
type analysisRecord struct {
	Revision     int64            `json:"revision"`
	Runs         []runRecord      `json:"runs,omitempty"`
	Measurements []Measurement    `json:"measurements,omitempty"`
	Verdict      *AnalysisVerdict `json:"verdict,omitempty"`
}

// runRecord is one run's definition and progress.
type runRecord struct {
	Name      string            `json:"name"`
	Revision  int64             `json:"revision"`
	Templates []string          `json:"templates"`
	State     analysis.RunState `json:"state"`
	// Handled: the run's end was acted on (a post-promotion switch back).
	Handled bool `json:"handled,omitempty"`
}

func (a *analysisRecord) run(name string, rev int64) *runRecord {
	for i := range a.Runs {
		if a.Runs[i].Name == name && a.Runs[i].Revision == rev {
			return &a.Runs[i]
		}
	}
	return nil
}

func (a *analysisRecord) addMeasurement(m Measurement) {
	a.Measurements = append(a.Measurements, m)
	if n := len(a.Measurements) - maxMeasurements; n > 0 {
		a.Measurements = append([]Measurement(nil), a.Measurements[n:]...)
	}
}
