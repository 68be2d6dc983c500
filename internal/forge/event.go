package forge

import "errors"

// EventType is what happened at the forge, in Gantry's own vocabulary so
// the server needs no per-forge switch.
type EventType string

// The events Gantry acts on. Everything else is ErrIgnored.
const (
	// EventPush is a push to a branch.
	EventPush EventType = "push"
	// EventTagPush is a push of a tag, which GitLab CI treats apart from
	// branch pushes (CI_COMMIT_TAG).
	EventTagPush EventType = "tag_push"
	// EventMergeRequest is a merge (pull) request being opened, reopened or
	// given new commits.
	EventMergeRequest EventType = "merge_request"
	// EventPing is GitHub's hook-creation check; it carries no work but
	// deserves a 200 so the forge shows the hook as healthy.
	EventPing EventType = "ping"
)

// Merge request actions, normalised to GitLab's words because Gantry runs
// GitLab CI pipelines; GitHub's "synchronize" and Gitea's "synchronized"
// both become MRActionUpdate.
const (
	MRActionOpen   = "open"
	MRActionReopen = "reopen"
	MRActionUpdate = "update"
)

// Sentinel errors, to be tested with errors.Is. Each is wrapped with the
// detail a person needs to fix the hook.
var (
	// ErrUnauthorized means the delivery did not prove knowledge of the
	// secret; the server answers 401.
	ErrUnauthorized = errors.New("webhook not authorized")
	// ErrIgnored means the delivery is genuine but asks for nothing (an
	// event or action Gantry does not build on); the server answers 202 and
	// creates nothing.
	ErrIgnored = errors.New("webhook event ignored")
	// ErrMalformed means the body or a header cannot be understood; the
	// server answers 400.
	ErrMalformed = errors.New("malformed webhook")
	// ErrTooLarge means the body exceeds MaxBodyBytes; the server answers
	// 413.
	ErrTooLarge = errors.New("webhook body too large")
)

// MaxBodyBytes is the largest body Parse accepts. GitHub caps payloads at
// 25 MB and drops larger ones, so nothing genuine is bigger; the server
// should limit its read to this too.
const MaxBodyBytes = 25 << 20

// Event is one delivery reduced to what starting a pipeline needs. It is a
// plain value so it can be stored with the pipeline and shown in the UI.
type Event struct {
	// Kind is the forge that sent the delivery.
	Kind Kind `json:"kind"`
	// Type is what happened.
	Type EventType `json:"type"`
	// DeliveryID identifies the delivery for de-duplication: the forge's
	// own ID when it sends one, otherwise a digest of the body, so a retried
	// identical body gets the same ID.
	DeliveryID string `json:"delivery_id"`
	// Ref is the short name of the branch or tag (for a merge request: the
	// source branch), as in CI_COMMIT_REF_NAME.
	Ref string `json:"ref,omitempty"`
	// FullRef is the full ref name, refs/heads/x or refs/tags/v1.
	FullRef string `json:"full_ref,omitempty"`
	// SHA is the commit to build: the pushed head, the commit a tag points
	// at (not the annotated tag object), or the merge request's source head.
	// For a deletion it is the all-zero ID the forge sent.
	SHA string `json:"sha,omitempty"`
	// BeforeSHA is what the ref pointed at before, as in
	// CI_COMMIT_BEFORE_SHA; all zeros for a new branch, empty if unknown.
	BeforeSHA string `json:"before_sha,omitempty"`
	// Deleted marks a branch or tag deletion, which must not start a
	// pipeline but may stop environments.
	Deleted bool `json:"deleted,omitempty"`
	// Message is the head commit's message, for SkipCI and for display.
	Message string `json:"message,omitempty"`
	// Author is the forge user who pushed or acted on the merge request.
	Author string `json:"author,omitempty"`
	// RepoURL is the HTTP clone URL of the repository the hook belongs to
	// (for a merge request: the target).
	RepoURL string `json:"repo_url,omitempty"`
	// MR is set for EventMergeRequest only.
	MR *MergeRequest `json:"merge_request,omitempty"`
}

// MergeRequest describes a merge (pull) request event.
type MergeRequest struct {
	// IID is the number shown in the forge (GitLab's iid, GitHub's and
	// Gitea's number), as in CI_MERGE_REQUEST_IID.
	IID          int    `json:"iid"`
	SourceBranch string `json:"source_branch"`
	TargetBranch string `json:"target_branch"`
	// SourceSHA is the head of the source branch; it equals Event.SHA.
	SourceSHA string `json:"source_sha"`
	// TargetSHA is the target branch head when the forge says (GitHub and
	// Gitea do, GitLab does not).
	TargetSHA string `json:"target_sha,omitempty"`
	Title     string `json:"title,omitempty"`
	// Action is MRActionOpen, MRActionReopen or MRActionUpdate.
	Action string `json:"action"`
	// SourceRepoURL is the clone URL of the source repository, which
	// differs from Event.RepoURL when the request comes from a fork. Empty
	// when the fork is gone.
	SourceRepoURL string `json:"source_repo_url,omitempty"`
	// FetchRef is where the target repository keeps the source head
	// (refs/pull/N/head, refs/merge-requests/N/head), so a fork's commit
	// can be fetched from Event.RepoURL without trusting the fork's URL.
	FetchRef string `json:"fetch_ref"`
}
