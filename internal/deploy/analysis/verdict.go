package analysis

import "github.com/gantry-ci/gantry/internal/deploy/strategy"

// StrategyVerdict is what a run's phase means to the rollout strategy:
// Successful lets the rollout proceed, Failed and Error abort it, and
// Pending and Running hold it where it is, and Inconclusive pauses it as
// Argo Rollouts does: a person promotes or aborts.
func (p Phase) StrategyVerdict() strategy.Verdict {
	switch p {
	case PhaseSuccessful:
		return strategy.VerdictSuccessful
	case PhaseFailed, PhaseError:
		return strategy.VerdictFailed
	case PhaseInconclusive:
		return strategy.VerdictInconclusive
	}
	return strategy.VerdictRunning
}
