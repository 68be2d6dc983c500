package forge

import (
	"fmt"
	"net/http"
	"strconv"
)

// GitLab payload fields Gantry reads.
type glProject struct {
	GitHTTPURL string `json:"git_http_url"`
}

type glCommit struct {
	ID      string `json:"id"`
	Message string `json:"message"`
}

type glPush struct {
	ObjectKind   string     `json:"object_kind"`
	Ref          string     `json:"ref"`
	Before       string     `json:"before"`
	After        string     `json:"after"`
	CheckoutSHA  string     `json:"checkout_sha"`
	Message      string     `json:"message"`
	UserName     string     `json:"user_name"`
	UserUsername string     `json:"user_username"`
	Project      *glProject `json:"project"`
	Commits      []glCommit `json:"commits"`
}

type glMergeRequest struct {
	ObjectKind string `json:"object_kind"`
	User       *struct {
		Name     string `json:"name"`
		Username string `json:"username"`
	} `json:"user"`
	Project *glProject `json:"project"`
	Attrs   *struct {
		IID          int        `json:"iid"`
		Title        string     `json:"title"`
		SourceBranch string     `json:"source_branch"`
		TargetBranch string     `json:"target_branch"`
		Action       string     `json:"action"`
		OldRev       string     `json:"oldrev"`
		LastCommit   *glCommit  `json:"last_commit"`
		Source       *glProject `json:"source"`
	} `json:"object_attributes"`
}

// glActions maps merge request actions to Gantry's; "update" is only taken
// when it brings commits (see parseGitLab).
var glActions = map[string]string{
	"open":   MRActionOpen,
	"reopen": MRActionReopen,
	"update": MRActionUpdate,
}

func parseGitLab(h http.Header, body []byte) (Event, error) {
	name, err := eventName(h, HeaderGitLabEvent)
	if err != nil {
		return Event{}, err
	}
	id, err := deliveryID(KindGitLab, name, h, body, HeaderIdempotencyKey, HeaderGitLabEventUUID, HeaderGitLabWebhookUUID)
	if err != nil {
		return Event{}, err
	}
	switch name {
	case "Push Hook", "Tag Push Hook":
		kind := map[string]string{"Push Hook": "push", "Tag Push Hook": "tag_push"}[name]
		var p glPush
		if err := decodeJSON(h, body, &p); err != nil {
			return Event{}, err
		}
		if p.ObjectKind != "" && p.ObjectKind != kind {
			return Event{}, fmt.Errorf("%w: %s carries object_kind %q", ErrMalformed, name, clip(p.ObjectKind, 64))
		}
		in := push{
			ref: p.Ref, before: p.Before, after: p.After, headSHA: p.CheckoutSHA,
			author: firstNonEmpty(p.UserUsername, p.UserName),
		}
		in.message = glHeadMessage(p)
		if p.Project != nil {
			in.repoURL = p.Project.GitHTTPURL
		}
		return in.event(id)
	case "Merge Request Hook":
		var p glMergeRequest
		if err := decodeJSON(h, body, &p); err != nil {
			return Event{}, err
		}
		if p.ObjectKind != "" && p.ObjectKind != "merge_request" {
			return Event{}, fmt.Errorf("%w: %s carries object_kind %q", ErrMalformed, name, clip(p.ObjectKind, 64))
		}
		a := p.Attrs
		if a == nil {
			return Event{}, fmt.Errorf("%w: merge request event without object_attributes", ErrMalformed)
		}
		action, ok := glActions[a.Action]
		if !ok {
			return Event{}, fmt.Errorf("%w: merge request action %q", ErrIgnored, clip(a.Action, 64))
		}
		// GitLab sends "update" for title, label and assignee edits too;
		// only an update with oldrev moved the source branch, and only that
		// one gets a pipeline in GitLab.
		if action == MRActionUpdate && a.OldRev == "" {
			return Event{}, fmt.Errorf("%w: merge request action \"update\" without new commits (no oldrev)", ErrIgnored)
		}
		m := mr{
			iid: a.IID, action: action,
			sourceBranch: a.SourceBranch, targetBranch: a.TargetBranch,
			before: a.OldRev, title: a.Title,
			fetchRef: "refs/merge-requests/" + strconv.Itoa(a.IID) + "/head",
		}
		if a.LastCommit != nil {
			m.sourceSHA, m.message = a.LastCommit.ID, a.LastCommit.Message
		}
		if a.Source != nil {
			m.sourceRepoURL = a.Source.GitHTTPURL
		}
		if p.User != nil {
			m.author = firstNonEmpty(p.User.Username, p.User.Name)
		}
		if p.Project != nil {
			m.repoURL = p.Project.GitHTTPURL
		}
		return m.event(id)
	}
	return Event{}, fmt.Errorf("%w: GitLab event %q", ErrIgnored, name)
}

// glHeadMessage finds the head commit's message. GitLab lists the pushed
// commits without promising an order (releases differ), so the head is
// found by ID; an annotated tag push with no commit listed falls back to
// the tag's message.
func glHeadMessage(p glPush) string {
	head := firstNonEmpty(p.CheckoutSHA, p.After)
	for _, c := range p.Commits {
		if c.ID == head {
			return c.Message
		}
	}
	return p.Message
}
