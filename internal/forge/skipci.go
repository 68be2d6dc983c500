package forge

import (
	"regexp"
	"strings"
)

// skipPattern matches the markers that skip a pipeline: GitLab's own
// pattern ([skip ci], [ci skip], also with "-" or "_") plus GitHub's
// [no ci], [skip actions] and [actions skip]. Gantry accepts all of them
// because a repository may move between forges.
var skipPattern = regexp.MustCompile(`(?i)\[(ci[ _-]skip|skip[ _-]ci|no ci|skip actions|actions skip)\]`)

// SkipCI reports whether a commit message asks for no pipeline: one of the
// bracketed markers anywhere (any case), or GitHub's "skip-checks: true"
// trailer as the message's last line.
func SkipCI(message string) bool {
	if skipPattern.MatchString(message) {
		return true
	}
	// GitHub wants the trailer last; blank lines after it are cut by git
	// anyway, so they are forgiven here.
	msg := strings.TrimRight(message, " \t\r\n")
	last := msg[strings.LastIndexByte(msg, '\n')+1:]
	key, value, ok := strings.Cut(strings.TrimSpace(last), ":")
	return ok && strings.EqualFold(key, "skip-checks") && strings.EqualFold(strings.TrimLeft(value, " "), "true")
}
