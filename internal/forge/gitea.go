package forge

import (
	"fmt"
	"net/http"
	"strconv"
)

// Gitea payload fields Gantry reads. Gitea models its payloads on
// GitHub's, so the user, repository and commit shapes are shared.
type gtUser struct {
	Login    string `json:"login"`
	Username string `json:"username"`
}

type gtPush struct {
	Ref        string     `json:"ref"`
	Before     string     `json:"before"`
	After      string     `json:"after"`
	HeadCommit *ghCommit  `json:"head_commit"`
	Commits    []ghCommit `json:"commits"`
	Repository *ghRepo    `json:"repository"`
	Pusher     *gtUser    `json:"pusher"`
	Sender     *gtUser    `json:"sender"`
}

type gtPullRequest struct {
	Action      string  `json:"action"`
	Number      int     `json:"number"`
	Repository  *ghRepo `json:"repository"`
	Sender      *gtUser `json:"sender"`
	PullRequest *struct {
		Number int       `json:"number"`
		Title  string    `json:"title"`
		Head   *ghBranch `json:"head"`
		Base   *ghBranch `json:"base"`
	} `json:"pull_request"`
}

var gtActions = map[string]string{
	"opened":       MRActionOpen,
	"reopened":     MRActionReopen,
	"synchronized": MRActionUpdate,
}

func parseGitea(h http.Header, body []byte) (Event, error) {
	// Forgejo sends its own header beside Gitea's; either will do.
	name, err := eventName(h, HeaderGiteaEvent, "X-Forgejo-Event")
	if err != nil {
		return Event{}, err
	}
	id, err := deliveryID(KindGitea, name, h, body, HeaderGiteaDelivery, "X-Forgejo-Delivery")
	if err != nil {
		return Event{}, err
	}
	switch name {
	case "push":
		var p gtPush
		if err := decodeJSON(h, body, &p); err != nil {
			return Event{}, err
		}
		in := push{
			ref: p.Ref, before: p.Before, after: p.After,
			author: firstNonEmpty(gtLogin(p.Pusher), gtLogin(p.Sender)),
		}
		if p.HeadCommit != nil {
			in.headSHA, in.message = p.HeadCommit.ID, p.HeadCommit.Message
		} else {
			for _, c := range p.Commits {
				if c.ID == p.After {
					in.message = c.Message
				}
			}
		}
		if p.Repository != nil {
			in.repoURL = p.Repository.CloneURL
		}
		return in.event(id)
	// Gitea names every pull request change "pull_request" in this header
	// and the finer kind (pull_request_sync, ...) in X-Gitea-Event-Type;
	// the action field is what tells them apart.
	case "pull_request", "pull_request_sync":
		var p gtPullRequest
		if err := decodeJSON(h, body, &p); err != nil {
			return Event{}, err
		}
		action, ok := gtActions[p.Action]
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
			sourceSHA: pr.Head.SHA, targetSHA: pr.Base.SHA,
			title: pr.Title, author: gtLogin(p.Sender),
		}
		m.fetchRef = "refs/pull/" + strconv.Itoa(m.iid) + "/head"
		if p.Repository != nil {
			m.repoURL = p.Repository.CloneURL
		}
		if pr.Head.Repo != nil {
			m.sourceRepoURL = pr.Head.Repo.CloneURL
		}
		return m.event(id)
	}
	// create and delete duplicate what push already says; the rest
	// (issues, releases, wiki, ...) start nothing.
	return Event{}, fmt.Errorf("%w: Gitea event %q", ErrIgnored, name)
}

func gtLogin(u *gtUser) string {
	if u == nil {
		return ""
	}
	return firstNonEmpty(u.Login, u.Username)
}
