// Package local runs the replicas of one app revision on loopback ports
// and keeps them running, so the deploy proxy always has a set of ready
// endpoints to route to.
//
// A replica is either an OS process (started with $PORT, in its own
// process group so nothing it spawns outlives it) or a WebAssembly module
// run in-process by wazero. Wasm modules run in one of two modes: "wagi",
// where a small HTTP server instantiates the module once per request and
// speaks CGI/1.1 to it over stdin/stdout, and "listener", where one
// long-lived instance accepts connections on a TCP socket the host
// pre-opened for it. Listener replicas are reached through a small
// forwarding proxy that wakes the guest whenever bytes move, because
// wazero cannot wait on a guest socket and Go's wasip1 scheduler would
// otherwise spin (see pollState).
//
// Every replica is health checked; one that exits, or fails its check
// FailureThreshold times in a row, is restarted with exponential backoff.
// The package knows nothing of deploy specs or the proxy: callers pass
// plain structs and wire Options.Drain and Set.Changes to the proxy.
package local
