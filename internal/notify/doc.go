// Package notify tells people about pipeline and rollout events — a
// pipeline that failed or was fixed, a rollout that paused, was promoted
// or aborted, a rollback — through Slack-compatible incoming webhooks,
// generic signed webhooks and e-mail.
//
// Delivery happens off the caller's path: [Notifier.Notify] only enqueues,
// a small worker pool sends, and every attempt is reported through
// [Options.Record] so the server can show what reached whom. A delivery
// that cannot even be queued is reported as failed rather than dropped.
//
// # Verifying generic webhooks
//
// A "webhook" channel receives the [Event] as JSON in a POST with these
// headers:
//
//	Content-Type:            application/json
//	X-Gantry-Event:          the event kind, e.g. "rollout_aborted"
//	X-Gantry-Delivery:       an ID that stays the same across retries of one
//	                         delivery, so a receiver can ignore duplicates
//	X-Gantry-Signature-256:  "sha256=" + hex(HMAC-SHA256(secret, body))
//
// The signature header is sent only when the channel has a Secret. A
// receiver computes the HMAC-SHA256 of the raw request body, before any
// JSON decoding, keyed with the shared secret, hex-encodes it, prefixes
// "sha256=" and compares it with the header in constant time (in Go,
// hmac.Equal; [VerifySignature] does exactly this). The scheme is the one
// GitHub uses for X-Hub-Signature-256, so existing verifiers work with the
// header name changed.
package notify
