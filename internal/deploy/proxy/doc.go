// Package proxy is Gantry's weighted reverse proxy in front of an application's replicas.
//
// Rollouts (rolling, blue-green, canary) move traffic between revisions by swapping the
// routing table with SetRoutes; each request sees one table from start to end. Traffic is
// split between revisions by smooth weighted round-robin rather than at random, so that a
// 1% canary gets 1% of the requests even over a few hundred of them, which is what lets the
// analysis judge a canary early. Inside a revision the endpoint with the fewest requests in
// flight wins, so a slow replica is not handed more work than it can finish.
//
// The proxy keeps per-revision figures (status classes and a mergeable HDR latency
// histogram) in a sliding window of small buckets; guardrails read them with Window and
// wake up on Subscribe after every small batch of requests, which is what drives automatic
// rollback.
//
// Body-less GET, HEAD and OPTIONS requests, nearly all of a web application's traffic,
// are forwarded over the proxy's own keep-alive connections in the handler's goroutine;
// everything else (request bodies, upgrades, Expect) goes through httputil.ReverseProxy.
//
// Routes.Fallback names a revision (the stable one, during a canary or rolling update)
// that answers in place of any other revision whose answer to a direct-path request was a
// server error (5xx but 501). The error is recorded for the revision that gave it, in
// Window and http_requests_total alike, so guardrails abort a broken canary as before,
// but users do not see its errors meanwhile; gantry_proxy_fallback_total and
// Stats.Fallbacks count the retries and X-Gantry-Fallback names the revision replaced.
// Header-routed requests and requests with bodies are never retried.
//
// A replica that refuses connections is skipped for the request (and for a moment after)
// in favour of another replica of the same revision, and Drain lets the caller stop a
// replica only once no request is in flight to it, so that a rollout fails no request.
package proxy
