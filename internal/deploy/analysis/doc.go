// Package analysis judges a new revision from measurements, in Argo Rollouts'
// vocabulary: templates of metrics, each measured by a provider on an
// interval and judged by successCondition / failureCondition expressions
// over `result`, with failureLimit, inconclusiveLimit and
// consecutiveErrorLimit deciding when a metric, and so the run, is over.
//
// Gantry adds what Argo Rollouts and Flagger leave to accident:
//
//   - An explicit no-data rule per metric (onNoData: inconclusive, fail or
//     pass, plus minSamples). A measurement that rests on too few requests,
//     or a query that returns nothing, is never judged by its conditions:
//     the rule decides and the record says so.
//   - Errors are not failures: a provider that cannot measure, or a
//     condition that cannot be evaluated, counts towards
//     consecutiveErrorLimit and never towards failureLimit.
//   - Guardrails: cheap rules over the proxy's own per-revision figures,
//     evaluated after every small batch of requests instead of on an
//     interval, so a canary answering 500s is caught within about a second.
//   - Every measurement is a Record (value, condition, phase, the resolved
//     query and the number of requests it rests on), and an abort reason
//     names the metric, the value and the limit.
//
// The judging itself is pure: Metric.Next and Run.Next take a state, the
// time and a measurement and return the next state, with no clock and no
// I/O, so a controller can persist RunState as JSON and resume after a
// restart. Runner and Guard are the parts that own goroutines and time.
//
// Providers (builtin, prometheus, web, job) sit behind the one-method
// Provider interface; Providers dispatches on the metric's provider.
package analysis
