// Package deploy is the rollout controller: one durable state machine per
// app and environment, driven by the strategies of internal/deploy/strategy
// and applied to a target (internal/deploy/localtarget runs replicas on
// this machine behind Gantry's proxy).
//
// Each rollout has a loop goroutine, the only writer of its state. It
// decides on every replica readiness change, timer and user request:
// strategy.Next returns the replicas per revision and the traffic split,
// the decision is written to store.Records (kind "rollout"; revisions are
// kind "revision") before it is applied, and only once applied is it shown
// to readers, watchers and the server's event log. A restarted controller
// therefore applies the last decision again and carries on at the same
// step and weight, its pause timers measured from the persisted start.
//
// On top of the strategies the controller keeps the revision a canary
// promotion replaced running for the default scale-down delay, so that
// undo only has to move traffic; blue-green does the same with its own
// delay. Undo to such a warm revision switches back at once; undo to any
// other revision rolls a copy of it forward as a new revision.
//
// Artifacts (a wasm module, an executable or a tarball) are stored once
// per content under DataDir/artifacts and removed when no kept revision
// (revisionHistoryLimit) uses them. Handler serves the HTTP API the CLI's
// `gantry deploy` and `gantry rollout` use.
package deploy
