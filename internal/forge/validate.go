package forge

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Payloads are signed by the forge but their fields end up in git command
// lines, file names and the UI, so every field that matters is checked or
// clipped here instead of trusting the forge (or whoever learned the
// secret).

// Limits on free text copied into an Event.
const (
	maxMessage = 64 << 10
	maxTitle   = 4 << 10
	maxName    = 255
	maxURL     = 2048
	maxRefName = 1024
)

const (
	headsPrefix = "refs/heads/"
	tagsPrefix  = "refs/tags/"
)

// normSHA accepts a hex object ID of SHA-1 (40) or SHA-256 (64) length and
// returns it in lower case.
func normSHA(field, s string) (string, error) {
	if (len(s) != 40 && len(s) != 64) || strings.Trim(strings.ToLower(s), "0123456789abcdef") != "" {
		return "", fmt.Errorf("%w: %s is not a commit ID", ErrMalformed, field)
	}
	return strings.ToLower(s), nil
}

// optSHA is normSHA for fields a forge may leave out.
func optSHA(field, s string) (string, error) {
	if s == "" {
		return "", nil
	}
	return normSHA(field, s)
}

// isZeroSHA reports the all-zero ID forges send as the "after" of a
// deletion and the "before" of a creation.
func isZeroSHA(s string) bool {
	return s != "" && strings.Trim(s, "0") == ""
}

// validRefName follows git check-ref-format for the short name of a branch
// or tag, and also refuses a leading "-" so the name can never be read as
// an option by git.
func validRefName(name string) bool {
	if name == "" || len(name) > maxRefName || !utf8.ValidString(name) || name == "@" {
		return false
	}
	if name[0] == '-' || name[0] == '/' || strings.HasSuffix(name, "/") || strings.HasSuffix(name, ".") {
		return false
	}
	if strings.Contains(name, "..") || strings.Contains(name, "//") || strings.Contains(name, "@{") {
		return false
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f || strings.ContainsRune(" ~^:?*[\\", r) {
			return false
		}
	}
	for part := range strings.SplitSeq(name, "/") {
		if strings.HasPrefix(part, ".") || strings.HasSuffix(part, ".lock") {
			return false
		}
	}
	return true
}

// branchName checks a branch named by a merge request.
func branchName(field, s string) (string, error) {
	if !validRefName(s) {
		return "", fmt.Errorf("%w: %s is not a valid branch name", ErrMalformed, field)
	}
	return s, nil
}

// cleanURL checks a clone URL enough that handing it to git is safe: no
// whitespace or control characters and no leading "-".
func cleanURL(field, s string) (string, error) {
	if s == "" {
		return "", nil
	}
	if len(s) > maxURL || s[0] == '-' {
		return "", fmt.Errorf("%w: %s is not a usable URL", ErrMalformed, field)
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] == 0x7f {
			return "", fmt.Errorf("%w: %s is not a usable URL", ErrMalformed, field)
		}
	}
	return s, nil
}

// clip shortens s to at most n bytes without splitting a character.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 {
		r, size := utf8.DecodeLastRuneInString(s)
		if r != utf8.RuneError || size != 1 {
			break
		}
		s = s[:len(s)-1]
	}
	return s
}

// cleanName clips a user name and drops control characters, which have no
// business in a name shown in the UI or a log line.
func cleanName(s string) string {
	return clip(strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s), maxName)
}

// firstNonEmpty picks the first usable alternative, as forges spread the
// same fact over several optional fields.
func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// push holds what a push payload says, read from any forge's fields.
type push struct {
	ref, before, after string
	// headSHA is the commit the ref now points at when the forge names it
	// apart from "after" (which for an annotated tag is the tag object).
	headSHA string
	message string
	author  string
	repoURL string
	deleted bool
}

// event validates a push and turns it into an Event. Pushes to refs other
// than branches and tags (notes, pipelines, ...) are ignored.
func (p push) event(deliveryID string) (Event, error) {
	if p.ref == "" {
		return Event{}, fmt.Errorf("%w: push has no ref", ErrMalformed)
	}
	ev := Event{DeliveryID: deliveryID, FullRef: p.ref}
	switch {
	case strings.HasPrefix(p.ref, headsPrefix):
		ev.Type, ev.Ref = EventPush, p.ref[len(headsPrefix):]
	case strings.HasPrefix(p.ref, tagsPrefix):
		ev.Type, ev.Ref = EventTagPush, p.ref[len(tagsPrefix):]
	default:
		return Event{}, fmt.Errorf("%w: push to %q, which is neither a branch nor a tag", ErrIgnored, clip(p.ref, 100))
	}
	if !validRefName(ev.Ref) {
		return Event{}, fmt.Errorf("%w: ref is not a valid branch or tag name", ErrMalformed)
	}
	after, err := normSHA("after", p.after)
	if err != nil {
		return Event{}, err
	}
	if ev.BeforeSHA, err = optSHA("before", p.before); err != nil {
		return Event{}, err
	}
	ev.Deleted = p.deleted || isZeroSHA(after)
	ev.SHA = after
	if !ev.Deleted && p.headSHA != "" {
		if ev.SHA, err = normSHA("head commit id", p.headSHA); err != nil {
			return Event{}, err
		}
	}
	if ev.RepoURL, err = cleanURL("repository URL", p.repoURL); err != nil {
		return Event{}, err
	}
	ev.Message = clip(p.message, maxMessage)
	ev.Author = cleanName(p.author)
	return ev, nil
}

// mr holds what a merge request payload says, read from any forge's fields.
type mr struct {
	iid                          int
	action                       string
	sourceBranch, targetBranch   string
	sourceSHA, targetSHA, before string
	title, message, author       string
	repoURL, sourceRepoURL       string
	fetchRef                     string
}

// event validates a merge request and turns it into an Event.
func (m mr) event(deliveryID string) (Event, error) {
	if m.iid <= 0 {
		return Event{}, fmt.Errorf("%w: merge request has no number", ErrMalformed)
	}
	src, err := branchName("source branch", m.sourceBranch)
	if err != nil {
		return Event{}, err
	}
	dst, err := branchName("target branch", m.targetBranch)
	if err != nil {
		return Event{}, err
	}
	sha, err := normSHA("source commit id", m.sourceSHA)
	if err != nil {
		return Event{}, err
	}
	target, err := optSHA("target commit id", m.targetSHA)
	if err != nil {
		return Event{}, err
	}
	before, err := optSHA("previous source commit id", m.before)
	if err != nil {
		return Event{}, err
	}
	repoURL, err := cleanURL("repository URL", m.repoURL)
	if err != nil {
		return Event{}, err
	}
	srcURL, err := cleanURL("source repository URL", m.sourceRepoURL)
	if err != nil {
		return Event{}, err
	}
	return Event{
		Type:       EventMergeRequest,
		DeliveryID: deliveryID,
		Ref:        src,
		FullRef:    headsPrefix + src,
		SHA:        sha,
		BeforeSHA:  before,
		Message:    clip(m.message, maxMessage),
		Author:     cleanName(m.author),
		RepoURL:    repoURL,
		MR: &MergeRequest{
			IID:           m.iid,
			SourceBranch:  src,
			TargetBranch:  dst,
			SourceSHA:     sha,
			TargetSHA:     target,
			Title:         clip(m.title, maxTitle),
			Action:        m.action,
			SourceRepoURL: srcURL,
			FetchRef:      m.fetchRef,
		},
	}, nil
}
