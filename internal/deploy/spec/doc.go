// Package spec reads gantry.deploy.yaml, the file that says how an app is
// run and rolled out in each environment: what a replica is (a WASI module
// or a process), how many replicas, how readiness is checked, and per
// environment the proxy address and the rollout strategy (rolling,
// blueGreen or canary, named as in Argo Rollouts).
//
// Parsing has three stages, each in its own file:
//
//   - tree.go reads the YAML into a small tree with every position kept,
//     anchors, aliases and merge keys resolved, and duplicate keys refused
//     (yaml.v3 accepts them silently when decoding into nodes).
//   - decode.go and decode_env.go map the tree onto Spec starting from the
//     values in defaults.go, reporting wrong shapes and unknown keys (with a
//     "did you mean" for near misses). Starting from defaults rather than
//     filling zeros afterwards keeps `maxUnavailable: 0` distinct from a
//     missing key.
//   - validate.go checks ranges and cross-field rules. It runs on the typed
//     Spec, so a spec built in code meets the same rules; it still points
//     into the file because the decoder records where each value was.
//
// Top-level keys starting with x- are ignored, as in Compose files, to give
// anchors a home. The analysis section is kept as plain data
// (map[string]any) for the analysis engine to interpret.
//
// All problems are reported at once as an ErrorList of file:line:col
// messages. The package does no I/O beyond Load reading the one file: the
// rollout controller calls Parse on every reconcile of a changed file, and
// tests feed it bytes.
package spec
