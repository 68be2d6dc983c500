package forge

import (
	"fmt"
	"net/http"
	"strconv"
)

// GitHub payload fields Gantry reads; everything else is skipped by the
// decoder.
type ghUser struct {
	Login string `json:"login"`
	Name  string `json:"name"`
}

type ghRepo struct {
	CloneURL string `json:"clone_url"`
}

type ghCommit struct {
	ID      string `json:"id"`
	Message string `json:"message"`
}

type ghPush struct {
	Ref        string    `json:"ref"`
	Before     string    `json:"before"`
	After      string    `json:"after"`
	Deleted    bool      `json:"deleted"`
	HeadCommit *ghCommit `json:"head_commit"`
	Repository *ghRepo   `json:"repository"`
	Pusher     *ghUser   `json:"pusher"`
	Sender     *ghUser   `json:"sender"`
}

type ghBranch struct {
	Ref  string  `json:"ref"`
	SHA  string  `json:"sha"`
	Repo *ghRepo `json:"repo"`
}

type ghPullRequest struct {
	Action      string  `json:"action"`
	Number      int     `json:"number"`
	Before      string  `json:"before"`
	Repository  *ghRepo `json:"repository"`
	Sender      *ghUser `json:"sender"`
	PullRequest *struct {
		Number int       `json:"number"`
		Title  string    `json:"title"`
		Head   *ghBranch `json:"head"`
		Base   *ghBranch `json:"base"`
		User   *ghUser   `json:"user"`
	} `json:"pull_request"`
}

type ghPing struct {
	Repository *ghRepo `json:"repository"`
}

// ghActions maps the pull_request actions that change what would be built
// (the ones GitHub Actions runs on by default) to Gantry's actions.
var ghActions = map[string]string{
	"opened":      MRActionOpen,
	"reopened":    MRActionReopen,
	"synchronize": MRActionUpdate,
}

func parseGitHub(h http.Header, body []byte) (Event, error) {
	name, err := eventName(h, HeaderGitHubEvent)
	if err != nil {
		return Event{}, err
	}
	id, err := deliveryID(KindGitHub, name, h, body, HeaderGitHubDelivery)
	if err != nil {
		return Event{}, err
	}
	switch name {
	case "push":
		var p ghPush
		if err := decodeJSON(h, body, &p); err != nil {
			return Event{}, err
		}
		in := push{
			ref: p.Ref, before: p.Before, after: p.After, deleted: p.Deleted,
			author: firstNonEmpty(loginOf(p.Sender), nameOf(p.Pusher)),
		}
		if p.HeadCommit != nil {
			in.headSHA, in.message = p.HeadCommit.ID, p.HeadCommit.Message
		}
		if p.Repository != nil {
			in.repoURL = p.Repository.CloneURL
		}
		return in.event(id)
	case "pull_request":
		var p ghPullRequest
		if err := decodeJSON(h, body, &p); err != nil {
			return Event{}, err
		}
		action, ok := ghActions[p.Action]
		if !ok {
			return Event{}, fmt.Errorf("%w: pull_request action %q", ErrIgnored, clip(p.Action, 64))
		}
		pr := p.PullRequest
		if pr == nil || pr.Head == nil || pr.Base == nil {
			return Event{}, fmt.Errorf("%w: pull_request event without pull_request head and base", ErrMalformed)
		}
		m := mr{
			iid: firstPositive(p.Number, pr.Number), action: action,
			sourceBranch: pr.Head.Ref, targetBranch: pr.Base.Ref,
			sourceSHA: pr.Head.SHA, targetSHA: pr.Base.SHA, before: p.Before,
			title: pr.Title, author: firstNonEmpty(loginOf(p.Sender), loginOf(pr.User)),
		}
		m.fetchRef = "refs/pull/" + strconv.Itoa(m.iid) + "/head"
		if p.Repository != nil {
			m.repoURL = p.Repository.CloneURL
		}
		if pr.Head.Repo != nil {
			m.sourceRepoURL = pr.Head.Repo.CloneURL
		}
		return m.event(id)
	case "ping":
		var p ghPing
		if err := decodeJSON(h, body, &p); err != nil {
			return Event{}, err
		}
		ev := Event{Type: EventPing, DeliveryID: id}
		if p.Repository != nil {
			if ev.RepoURL, err = cleanURL("repository URL", p.Repository.CloneURL); err != nil {
				return Event{}, err
			}
		}
		return ev, nil
	}
	return Event{}, fmt.Errorf("%w: GitHub event %q", ErrIgnored, name)
}

func loginOf(u *ghUser) string {
	if u == nil {
		return ""
	}
	return u.Login
}

func nameOf(u *ghUser) string {
	if u == nil {
		return ""
	}
	return u.Name
}

func firstPositive(ns ...int) int {
	for _, n := range ns {
		if n > 0 {
			return n
		}
	}
	return 0
}
