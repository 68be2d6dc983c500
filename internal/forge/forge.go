// Package forge turns webhook deliveries from GitHub, GitLab and Gitea into
// one plain Event that Gantry's server can act on. Each forge authenticates
// its deliveries differently and names the same facts (branch, head commit,
// merge request) with different fields, so this package is the only place
// that knows those differences; the rest of Gantry sees Kind and Event only.
//
// Nothing here does I/O: Verify and Parse work on the header and body the
// server has already read, which keeps them cheap to fuzz and to test.
package forge

import (
	"errors"
	"fmt"
	"strings"
)

// Kind names a forge, as it appears in the hook URL
// (POST /hooks/{project}/{kind}).
type Kind string

// The forges Gantry accepts deliveries from.
const (
	KindGitHub Kind = "github"
	KindGitLab Kind = "gitlab"
	KindGitea  Kind = "gitea"
)

// Kinds lists every supported forge, for help texts and table tests.
func Kinds() []Kind { return []Kind{KindGitHub, KindGitLab, KindGitea} }

// ErrUnknownKind is returned for a forge name Gantry does not support, so
// the server can answer 404 rather than 400.
var ErrUnknownKind = errors.New("unknown forge")

// ParseKind accepts a forge name from a URL or a flag. Case and surrounding
// space are forgiven because people type these by hand.
func ParseKind(s string) (Kind, error) {
	k := Kind(strings.ToLower(strings.TrimSpace(s)))
	switch k {
	case KindGitHub, KindGitLab, KindGitea:
		return k, nil
	}
	return "", fmt.Errorf("%w %q (want github, gitlab or gitea)", ErrUnknownKind, s)
}

// Header names the forges use. GitLab's idempotency key, event UUID and
// webhook UUID are tried in that order for the delivery ID: the first is
// documented as stable across retries, the others appeared in older
// releases.
const (
	HeaderGitHubEvent      = "X-GitHub-Event"
	HeaderGitHubDelivery   = "X-GitHub-Delivery"
	HeaderHubSignature256  = "X-Hub-Signature-256"
	HeaderHubSignatureSHA1 = "X-Hub-Signature"

	HeaderGitLabEvent       = "X-Gitlab-Event"
	HeaderGitLabToken       = "X-Gitlab-Token"
	HeaderGitLabEventUUID   = "X-Gitlab-Event-UUID"
	HeaderGitLabWebhookUUID = "X-Gitlab-Webhook-UUID"
	HeaderIdempotencyKey    = "Idempotency-Key"

	HeaderGiteaEvent     = "X-Gitea-Event"
	HeaderGiteaDelivery  = "X-Gitea-Delivery"
	HeaderGiteaSignature = "X-Gitea-Signature"
)

// EventHeader is the header a forge names its event in, so callers building
// a delivery (tests, `gantry hook test`) know what to set next to Sign.
func EventHeader(k Kind) string {
	switch k {
	case KindGitHub:
		return HeaderGitHubEvent
	case KindGitLab:
		return HeaderGitLabEvent
	case KindGitea:
		return HeaderGiteaEvent
	}
	return ""
}

// EventName is the value a forge puts in its EventHeader for an event of
// type t, or "" when that forge has no such event (GitLab and Gitea send no
// ping).
func EventName(k Kind, t EventType) string {
	switch k {
	case KindGitHub:
		switch t {
		case EventPush, EventTagPush:
			return "push"
		case EventMergeRequest:
			return "pull_request"
		case EventPing:
			return "ping"
		}
	case KindGitLab:
		switch t {
		case EventPush:
			return "Push Hook"
		case EventTagPush:
			return "Tag Push Hook"
		case EventMergeRequest:
			return "Merge Request Hook"
		}
	case KindGitea:
		switch t {
		case EventPush, EventTagPush:
			return "push"
		case EventMergeRequest:
			return "pull_request"
		}
	}
	return ""
}
