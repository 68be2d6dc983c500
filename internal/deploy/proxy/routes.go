package proxy

// Routes is a complete routing table: the revisions that take traffic and how much.
// SetRoutes replaces the whole table at once, so a rollout step is one call.
type Routes struct {
	// Backends are the revisions; each revision appears once.
	Backends []Backend
	// Header, when set, sends requests that carry a header value to one revision whatever
	// its weight, so testers can reach a canary before it takes ordinary traffic.
	Header *HeaderRoute
	// Fallback, when set, names the revision (one of Backends) that answers instead of any
	// other revision whose answer to a body-less GET, HEAD or OPTIONS was a server error
	// (5xx except 501). The failed answer still counts in its revision's figures, so
	// guardrails see the failure while the client does not; header-routed requests are
	// never sent to the fallback, since the tester asked for that revision's own answer.
	// Empty turns fallback retries off.
	Fallback string
}

// Backend is one revision of the application and the replicas that serve it.
type Backend struct {
	// Revision names the revision; it labels figures, metrics and X-Gantry-Revision.
	Revision string
	// Weight is relative to the other backends' weights; 0 takes no weighted traffic
	// (a canary reached only through the header route, or a revision being drained).
	Weight int
	// Endpoints are the replicas' loopback addresses as host:port.
	Endpoints []string
}

// HeaderRoute sends requests whose header Name has the value Value to Revision.
type HeaderRoute struct {
	Name, Value, Revision string
}
