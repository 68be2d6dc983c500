package analysis

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Evaluate judges one measurement of the metric on its own, without the
// limits: Error when err is set or a condition cannot be evaluated, the
// no-data rule when there is no data (or fewer than MinSamples samples),
// otherwise the conditions as Argo Rollouts reads them. It is pure.
func (mt *Metric) Evaluate(now time.Time, ms Measurement, err error) Record {
	rec := Record{
		Metric:  mt.Name,
		Time:    now,
		Value:   Number(ms.Value),
		Samples: ms.Samples,
		Query:   ms.Query,
		Raw:     ms.Raw,
		DryRun:  mt.DryRun,
	}
	if ms.Result != nil {
		rec.Result = ms.Result
	}
	if err != nil {
		rec.Phase = PhaseError
		rec.Value = Number(math.NaN())
		if ms.Samples == 0 {
			rec.Samples = -1 // nothing was counted
		}
		rec.Message = firstLine(err.Error())
		return rec
	}
	if why, none := mt.noData(ms); none {
		rec.NoData = true
		rec.Phase = mt.noDataPhase()
		rec.Message = fmt.Sprintf("no data (%s): counted as %s by onNoData %q", why, strings.ToLower(string(rec.Phase)), mt.OnNoData)
		return rec
	}
	mt.judge(&rec, ms.result())
	return rec
}

// noData tells whether ms has too little to judge, and says why.
func (mt *Metric) noData(ms Measurement) (string, bool) {
	unit := mt.sampleUnit()
	switch {
	case ms.NoData && ms.Samples >= 0:
		return fmt.Sprintf("%d %s", ms.Samples, unit), true
	case ms.NoData:
		return "empty result", true
	case mt.MinSamples > 0 && ms.Samples >= 0 && ms.Samples < mt.MinSamples:
		return fmt.Sprintf("%d %s < minSamples %d", ms.Samples, unit, mt.MinSamples), true
	}
	return "", false
}

func (mt *Metric) noDataPhase() Phase {
	switch mt.OnNoData {
	case NoDataFail:
		return PhaseFailed
	case NoDataPass:
		return PhaseSuccessful
	}
	return PhaseInconclusive
}

// sampleUnit names what Samples counts, for messages.
func (mt *Metric) sampleUnit() string {
	if mt.Provider.Builtin != nil {
		return "requests"
	}
	return "samples"
}

// judge applies the conditions: a failureCondition that holds fails; a
// successCondition that holds succeeds; with only one of them, the other
// is its negation; with both and neither holding, the measurement is
// inconclusive; with none, every measurement succeeds.
func (mt *Metric) judge(rec *Record, result any) {
	if (mt.SuccessCondition != "" && mt.success == nil) || (mt.FailureCondition != "" && mt.failure == nil) {
		rec.Phase, rec.Message = PhaseError, "conditions were not compiled (Metric.Compile)"
		return
	}
	var succ, fail bool
	if mt.success != nil {
		ok, err := runCondition(mt.success, result)
		if err != nil {
			rec.Phase, rec.Condition = PhaseError, mt.SuccessCondition+" (successCondition)"
			rec.Message = "evaluate successCondition: " + err.Error()
			return
		}
		succ = ok
	}
	if mt.failure != nil {
		ok, err := runCondition(mt.failure, result)
		if err != nil {
			rec.Phase, rec.Condition = PhaseError, mt.FailureCondition+" (failureCondition)"
			rec.Message = "evaluate failureCondition: " + err.Error()
			return
		}
		fail = ok
	}
	sc, fc := mt.SuccessCondition+" (successCondition)", mt.FailureCondition+" (failureCondition)"
	suf := mt.samplesSuffix(*rec)
	switch {
	case mt.success == nil && mt.failure == nil:
		rec.Phase, rec.Message = PhaseSuccessful, "no condition: every measurement succeeds"
	case fail:
		rec.Phase, rec.Condition = PhaseFailed, fc
		rec.Message = mt.describeValue(rec) + " " + substituteResult(mt.FailureCondition) + " (failureCondition)" + suf
	case mt.failure == nil && !succ:
		rec.Phase, rec.Condition = PhaseFailed, sc
		rec.Message = fmt.Sprintf("%s does not meet successCondition %q%s", mt.describeValue(rec), mt.SuccessCondition, suf)
	case succ || mt.success == nil:
		rec.Phase = PhaseSuccessful
		if mt.success != nil {
			rec.Condition = sc
		} else {
			rec.Condition = fc
		}
	default:
		rec.Phase, rec.Condition = PhaseInconclusive, sc+"; "+fc
		rec.Message = fmt.Sprintf("%s meets neither successCondition %q nor failureCondition %q%s",
			mt.describeValue(rec), mt.SuccessCondition, mt.FailureCondition, suf)
	}
}

// describeValue is "value 0.31" or `value "down"`.
func (mt *Metric) describeValue(rec *Record) string {
	return "value " + valueText(rec)
}

func valueText(rec *Record) string {
	switch r := rec.Result.(type) {
	case nil:
		return rec.Value.String()
	case string:
		return strconv.Quote(r)
	case bool:
		return strconv.FormatBool(r)
	}
	return fmt.Sprintf("%v", rec.Result)
}

// substituteResult turns "result >= 0.05" into ">= 0.05" after "value 0.31"
// reads naturally; conditions not starting with result are shown whole.
func substituteResult(cond string) string {
	if rest, ok := strings.CutPrefix(strings.TrimSpace(cond), "result"); ok && strings.HasPrefix(rest, " ") {
		return strings.TrimSpace(rest)
	}
	return "meets " + strconv.Quote(cond)
}

// samplesSuffix is " on 96 requests" when the provider counted them.
func (mt *Metric) samplesSuffix(rec Record) string {
	if rec.Samples < 0 || rec.NoData {
		return ""
	}
	return fmt.Sprintf(" on %d %s", rec.Samples, mt.sampleUnit())
}
